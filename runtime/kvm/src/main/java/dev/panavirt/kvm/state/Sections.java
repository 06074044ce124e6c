package dev.panavirt.kvm.state;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The framing every state record shares (little-endian):
 *
 * <pre>
 *   0  8 bytes  magic (ASCII, names the record kind)
 *   8  u16      version
 *  10  u16      flags, 0
 *  12  u32      section count
 *  16  sections, each: u32 tag (four ASCII characters), u32 length, length bytes
 * </pre>
 *
 * The input must end with the last section. A reader checks each length against what is left before it reads.
 */
final class Sections {
    /** More sections than any record has: a count above it is refused before anything is read. */
    static final int MAX_SECTIONS = 64;
    static final int HEADER = 16;

    private Sections() {
    }

    static int tag(String fourChars) {
        byte[] b = fourChars.getBytes(StandardCharsets.US_ASCII);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }

    static String tagName(int tag) {
        StringBuilder sb = new StringBuilder(4);
        for (int i = 0; i < 4; i++) {
            int c = (tag >>> (8 * i)) & 0xff;
            sb.append(c >= 0x20 && c < 0x7f ? (char) c : '?');
        }
        return sb.toString();
    }

    /** Collects sections in order and writes the record. */
    static final class Writer {
        private final Map<Integer, byte[]> sections = new LinkedHashMap<>();

        Writer put(int tag, byte[] bytes) {
            sections.put(tag, bytes);
            return this;
        }

        Writer put(int tag, MemorySegment struct) {
            return struct == null ? this : put(tag, struct.toArray(ValueLayout.JAVA_BYTE));
        }

        Writer putLong(int tag, long value) {
            return put(tag, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
        }

        Writer putInt(int tag, int value) {
            return put(tag, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
        }

        byte[] finish(byte[] magic, int version) {
            int size = HEADER;
            for (byte[] b : sections.values()) {
                size = Math.addExact(size, 8 + b.length);
            }
            ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
            out.put(magic).putShort((short) version).putShort((short) 0).putInt(sections.size());
            sections.forEach((tag, b) -> out.putInt(tag).putInt(b.length).put(b));
            return out.array();
        }
    }

    /**
     * Reads a whole record: checks the magic, version and framing, and returns the sections by tag. Every tag must
     * be one of {@code known} and appear once.
     */
    static Map<Integer, byte[]> read(byte[] input, byte[] magic, int version, String what, int... known) {
        if (input.length < HEADER) {
            throw new StateFormatException(what + ": " + input.length + " bytes, shorter than the "
                    + HEADER + "-byte header");
        }
        ByteBuffer in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
        byte[] m = new byte[magic.length];
        in.get(m);
        if (!java.util.Arrays.equals(m, magic)) {
            throw new StateFormatException(what + ": wrong magic " + printable(m) + ", expected " + printable(magic));
        }
        int v = Short.toUnsignedInt(in.getShort());
        if (v != version) {
            throw new StateFormatException(what + ": version " + v + " is not supported (this panavirt reads version "
                    + version + ")");
        }
        int flags = Short.toUnsignedInt(in.getShort());
        if (flags != 0) {
            throw new StateFormatException(what + ": flags 0x" + Integer.toHexString(flags) + ", expected 0");
        }
        long count = Integer.toUnsignedLong(in.getInt());
        if (count > MAX_SECTIONS) {
            throw new StateFormatException(what + ": " + count + " sections, at most " + MAX_SECTIONS);
        }
        Map<Integer, byte[]> out = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            if (in.remaining() < 8) {
                throw new StateFormatException(what + ": truncated at section " + i + " of " + count
                        + " (offset " + in.position() + ")");
            }
            int tag = in.getInt();
            long length = Integer.toUnsignedLong(in.getInt());
            if (!isKnown(tag, known)) {
                throw new StateFormatException(what + ": unknown section '" + tagName(tag) + "' (0x"
                        + Integer.toHexString(tag) + ") at offset " + (in.position() - 8));
            }
            if (length > in.remaining()) {
                throw new StateFormatException(what + ": section '" + tagName(tag) + "' claims " + length
                        + " bytes, " + in.remaining() + " are left");
            }
            byte[] b = new byte[(int) length];
            in.get(b);
            if (out.put(tag, b) != null) {
                throw new StateFormatException(what + ": section '" + tagName(tag) + "' appears twice");
            }
        }
        if (in.hasRemaining()) {
            throw new StateFormatException(what + ": " + in.remaining() + " bytes after the last section");
        }
        return out;
    }

    private static boolean isKnown(int tag, int[] known) {
        for (int k : known) {
            if (k == tag) {
                return true;
            }
        }
        return false;
    }

    private static String printable(byte[] b) {
        StringBuilder sb = new StringBuilder("\"");
        for (byte x : b) {
            sb.append(x >= 0x20 && x < 0x7f ? (char) x : '.');
        }
        return sb.append('"').toString();
    }

    /** A section that must be there, of exactly {@code size} bytes. */
    static byte[] exact(Map<Integer, byte[]> s, int tag, long size, String what) {
        byte[] b = s.get(tag);
        if (b == null) {
            throw new StateFormatException(what + ": section '" + tagName(tag) + "' is missing");
        }
        return checkSize(b, tag, size, what);
    }

    /** A section that may be absent (null), else of exactly {@code size} bytes. */
    static byte[] optional(Map<Integer, byte[]> s, int tag, long size, String what) {
        byte[] b = s.get(tag);
        return b == null ? null : checkSize(b, tag, size, what);
    }

    private static byte[] checkSize(byte[] b, int tag, long size, String what) {
        if (b.length != size) {
            throw new StateFormatException(what + ": section '" + tagName(tag) + "' has " + b.length
                    + " bytes, expected " + size);
        }
        return b;
    }

    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
