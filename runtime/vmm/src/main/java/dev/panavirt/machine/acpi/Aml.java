package dev.panavirt.machine.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Encodes the few ACPI Machine Language terms a DSDT of device declarations needs (ACPI 6.5, chapter 20
 * "ACPI Machine Language Specification", and section 6.4 "Resource Data Types for ACPI"). Each method returns
 * the bytes of one complete term; a term that holds others ({@link #scope}, {@link #device}) takes them already
 * encoded. Nothing here evaluates AML: the kernel's interpreter does.
 */
final class Aml {
    private Aml() {}

    // Opcodes, ACPI 6.5 section 20.3 "AML Byte Stream Byte Values".
    static final int ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0a, WORD_PREFIX = 0x0b,
            DWORD_PREFIX = 0x0c, STRING_PREFIX = 0x0d, QWORD_PREFIX = 0x0e, SCOPE_OP = 0x10, BUFFER_OP = 0x11,
            DUAL_NAME_PREFIX = 0x2e, MULTI_NAME_PREFIX = 0x2f, EXT_OP_PREFIX = 0x5b, DEVICE_OP = 0x82,
            ROOT_CHAR = 0x5c, ONES_OP = 0xff;

    // Resource descriptor tags, ACPI 6.5 section 6.4.
    static final int IO_PORT = 0x47, END_TAG = 0x79, MEMORY32_FIXED = 0x86, EXTENDED_INTERRUPT = 0x89;

    /** The largest package a 4-byte PkgLength can state: 28 bits. */
    static final int MAX_PACKAGE = (1 << 28) - 1;

    /**
     * {@code Scope(path) { terms }}: opens an existing namespace node, such as {@code \_SB_}, to add objects to it.
     */
    static byte[] scope(String path, byte[]... terms) {
        return withPackage(new byte[] {SCOPE_OP}, concat(nameString(path), concat(terms)));
    }

    /** {@code Device(name) { terms }}: a device object, named by one NameSeg or a path. */
    static byte[] device(String name, byte[]... terms) {
        return withPackage(new byte[] {EXT_OP_PREFIX, (byte) DEVICE_OP}, concat(nameString(name), concat(terms)));
    }

    /** {@code Name(name, object)}: a named data object; {@code object} is an encoded data term. */
    static byte[] name(String name, byte[] object) {
        return concat(new byte[] {NAME_OP}, nameString(name), object);
    }

    /**
     * An ASCII string constant: StringPrefix, the characters, a NUL. AML strings hold the characters 0x01-0x7f
     * (section 20.2.3, AsciiChar).
     */
    static byte[] string(String s) {
        byte[] chars = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == 0 || c > 0x7f) {
                throw new IllegalArgumentException("AML strings hold ASCII characters 0x01-0x7f: " + s);
            }
        }
        byte[] out = new byte[chars.length + 2];
        out[0] = STRING_PREFIX;
        System.arraycopy(chars, 0, out, 1, chars.length);
        return out;
    }

    /**
     * An integer constant in the shortest encoding: ZeroOp, OneOp, OnesOp (all bits set, 64-bit tables), or a
     * Byte/Word/DWord/QWord prefix and the little-endian value. The value is taken as unsigned.
     */
    static byte[] integer(long value) {
        if (value == 0) {
            return new byte[] {ZERO_OP};
        }
        if (value == 1) {
            return new byte[] {ONE_OP};
        }
        if (value == -1) {
            return new byte[] {(byte) ONES_OP};
        }
        int width = Long.compareUnsigned(value, 0xff) <= 0 ? 1
                : Long.compareUnsigned(value, 0xffff) <= 0 ? 2
                : Long.compareUnsigned(value, 0xffff_ffffL) <= 0 ? 4 : 8;
        int prefix = switch (width) {
            case 1 -> BYTE_PREFIX;
            case 2 -> WORD_PREFIX;
            case 4 -> DWORD_PREFIX;
            default -> QWORD_PREFIX;
        };
        byte[] out = new byte[1 + width];
        out[0] = (byte) prefix;
        putLittleEndian(out, 1, value, width);
        return out;
    }

    /**
     * {@code EisaId("PNP0501")}: a 7-character PNP id compressed into a 32-bit integer (section 19.6.35): three
     * capitals as 5-bit codes (A = 1), then four hex digits, stored in that order from the lowest byte up.
     */
    static byte[] eisaId(String id) {
        if (!id.matches("[A-Z]{3}[0-9A-F]{4}")) {
            throw new IllegalArgumentException("not an EISA id (three capitals, four hex digits): " + id);
        }
        int c1 = id.charAt(0) - 0x40, c2 = id.charAt(1) - 0x40, c3 = id.charAt(2) - 0x40;
        int product = Integer.parseInt(id.substring(3), 16);
        long value = (c1 << 2 | c2 >>> 3)
                | (long) ((c2 & 7) << 5 | c3) << 8
                | (long) (product >>> 8) << 16
                | (long) (product & 0xff) << 24;
        byte[] out = new byte[5];
        out[0] = DWORD_PREFIX;
        putLittleEndian(out, 1, value, 4);
        return out;
    }

    /** {@code Buffer() { bytes }}: BufferOp, PkgLength, the size as an integer term, the bytes. */
    static byte[] buffer(byte[] bytes) {
        return withPackage(new byte[] {BUFFER_OP}, concat(integer(bytes.length), bytes));
    }

    /**
     * {@code ResourceTemplate() { descriptors }}: a buffer of resource descriptors closed by the End Tag
     * (section 6.4.2.9), whose checksum byte makes the descriptors and the tag sum to zero.
     */
    static byte[] resourceTemplate(byte[]... descriptors) {
        byte[] body = concat(descriptors);
        byte[] out = new byte[body.length + 2];
        System.arraycopy(body, 0, out, 0, body.length);
        out[body.length] = END_TAG;
        out[body.length + 1] = (byte) -sum(out, 0, body.length + 1);
        return buffer(out);
    }

    /**
     * {@code IO(Decode16, port, port, 1, length)}: the I/O Port Descriptor (section 6.4.2.5), a small resource of
     * 7 data bytes, for a fixed range of ports that decodes all 16 address bits.
     */
    static byte[] ioPort(int port, int length) {
        if (port < 0 || port > 0xffff || length < 1 || length > 0xff) {
            throw new IllegalArgumentException("I/O range 0x" + Integer.toHexString(port) + "+" + length);
        }
        byte[] out = new byte[8];
        out[0] = IO_PORT;
        out[1] = 1;                      // decodes 16 bits
        putLittleEndian(out, 2, port, 2);
        putLittleEndian(out, 4, port, 2);
        out[6] = 1;                      // alignment
        out[7] = (byte) length;
        return out;
    }

    /**
     * {@code Memory32Fixed(ReadWrite|ReadOnly, base, length)}: the 32-Bit Fixed Memory Range Descriptor
     * (section 6.4.3.4), a large resource of 9 data bytes.
     */
    static byte[] memory32Fixed(boolean writable, long base, long length) {
        requireU32(base, "base");
        requireU32(length, "length");
        byte[] out = new byte[12];
        out[0] = (byte) MEMORY32_FIXED;
        putLittleEndian(out, 1, 9, 2);
        out[3] = (byte) (writable ? 1 : 0);
        putLittleEndian(out, 4, base, 4);
        putLittleEndian(out, 8, length, 4);
        return out;
    }

    /**
     * {@code Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }}: the Extended Interrupt Descriptor
     * (section 6.4.3.6) for one global system interrupt. Flag bits: 0 consumer, 1 edge-triggered, 2 active-low,
     * 3 shared, 4 wake capable; this one is a consumer, edge, active-high, exclusive, not wake capable.
     */
    static byte[] edgeInterrupt(int gsi) {
        if (gsi < 0) {
            throw new IllegalArgumentException("interrupt number " + Integer.toUnsignedString(gsi) + " out of range");
        }
        byte[] out = new byte[9];
        out[0] = (byte) EXTENDED_INTERRUPT;
        putLittleEndian(out, 1, 6, 2);
        out[3] = 0b0011;
        out[4] = 1;
        putLittleEndian(out, 5, gsi, 4);
        return out;
    }

    /**
     * A NameString (section 20.2.2): an optional root prefix {@code \}, then one NameSeg, two (DualNamePrefix) or
     * more (MultiNamePrefix and a count), written with dots between segments ({@code \_SB_.VR00}). A segment is 1-4
     * characters, a capital letter or underscore first, then capitals, digits or underscores; shorter segments
     * are padded with underscores, as ASL does.
     */
    static byte[] nameString(String path) {
        boolean root = path.startsWith("\\");
        String rest = root ? path.substring(1) : path;
        String[] segs = rest.split("\\.", -1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (root) {
            out.write(ROOT_CHAR);
        }
        if (segs.length == 2) {
            out.write(DUAL_NAME_PREFIX);
        } else if (segs.length > 2) {
            if (segs.length > 255) {
                throw new IllegalArgumentException("AML name path of more than 255 segments: " + path);
            }
            out.write(MULTI_NAME_PREFIX);
            out.write(segs.length);
        }
        for (String seg : segs) {
            out.writeBytes(nameSeg(seg, path));
        }
        return out.toByteArray();
    }

    private static byte[] nameSeg(String seg, String path) {
        if (seg.isEmpty() || seg.length() > 4) {
            throw new IllegalArgumentException("AML name segments have 1-4 characters: '" + seg + "' in " + path);
        }
        byte[] out = {'_', '_', '_', '_'};
        for (int i = 0; i < seg.length(); i++) {
            char c = seg.charAt(i);
            boolean lead = (c >= 'A' && c <= 'Z') || c == '_';
            if (!(lead || (i > 0 && c >= '0' && c <= '9'))) {
                throw new IllegalArgumentException("not an AML name segment: '" + seg + "' in " + path);
            }
            out[i] = (byte) c;
        }
        return out;
    }

    /**
     * The PkgLength encoding (section 20.2.4) of a package whose contents after the PkgLength are
     * {@code contentLength} bytes. The encoded length counts the PkgLength bytes too, so the number of bytes is the
     * fewest that can state {@code contentLength} plus themselves: one byte holds 0-63 in bits 5-0; two to four
     * bytes hold the count of following bytes in bits 7-6 of the first, the low nibble in its bits 3-0 and the
     * remaining bits, 8 at a time, in the following bytes (at most 2^12-1, 2^20-1, 2^28-1).
     */
    static byte[] pkgLength(int contentLength) {
        if (contentLength < 0 || contentLength > MAX_PACKAGE - 4) {
            throw new IllegalArgumentException("AML package of " + contentLength + " bytes does not fit a PkgLength");
        }
        if (contentLength + 1 <= 0x3f) {
            return new byte[] {(byte) (contentLength + 1)};
        }
        for (int n = 2; n <= 4; n++) {
            int total = contentLength + n;
            if (total < 1 << (4 + 8 * (n - 1))) {
                byte[] out = new byte[n];
                out[0] = (byte) (((n - 1) << 6) | (total & 0xf));
                for (int i = 1; i < n; i++) {
                    out[i] = (byte) (total >>> (4 + 8 * (i - 1)));
                }
                return out;
            }
        }
        throw new AssertionError(contentLength);
    }

    private static byte[] withPackage(byte[] opcode, byte[] contents) {
        return concat(opcode, pkgLength(contents.length), contents);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static int sum(byte[] bytes, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += bytes[i];
        }
        return s & 0xff;
    }

    private static void putLittleEndian(byte[] out, int at, long value, int width) {
        for (int i = 0; i < width; i++) {
            out[at + i] = (byte) (value >>> (8 * i));
        }
    }

    private static void requireU32(long value, String what) {
        if (value < 0 || value > 0xffff_ffffL) {
            throw new IllegalArgumentException(what + " 0x" + Long.toHexString(value) + " does not fit 32 bits");
        }
    }
}
