package dev.panavirt.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a 64-bit Linux kernel and its data go in guest memory, and the "zero page" ({@code struct boot_params})
 * that tells the kernel about them, following Documentation/arch/x86/boot.rst ("64-bit Boot Protocol", "Details of
 * Header Fields", "The Kernel Command Line") and arch/x86/include/uapi/asm/bootparam.h.
 *
 * <p>The layout, below 1 MiB: the zero page at {@link #ZERO_PAGE}, the boot GDT and page tables at
 * {@link #BOOT_TABLES}, the command line at {@link #CMDLINE}; the e820 map reserves the EBDA's last KiB and
 * {@link #BIOS_AREA}-1 MiB (where ACPI tables go, as on a PC). The protected-mode kernel goes to its preferred
 * address, raised to {@link #MIN_LOAD_ADDRESS} and aligned to {@code kernel_alignment} when it is relocatable;
 * it needs {@code init_size} bytes there. The initrd goes as high as RAM and {@code initrd_addr_max} allow, on a
 * page boundary, as boot.rst recommends. Planning is pure: nothing touches a VM, so it can be checked on any host.
 */
public final class LinuxBoot {
    private LinuxBoot() {}

    /** The zero page ({@code struct boot_params}, 4 KiB). */
    public static final long ZERO_PAGE = 0x7000;
    /** The boot GDT, TSS and identity page tables ({@link X86Boot#LONG_MODE_TABLES_SIZE} bytes). */
    public static final long BOOT_TABLES = X86Boot.TABLES_BASE;
    /** The kernel command line, NUL-terminated. */
    public static final long CMDLINE = 0x20000;
    /** The most command-line bytes placed, whatever the kernel's {@code cmdline_size} says. */
    public static final long CMDLINE_MAX = 0x10000;
    /** Where conventional memory ends for the kernel: the last KiB below 640 KiB stands for the EBDA. */
    public static final long EBDA_START = 0x9fc00;
    /** The start of the BIOS area, reserved up to 1 MiB; the ACPI tables live there. */
    public static final long BIOS_AREA = 0xe0000;
    /** The start of extended memory. */
    public static final long HIGH_MEMORY = 0x100000;
    /** The lowest load address used for a relocatable kernel (Debian's and most kernels' preferred address). */
    public static final long MIN_LOAD_ADDRESS = 0x100_0000;
    /** e820 types (arch/x86/include/asm/e820/types.h). */
    public static final int E820_RAM = 1, E820_RESERVED = 2;
    /** {@code type_of_loader}: 0xff is "undefined", what boot.rst tells loaders without an assigned id to use. */
    public static final int LOADER_UNDEFINED = 0xff;
    /** {@code loadflags}: {@code heap_end_ptr} is valid. */
    public static final int CAN_USE_HEAP = 0x80;
    /** {@code heap_end_ptr}: the end of the setup heap, relative to the real-mode code (boot.rst's 0xe000 - 0x200). */
    public static final int HEAP_END = 0xfe00;
    /** The protocol version that added {@code acpi_rsdp_addr} (2.14). */
    public static final int PROTOCOL_ACPI_RSDP = 0x020e;

    // boot_params offsets outside the setup header (bootparam.h).
    static final int ACPI_RSDP_ADDR = 0x070, EXT_RAMDISK_IMAGE = 0x0c0, EXT_RAMDISK_SIZE = 0x0c4, EXT_CMD_LINE_PTR = 0x0c8,
            E820_ENTRIES = 0x1e8, E820_TABLE = 0x2d0;
    static final int E820_ENTRY_SIZE = 20, E820_MAX_ENTRIES = 128;

    /** Bytes to write at a guest-physical address. */
    public record Blob(long address, byte[] bytes) {}

    /** One e820 entry. */
    public record E820(long address, long size, int type) {}

    /**
     * The plan for one boot.
     *
     * @param kernelAddress where the protected-mode kernel starts
     * @param entry         the 64-bit entry point ({@code kernelAddress + 0x200})
     * @param initrdAddress where the initrd starts, 0 without one
     * @param initrdSize    its length
     * @param e820          the memory map given to the kernel
     * @param blobs         everything to copy into RAM: kernel, zero page, command line, initrd
     */
    public record Layout(long kernelAddress, long entry, long initrdAddress, long initrdSize, List<E820> e820,
            List<Blob> blobs) {
        public Layout {
            e820 = List.copyOf(e820);
            blobs = List.copyOf(blobs);
        }
    }

    /**
     * Plans a boot.
     *
     * @param kernel      the kernel
     * @param memorySize  RAM bytes from address 0 (at most {@link MultibootInfo#MAX_RAM}: below the 32-bit MMIO hole)
     * @param cmdline     the kernel command line (ASCII)
     * @param initrd      the initrd's bytes; empty for none
     * @param rsdpAddress where the ACPI RSDP is, 0 for none (only given to kernels of protocol 2.14 and later)
     * @throws IllegalArgumentException when the kernel, its command line or the initrd do not fit
     */
    public static Layout plan(BzImage kernel, long memorySize, String cmdline, byte[] initrd, long rsdpAddress) {
        if (memorySize > MultibootInfo.MAX_RAM || memorySize < HIGH_MEMORY) {
            throw new IllegalArgumentException("RAM of " + memorySize + " bytes: between 1 MiB and "
                    + (MultibootInfo.MAX_RAM >> 20) + " MiB is supported");
        }
        long align = kernel.kernelAlignment();
        long load = kernel.relocatable()
                ? alignUp(Math.max(kernel.prefAddress(), MIN_LOAD_ADDRESS), align) : kernel.prefAddress();
        if (load < 0 || load > memorySize || kernel.initSize() > memorySize - load) {
            throw new IllegalArgumentException("the kernel needs 0x" + Long.toHexString(kernel.initSize())
                    + " bytes (init_size) from 0x" + Long.toHexString(load) + ", beyond " + (memorySize >> 20)
                    + " MiB of RAM");
        }
        long kernelEnd = load + kernel.initSize();
        byte[] line = cmdline.getBytes(StandardCharsets.US_ASCII);
        if (line.length > kernel.cmdlineSize() || line.length >= CMDLINE_MAX) {
            throw new IllegalArgumentException("the command line has " + line.length + " bytes; the kernel takes at most "
                    + Math.min(kernel.cmdlineSize(), CMDLINE_MAX - 1) + " (cmdline_size)");
        }
        byte[] lineZ = new byte[line.length + 1];
        System.arraycopy(line, 0, lineZ, 0, line.length);

        long initrdAddress = 0;
        if (initrd.length > 0) {
            long top = Math.min(memorySize, kernel.initrdAddrMax() + 1);
            initrdAddress = (top - initrd.length) & ~0xfffL;
            if (top - initrd.length < kernelEnd) {
                throw new IllegalArgumentException("the initrd's " + initrd.length + " bytes do not fit between the kernel"
                        + " (ends at 0x" + Long.toHexString(kernelEnd) + ") and 0x" + Long.toHexString(top)
                        + " (RAM's end or initrd_addr_max)");
            }
        }
        List<E820> e820 = List.of(new E820(0, EBDA_START, E820_RAM),
                new E820(EBDA_START, 0xa0000 - EBDA_START, E820_RESERVED),
                new E820(BIOS_AREA, HIGH_MEMORY - BIOS_AREA, E820_RESERVED),
                new E820(HIGH_MEMORY, memorySize - HIGH_MEMORY, E820_RAM));

        ByteBuffer zp = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        zp.put(BzImage.SETUP_HEADER_OFFSET, kernel.setupHeader());
        zp.put(BzImage.TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        zp.put(BzImage.LOADFLAGS, (byte) (zp.get(BzImage.LOADFLAGS) | CAN_USE_HEAP));
        zp.putShort(BzImage.HEAP_END_PTR, (short) HEAP_END);
        zp.putInt(BzImage.CMD_LINE_PTR, (int) CMDLINE);
        zp.putInt(EXT_CMD_LINE_PTR, 0);
        zp.putInt(BzImage.RAMDISK_IMAGE, (int) initrdAddress);
        zp.putInt(BzImage.RAMDISK_SIZE, initrd.length);
        zp.putInt(EXT_RAMDISK_IMAGE, 0);
        zp.putInt(EXT_RAMDISK_SIZE, 0);
        if (rsdpAddress != 0 && kernel.protocol() >= PROTOCOL_ACPI_RSDP) {
            zp.putLong(ACPI_RSDP_ADDR, rsdpAddress);
        }
        zp.put(E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            int at = E820_TABLE + i * E820_ENTRY_SIZE;
            zp.putLong(at, e820.get(i).address());
            zp.putLong(at + 8, e820.get(i).size());
            zp.putInt(at + 16, e820.get(i).type());
        }

        List<Blob> blobs = new ArrayList<>();
        blobs.add(new Blob(load, kernel.protectedModeKernel()));
        blobs.add(new Blob(ZERO_PAGE, zp.array()));
        blobs.add(new Blob(CMDLINE, lineZ));
        if (initrd.length > 0) {
            blobs.add(new Blob(initrdAddress, initrd));
        }
        return new Layout(load, load + BzImage.ENTRY_64_OFFSET, initrdAddress, initrd.length, e820, blobs);
    }

    private static long alignUp(long value, long align) {
        return (value + align - 1) & -align;
    }
}
