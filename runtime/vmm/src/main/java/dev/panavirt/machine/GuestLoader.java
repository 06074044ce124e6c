package dev.panavirt.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads guest programs: flat binaries, and x86 ELF executables (32- or 64-bit) whose {@code PT_LOAD}
 * segments are placed at their physical addresses. Every header field is checked against the file
 * size, so a malformed file gives {@link GuestFormatException}, never an out-of-bounds access; the loadable
 * segments together copy at most the file's length, so a file cannot make the loader allocate more than it.
 */
public final class GuestLoader {
    private GuestLoader() {}

    private static final int PT_LOAD = 1;
    private static final int EM_386 = 3, EM_X86_64 = 62;

    /** A segment to copy into guest memory: {@code fileBytes} at {@code physAddr}, zero-filled to {@code memSize}. */
    public record Segment(long physAddr, byte[] fileBytes, long memSize) {}

    /** A loaded ELF: its segments, entry point, and whether it is 64-bit code. */
    public record Elf(List<Segment> segments, long entry, boolean is64) {
        /** Lowest physical address any segment occupies. */
        public long lowest() {
            return segments.stream().mapToLong(Segment::physAddr).min().orElse(0);
        }

        /** One past the highest byte any segment occupies. */
        public long highest() {
            return segments.stream().mapToLong(s -> s.physAddr() + s.memSize()).max().orElse(0);
        }
    }

    /** The file is not a guest we can load; the message says why. */
    public static final class GuestFormatException extends Exception {
        private static final long serialVersionUID = 1L;

        public GuestFormatException(String message) {
            super(message);
        }
    }

    /** Whether {@code bytes} starts with the ELF magic. */
    public static boolean isElf(byte[] bytes) {
        return bytes.length >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F';
    }

    /** A flat binary loaded and entered at {@code loadAddress}. */
    public static GuestImage flat(byte[] bytes, long loadAddress) throws GuestFormatException {
        if (bytes.length == 0) {
            throw new GuestFormatException("the guest file is empty");
        }
        return new GuestImage(bytes, loadAddress, loadAddress);
    }

    /** Parses an x86 ELF executable. */
    public static Elf elf(byte[] bytes) throws GuestFormatException {
        if (!isElf(bytes) || bytes.length < 6) {
            throw new GuestFormatException("not an ELF file");
        }
        int cls = bytes[4];
        if (bytes[5] != 1) {
            throw new GuestFormatException("ELF is not little-endian");
        }
        boolean is64 = switch (cls) {
            case 1 -> false;
            case 2 -> true;
            default -> throw new GuestFormatException("unknown ELF class " + cls);
        };
        int headerSize = is64 ? 64 : 52;
        if (bytes.length < headerSize) {
            throw new GuestFormatException("ELF header cut short: " + bytes.length + " of " + headerSize + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int machine = Short.toUnsignedInt(b.getShort(18));
        if (machine != (is64 ? EM_X86_64 : EM_386)) {
            throw new GuestFormatException("ELF machine " + machine + " is not x86" + (is64 ? "-64" : ""));
        }
        long entry = is64 ? b.getLong(24) : Integer.toUnsignedLong(b.getInt(24));
        long phoff = is64 ? b.getLong(32) : Integer.toUnsignedLong(b.getInt(28));
        int phentsize = Short.toUnsignedInt(b.getShort(is64 ? 54 : 42));
        int phnum = Short.toUnsignedInt(b.getShort(is64 ? 56 : 44));
        int minEntry = is64 ? 56 : 32;
        // Compared as "fits in what is left after the offset", never as offset + size, which overflows
        // for a 64-bit offset near 2^63.
        if (phnum == 0 || phentsize < minEntry || phoff < 0 || phoff > bytes.length
                || (long) phnum * phentsize > bytes.length - phoff) {
            throw new GuestFormatException("ELF program headers lie outside the file");
        }
        List<Segment> segments = new ArrayList<>();
        long copied = 0;
        for (int i = 0; i < phnum; i++) {
            int at = (int) (phoff + (long) i * phentsize);
            if (b.getInt(at) != PT_LOAD) {
                continue;
            }
            long offset, paddr, filesz, memsz;
            if (is64) {
                offset = b.getLong(at + 8);
                paddr = b.getLong(at + 24);
                filesz = b.getLong(at + 32);
                memsz = b.getLong(at + 40);
            } else {
                offset = Integer.toUnsignedLong(b.getInt(at + 4));
                paddr = Integer.toUnsignedLong(b.getInt(at + 12));
                filesz = Integer.toUnsignedLong(b.getInt(at + 16));
                memsz = Integer.toUnsignedLong(b.getInt(at + 20));
            }
            if (offset < 0 || filesz < 0 || offset > bytes.length || filesz > bytes.length - offset
                    || filesz > memsz || memsz > 1L << 32
                    || paddr < 0 || paddr + memsz < paddr) {
                throw new GuestFormatException("ELF segment " + i + " is malformed (offset " + offset + ", file size "
                        + filesz + ", memory size " + memsz + ")");
            }
            // Segments of a linked executable cover disjoint parts of its file; without this bound,
            // 65535 headers naming the whole file would make a 1 MiB file allocate 64 GiB.
            copied += filesz;
            if (copied > bytes.length) {
                throw new GuestFormatException("ELF segments hold more file bytes (" + copied + " by segment " + i
                        + ") than the file has (" + bytes.length + "): their file ranges overlap");
            }
            byte[] data = new byte[(int) filesz];
            System.arraycopy(bytes, (int) offset, data, 0, data.length);
            segments.add(new Segment(paddr, data, memsz));
        }
        if (segments.isEmpty()) {
            throw new GuestFormatException("ELF has no loadable segment");
        }
        return new Elf(List.copyOf(segments), entry, is64);
    }
}
