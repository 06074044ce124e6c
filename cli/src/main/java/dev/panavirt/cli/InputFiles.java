package dev.panavirt.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads the files named on the command line (guests, kernels, initrds, session scripts) with their
 * checks first: a regular file (not /dev/zero, a FIFO or a directory, which would be read forever or
 * not at all), no larger than a limit, and for scripts UTF-8 text. Problems come back as one-line
 * reasons, never as an OutOfMemoryError or a decoder's "Input length = 1".
 */
final class InputFiles {
    /** Guest images, kernels and initrds: at most 1 GiB (guest RAM is at most 3 GiB, Java arrays 2 GiB). */
    static final long MAX_GUEST_FILE = 1L << 30;
    /** Session scripts: at most 16 MiB of text. */
    static final long MAX_SCRIPT = 16L << 20;

    private InputFiles() {}

    /** A file that cannot be used, with the reason in words. */
    static final class BadInputException extends Exception {
        private static final long serialVersionUID = 1L;

        BadInputException(String reason) {
            super(reason);
        }
    }

    /** The bytes of {@code file}, which must be a regular file of at most {@code limit} bytes. */
    static byte[] bytes(Path file, long limit) throws BadInputException {
        try {
            if (!Files.exists(file)) {
                throw new BadInputException("no such file");
            }
            if (!Files.isRegularFile(file)) {
                throw new BadInputException(Files.isDirectory(file) ? "is a directory" : "not a regular file");
            }
            long size = Files.size(file);
            if (size > limit) {
                throw new BadInputException("is " + size + " bytes; at most " + limit + " are accepted");
            }
            byte[] data = Files.readAllBytes(file);
            if (data.length > limit) {
                throw new BadInputException("grew past " + limit + " bytes while being read");
            }
            return data;
        } catch (NoSuchFileException e) {
            throw new BadInputException("no such file");
        } catch (AccessDeniedException e) {
            throw new BadInputException("permission denied");
        } catch (IOException e) {
            throw new BadInputException(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        }
    }

    /**
     * The text of {@code file}: a regular file of at most {@code limit} bytes of UTF-8 without NUL bytes. A
     * binary file is named by its first offending byte, counted from 0 as {@code od} and {@code hexdump} count.
     */
    static String text(Path file, long limit) throws BadInputException {
        byte[] data = bytes(file, limit);
        int nul = 0;
        while (nul < data.length && data[nul] != 0) {
            nul++;
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(data, 0, nul);
        CharBuffer out = CharBuffer.allocate(nul);   // UTF-8 never decodes to more chars than bytes
        if (decoder.decode(in, out, true).isError() || decoder.flush(out).isError()) {
            throw new BadInputException("not a text file (byte " + in.position() + " is not UTF-8)");
        }
        if (nul < data.length) {
            throw new BadInputException("not a text file (byte " + nul + " is NUL)");
        }
        return out.flip().toString();
    }
}
