package dev.panavirt.machine;

import dev.panavirt.machine.GuestLoader.GuestFormatException;
import dev.panavirt.machine.GuestLoader.Segment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Multiboot (version 1) kernels: finding the header and working out which bytes go where.
 *
 * <p>A kernel file carries a header (magic {@link #HEADER_MAGIC}, flags, checksum) 4-byte aligned within
 * its first {@value #SEARCH_LIMIT} bytes. Without {@link #FLAG_ADDRESS} in its flags the file must be an ELF32
 * executable for i386, whose {@code PT_LOAD} segments are placed at their physical addresses and entered at
 * {@code e_entry} (translated from virtual to physical when a segment's addresses differ, as GRUB and QEMU do).
 * With {@link #FLAG_ADDRESS} the header's own address fields say where the file is loaded (the "a.out kludge"),
 * which also works for flat binaries. A 64-bit ELF is refused with a hint: boot loaders enter in 32-bit mode, and
 * 64-bit test kernels are shipped converted with {@code objcopy -O elf32-i386}.
 *
 * <p>Every offset and length is checked against the file, so a malformed kernel gives
 * {@link GuestFormatException} with the reason, never an out-of-bounds access.
 */
public final class Multiboot {
    private Multiboot() {}

    /** The magic that starts a multiboot header. */
    public static final int HEADER_MAGIC = 0x1BADB002;
    /** The value EAX holds when a multiboot loader enters the kernel. */
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;
    /** The header must lie wholly within this many bytes from the start of the file. */
    public static final int SEARCH_LIMIT = 8192;

    /** Header flag: align modules on 4 KiB pages (always done here). */
    public static final int FLAG_PAGE_ALIGN = 1;
    /** Header flag: the kernel wants {@code mem_lower}/{@code mem_upper} and the memory map (always given). */
    public static final int FLAG_MEMORY_INFO = 1 << 1;
    /** Header flag: the kernel wants a video mode; none is set up and the info says so by omission. */
    public static final int FLAG_VIDEO_MODE = 1 << 2;
    /** Header flag: the address fields of the header are valid and say where to load the file. */
    public static final int FLAG_ADDRESS = 1 << 16;
    /** The requirement bits (0-15) this loader understands; a kernel asking for any other fails to load. */
    public static final int KNOWN_REQUIREMENTS = FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE;

    private static final int PT_LOAD = 1;

    /**
     * A multiboot header as found in a file.
     *
     * @param offset     file offset of the magic
     * @param flags      the header's flags
     * @param headerAddr with {@link #FLAG_ADDRESS}: physical address of the magic (else 0, as are the other fields)
     * @param loadAddr   physical address of the first byte to load
     * @param loadEndAddr physical address where the loaded bytes end; 0 means "to the end of the file"
     * @param bssEndAddr physical address where the zero-filled area after the loaded bytes ends; 0 means none
     * @param entryAddr  physical entry point
     */
    public record Header(int offset, int flags, long headerAddr, long loadAddr, long loadEndAddr, long bssEndAddr,
            long entryAddr) {
        /** Whether the address fields are valid. */
        public boolean hasAddressFields() {
            return (flags & FLAG_ADDRESS) != 0;
        }
    }

    /**
     * A kernel ready to be copied into guest memory.
     *
     * @param header   its multiboot header
     * @param segments what to copy where (physical addresses), each zero-filled to its memory size
     * @param entry    physical address to start at
     * @param elf      whether the segments came from ELF program headers (else from the header's address fields)
     */
    public record Kernel(Header header, List<Segment> segments, long entry, boolean elf) {
        public Kernel {
            segments = List.copyOf(segments);
        }

        /** Lowest physical address the kernel occupies. */
        public long lowest() {
            return segments.stream().mapToLong(Segment::physAddr).min().orElse(0);
        }

        /** One past the highest physical address the kernel occupies (including zero-filled memory). */
        public long highest() {
            return segments.stream().mapToLong(s -> s.physAddr() + s.memSize()).max().orElse(0);
        }

        /** Whether any segment overlaps {@code [addr, addr + length)}. */
        public boolean overlaps(long addr, long length) {
            for (Segment s : segments) {
                if (s.memSize() > 0 && addr < s.physAddr() + s.memSize() && s.physAddr() < addr + length) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * A boot module: bytes the loader places in memory for the kernel, with a command line of their own.
     *
     * @param bytes   the contents
     * @param cmdline the module's string (QEMU gives the file name it was read from)
     */
    public record Module(byte[] bytes, String cmdline) {
        public Module {
            Objects.requireNonNull(bytes, "bytes");
            Objects.requireNonNull(cmdline, "cmdline");
        }
    }

    /** Finds the first valid multiboot header (magic, then a checksum making the three words sum to 0). */
    public static Optional<Header> findHeader(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int limit = Math.min(file.length, SEARCH_LIMIT);
        for (int off = 0; off + 12 <= limit; off += 4) {
            if (b.getInt(off) != HEADER_MAGIC) {
                continue;
            }
            int flags = b.getInt(off + 4);
            if (HEADER_MAGIC + flags + b.getInt(off + 8) != 0) {
                continue;
            }
            if ((flags & FLAG_ADDRESS) == 0) {
                return Optional.of(new Header(off, flags, 0, 0, 0, 0, 0));
            }
            if (off + 32 > file.length) {
                continue;   // the address fields would run past the end of the file: not a usable header
            }
            return Optional.of(new Header(off, flags, u32(b, off + 12), u32(b, off + 16), u32(b, off + 20),
                    u32(b, off + 24), u32(b, off + 28)));
        }
        return Optional.empty();
    }

    /** Whether {@code file} carries a multiboot header. */
    public static boolean isMultiboot(byte[] file) {
        return findHeader(file).isPresent();
    }

    /**
     * Parses a multiboot kernel file.
     *
     * @throws GuestFormatException when there is no header, it asks for something unsupported, or the file is not
     *     loadable as the header says
     */
    public static Kernel parse(byte[] file) throws GuestFormatException {
        Header h = findHeader(file).orElseThrow(() -> new GuestFormatException("no multiboot header (magic 0x"
                + Integer.toHexString(HEADER_MAGIC) + " with a valid checksum) in the first " + SEARCH_LIMIT
                + " bytes"));
        int unknown = h.flags() & 0xffff & ~KNOWN_REQUIREMENTS;
        if (unknown != 0) {
            throw new GuestFormatException("the multiboot header requires features this loader does not know "
                    + "(flags 0x" + Integer.toHexString(unknown) + ")");
        }
        return h.hasAddressFields() ? fromAddressFields(file, h) : fromElf(file, h);
    }

    private static Kernel fromElf(byte[] file, Header h) throws GuestFormatException {
        if (!GuestLoader.isElf(file)) {
            throw new GuestFormatException("the multiboot header has no address fields (flag 16), so the kernel "
                    + "must be an ELF file, and it is not");
        }
        if (file.length > 4 && file[4] == 2) {
            throw new GuestFormatException("a 64-bit ELF cannot be booted through multiboot, which enters in 32-bit "
                    + "mode; convert it with objcopy -O elf32-i386 (as kvm-unit-tests does for its .flat files)");
        }
        GuestLoader.Elf elf = GuestLoader.elf(file);   // checks the class, i386 and every bound
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        return new Kernel(h, elf.segments(), physicalEntry(b, elf.entry()), true);
    }

    /**
     * The physical address of the ELF entry point: when it lies inside a loadable segment's virtual range and
     * that segment's virtual and physical addresses differ, it is moved by the same amount. GuestLoader has
     * already checked that the program headers lie inside the file.
     */
    private static long physicalEntry(ByteBuffer b, long entry) {
        long phoff = u32(b, 28);
        int phentsize = Short.toUnsignedInt(b.getShort(42));
        int phnum = Short.toUnsignedInt(b.getShort(44));
        for (int i = 0; i < phnum; i++) {
            int at = (int) (phoff + (long) i * phentsize);
            if (b.getInt(at) != PT_LOAD) {
                continue;
            }
            long vaddr = u32(b, at + 8);
            long paddr = u32(b, at + 12);
            long memsz = u32(b, at + 20);
            if (entry >= vaddr && entry < vaddr + memsz) {
                return entry - vaddr + paddr;
            }
        }
        return entry;
    }

    private static Kernel fromAddressFields(byte[] file, Header h) throws GuestFormatException {
        long load = h.loadAddr(), headerAddr = h.headerAddr();
        if (load > headerAddr) {
            throw new GuestFormatException("multiboot load_addr 0x" + Long.toHexString(load)
                    + " lies above header_addr 0x" + Long.toHexString(headerAddr));
        }
        long fileStart = h.offset() - (headerAddr - load);
        if (fileStart < 0) {
            throw new GuestFormatException("multiboot header_addr - load_addr (0x" + Long.toHexString(headerAddr
                    - load) + ") is larger than the header's file offset " + h.offset());
        }
        long loadEnd = h.loadEndAddr() == 0 ? load + (file.length - fileStart) : h.loadEndAddr();
        if (loadEnd < load || fileStart + (loadEnd - load) > file.length) {
            throw new GuestFormatException("multiboot load_end_addr 0x" + Long.toHexString(h.loadEndAddr())
                    + " lies outside the file (" + file.length + " bytes loaded at 0x" + Long.toHexString(load) + ")");
        }
        long bssEnd = h.bssEndAddr() == 0 ? loadEnd : h.bssEndAddr();
        if (bssEnd < loadEnd) {
            throw new GuestFormatException("multiboot bss_end_addr 0x" + Long.toHexString(bssEnd)
                    + " lies below load_end_addr 0x" + Long.toHexString(loadEnd));
        }
        if (h.entryAddr() < load || h.entryAddr() >= Math.max(loadEnd, load + 1)) {
            throw new GuestFormatException("multiboot entry_addr 0x" + Long.toHexString(h.entryAddr())
                    + " is not inside the loaded bytes");
        }
        byte[] data = new byte[(int) (loadEnd - load)];
        System.arraycopy(file, (int) fileStart, data, 0, data.length);
        return new Kernel(h, List.of(new Segment(load, data, bssEnd - load)), h.entryAddr(), false);
    }

    private static long u32(ByteBuffer b, int at) {
        return Integer.toUnsignedLong(b.getInt(at));
    }
}
