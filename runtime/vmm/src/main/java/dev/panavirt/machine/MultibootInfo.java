package dev.panavirt.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Plans where a multiboot kernel's boot data goes in guest memory and builds the multiboot information
 * structure, as a list of byte blobs to copy in. Nothing here touches a VM, so the layout can be checked
 * without one.
 *
 * <h2>Guest memory at entry</h2>
 * <pre>
 * 0x0000 - 0x5fff   free (kvm-unit-tests copy their AP start-up trampoline to 0)
 * 0x6000 - 0x7fff   {@link #BOOT_TABLES}: the GDT and TSS behind the flat segments of the entry state
 *                   (the kernel loads its own GDT; only the vCPU's cached descriptors matter)
 * 0x8000 - 0x8fff   a courtesy stack: ESP = {@link #COURTESY_STACK_TOP} (multiboot leaves ESP undefined)
 * 0x9000 - ...      {@link #INFO_BASE}: the information structure, then the memory map, the module list,
 *                   the boot loader name and the command lines (QEMU uses 0x9000 too). If the kernel itself
 *                   occupies that area, all of this goes after the modules instead.
 * kernel            its segments at their physical addresses
 * modules           page-aligned, one after another, from the end of the kernel (at least 1 MiB)
 * </pre>
 *
 * <h2>The information structure</h2>
 * Flags {@link #INFO_MEMORY}, {@link #INFO_CMDLINE}, {@link #INFO_MODULES} (also with no module: the count is
 * then 0), {@link #INFO_MEMORY_MAP} and {@link #INFO_LOADER_NAME}. {@code mem_lower} is the RAM below 640 KiB,
 * {@code mem_upper} the RAM from 1 MiB up, both in KiB. The memory map lists {@code [0, 640 KiB)} and
 * {@code [1 MiB, end of RAM)} as available (type 1); the legacy hole between them is left out, as on a PC.
 * No boot device, symbols, drive list, APM, VBE or framebuffer information is given.
 */
public final class MultibootInfo {
    private MultibootInfo() {}

    /** Where the GDT and TSS of the entry state are written (0x2000 bytes). */
    public static final long BOOT_TABLES = 0x6000;
    /** ESP at entry, when the kernel does not occupy the page below it; else 0. */
    public static final long COURTESY_STACK_TOP = 0x9000;
    /** Where the information structure goes when the kernel leaves that place free. */
    public static final long INFO_BASE = 0x9000;
    /** End of the low RAM a PC reports (640 KiB). */
    public static final long LOW_MEMORY_END = 0xa0000;
    /** Start of the RAM above the legacy hole (1 MiB). */
    public static final long HIGH_MEMORY_START = 0x100000;
    /** Highest RAM size the 32-bit fields (and the MMIO window below 4 GiB) allow: 3 GiB. */
    public static final long MAX_RAM = 3L << 30;
    /** Name given in {@code boot_loader_name}. */
    public static final String LOADER_NAME = "panavirt";

    /** Info flag: {@code mem_lower} and {@code mem_upper} are valid. */
    public static final int INFO_MEMORY = 1;
    /** Info flag: {@code cmdline} is valid. */
    public static final int INFO_CMDLINE = 1 << 2;
    /** Info flag: {@code mods_count} and {@code mods_addr} are valid. */
    public static final int INFO_MODULES = 1 << 3;
    /** Info flag: {@code mmap_length} and {@code mmap_addr} are valid. */
    public static final int INFO_MEMORY_MAP = 1 << 6;
    /** Info flag: {@code boot_loader_name} is valid. */
    public static final int INFO_LOADER_NAME = 1 << 9;

    /** Size of the information structure, up to and including the framebuffer fields (all zero here). */
    public static final int STRUCT_SIZE = 116;
    /** Bytes per memory map entry: the 4-byte size field (which holds 20) and 20 bytes of entry. */
    public static final int MMAP_ENTRY_SIZE = 24;
    /** Bytes per module list entry. */
    public static final int MODULE_ENTRY_SIZE = 16;
    /** Memory map type of usable RAM. */
    public static final int MEMORY_AVAILABLE = 1;

    // Field offsets in the information structure.
    static final int FLAGS = 0, MEM_LOWER = 4, MEM_UPPER = 8, CMDLINE = 16, MODS_COUNT = 20, MODS_ADDR = 24,
            MMAP_LENGTH = 44, MMAP_ADDR = 48, BOOT_LOADER_NAME = 64;

    private static final long PAGE = 0x1000;

    /** Bytes to copy to a guest-physical address. */
    public record Blob(long address, byte[] bytes) {}

    /**
     * The plan for one boot.
     *
     * @param infoAddress   guest-physical address of the information structure (EBX at entry)
     * @param stackTop      ESP at entry ({@link #COURTESY_STACK_TOP}, or 0 when the kernel occupies that page)
     * @param moduleStarts  where each module starts
     * @param blobs         the modules and the information area, to copy after the kernel's segments
     */
    public record Layout(long infoAddress, long stackTop, List<Long> moduleStarts, List<Blob> blobs) {
        public Layout {
            moduleStarts = List.copyOf(moduleStarts);
            blobs = List.copyOf(blobs);
        }
    }

    /**
     * Plans the boot of {@code kernel} in {@code ramSize} bytes of RAM from address 0.
     *
     * @param cmdline the kernel's command line: by convention the program name, a space and the arguments
     * @throws IllegalArgumentException when the kernel, the modules or the information do not fit in RAM, or a
     *     command line holds a NUL
     */
    public static Layout plan(Multiboot.Kernel kernel, long ramSize, String cmdline, List<Multiboot.Module> modules) {
        Objects.requireNonNull(cmdline, "cmdline");
        if (ramSize > MAX_RAM) {
            throw new IllegalArgumentException("a multiboot guest can have at most " + (MAX_RAM >> 20)
                    + " MiB of RAM (32-bit addresses, and the local APIC and IOAPIC below 4 GiB)");
        }
        if (kernel.highest() > ramSize) {
            throw new IllegalArgumentException("the kernel occupies 0x" + Long.toHexString(kernel.lowest()) + "-0x"
                    + Long.toHexString(kernel.highest()) + ", beyond the end of RAM at 0x" + Long.toHexString(ramSize));
        }
        List<Blob> blobs = new ArrayList<>();
        List<Long> starts = new ArrayList<>();
        long next = align(Math.max(kernel.highest(), HIGH_MEMORY_START));
        for (Multiboot.Module m : modules) {
            starts.add(next);
            blobs.add(new Blob(next, m.bytes()));
            next = align(next + m.bytes().length);
        }
        if (next > ramSize) {
            throw new IllegalArgumentException("the modules (" + modules.size() + ", ending at 0x"
                    + Long.toHexString(next) + ") do not fit in " + (ramSize >> 20) + " MiB of RAM");
        }

        byte[] name = cString(LOADER_NAME);
        byte[] cmd = cString(cmdline);
        List<byte[]> moduleStrings = new ArrayList<>();
        for (Multiboot.Module m : modules) {
            moduleStrings.add(cString(m.cmdline()));
        }
        List<long[]> map = memoryMap(ramSize);
        int mmapOffset = STRUCT_SIZE;
        int modsOffset = mmapOffset + map.size() * MMAP_ENTRY_SIZE;
        int stringsOffset = modsOffset + modules.size() * MODULE_ENTRY_SIZE;
        int size = stringsOffset + name.length + cmd.length + moduleStrings.stream().mapToInt(s -> s.length).sum();

        long base = INFO_BASE;
        if (base + size > LOW_MEMORY_END || base + size > ramSize || kernel.overlaps(base, size)) {
            base = next;
            if (base + size > ramSize) {
                throw new IllegalArgumentException("the multiboot information (" + size + " bytes) does not fit in "
                        + (ramSize >> 20) + " MiB of RAM after the kernel and modules");
            }
        }

        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        int at = stringsOffset;
        long nameAddr = base + at;
        b.put(at, name);
        at += name.length;
        long cmdAddr = base + at;
        b.put(at, cmd);
        at += cmd.length;
        for (int i = 0; i < modules.size(); i++) {
            int entry = modsOffset + i * MODULE_ENTRY_SIZE;
            b.putInt(entry, (int) (long) starts.get(i));
            b.putInt(entry + 4, (int) (starts.get(i) + modules.get(i).bytes().length));
            b.putInt(entry + 8, (int) (base + at));
            b.put(at, moduleStrings.get(i));
            at += moduleStrings.get(i).length;
        }
        for (int i = 0; i < map.size(); i++) {
            int entry = mmapOffset + i * MMAP_ENTRY_SIZE;
            b.putInt(entry, MMAP_ENTRY_SIZE - 4);
            b.putLong(entry + 4, map.get(i)[0]);
            b.putLong(entry + 12, map.get(i)[1]);
            b.putInt(entry + 20, MEMORY_AVAILABLE);
        }
        b.putInt(FLAGS, INFO_MEMORY | INFO_CMDLINE | INFO_MODULES | INFO_MEMORY_MAP | INFO_LOADER_NAME);
        b.putInt(MEM_LOWER, (int) (Math.min(ramSize, LOW_MEMORY_END) >> 10));
        b.putInt(MEM_UPPER, (int) (Math.max(0, ramSize - HIGH_MEMORY_START) >> 10));
        b.putInt(CMDLINE, (int) cmdAddr);
        b.putInt(MODS_COUNT, modules.size());
        b.putInt(MODS_ADDR, modules.isEmpty() ? 0 : (int) (base + modsOffset));
        b.putInt(MMAP_LENGTH, map.size() * MMAP_ENTRY_SIZE);
        b.putInt(MMAP_ADDR, (int) (base + mmapOffset));
        b.putInt(BOOT_LOADER_NAME, (int) nameAddr);
        blobs.add(new Blob(base, b.array()));

        long stack = kernel.overlaps(COURTESY_STACK_TOP - PAGE, PAGE) ? 0 : COURTESY_STACK_TOP;
        return new Layout(base, stack, starts, blobs);
    }

    /** The available ranges as {base, length} pairs. */
    static List<long[]> memoryMap(long ramSize) {
        List<long[]> map = new ArrayList<>();
        map.add(new long[] {0, Math.min(ramSize, LOW_MEMORY_END)});
        if (ramSize > HIGH_MEMORY_START) {
            map.add(new long[] {HIGH_MEMORY_START, ramSize - HIGH_MEMORY_START});
        }
        return map;
    }

    private static byte[] cString(String s) {
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a multiboot command line cannot hold a NUL character");
        }
        byte[] text = s.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[text.length + 1];
        System.arraycopy(text, 0, out, 0, text.length);
        return out;
    }

    private static long align(long v) {
        return (v + PAGE - 1) & -PAGE;
    }
}
