package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files named on the command line are checked before they are read, and bad ones say why in words. */
class InputFilesTest {
    @TempDir
    Path dir;

    private String why(Path file, long limit) {
        return assertThrows(InputFiles.BadInputException.class, () -> InputFiles.bytes(file, limit)).getMessage();
    }

    @Test
    void aRegularFileWithinTheLimitIsRead() throws Exception {
        Path f = Files.write(dir.resolve("g.bin"), new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, InputFiles.bytes(f, 3));
    }

    @Test
    void devicesDirectoriesAndMissingFilesAreRefusedBeforeAnyRead() {
        assertEquals("not a regular file", why(Path.of("/dev/zero"), InputFiles.MAX_GUEST_FILE));
        assertEquals("is a directory", why(dir, InputFiles.MAX_GUEST_FILE));
        assertEquals("no such file", why(dir.resolve("missing"), InputFiles.MAX_GUEST_FILE));
    }

    @Test
    void aFileOverTheLimitIsRefusedBeforeItIsRead() throws Exception {
        Path big = dir.resolve("big.img");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(InputFiles.MAX_GUEST_FILE + 1);   // sparse: nothing is written
        }
        assertEquals("is 1073741825 bytes; at most 1073741824 are accepted", why(big, InputFiles.MAX_GUEST_FILE));
    }

    @Test
    void scriptsMustBeUtf8Text() throws Exception {
        Path text = Files.writeString(dir.resolve("s.pvs"), "read GITS_CTLR 4 # ok, ü\n");
        assertEquals("read GITS_CTLR 4 # ok, ü\n", InputFiles.text(text, InputFiles.MAX_SCRIPT));
        Path binary = Files.write(dir.resolve("b.pvs"), new byte[] {'r', (byte) 0xff, (byte) 0xfe, 0});
        assertEquals("not a text file (byte 1 is not UTF-8)", whyText(binary));
        Path zeros = Files.write(dir.resolve("z.pvs"), new byte[] {'#', ' ', 0, 0});   // valid UTF-8, still not text
        assertEquals("not a text file (byte 2 is NUL)", whyText(zeros));
        Path latin1 = Files.write(dir.resolve("l.pvs"), new byte[] {'r', 'e', 'a', 'd', ' ', (byte) 0xfc, '\n'});
        assertEquals("not a text file (byte 5 is not UTF-8)", whyText(latin1));
        Path cut = Files.write(dir.resolve("c.pvs"), new byte[] {'#', ' ', (byte) 0xc3});   // a 2-byte sequence cut short
        assertEquals("not a text file (byte 2 is not UTF-8)", whyText(cut));
    }

    private static String whyText(Path file) {
        return assertThrows(InputFiles.BadInputException.class, () -> InputFiles.text(file, InputFiles.MAX_SCRIPT))
                .getMessage();
    }
}
