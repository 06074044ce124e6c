package dev.panavirt.machine;

import dev.panavirt.machine.GuestLoader.GuestFormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A Linux x86 kernel image in the boot protocol's format (a {@code bzImage}): the real-mode setup sectors with the
 * setup header, followed by the protected-mode kernel. Only what a 64-bit loader needs is read: the header's
 * fields as Documentation/arch/x86/boot.rst ("The Real-Mode Kernel Header") and
 * arch/x86/include/uapi/asm/bootparam.h ({@code struct setup_header}) define them.
 *
 * <p>Accepted: the "HdrS" signature at 0x202, protocol 2.12 or later (2.12 added
 * {@code xloadflags}, which says whether the kernel has a 64-bit entry point), {@code XLF_KERNEL_64}
 * (a kernel with the 64-bit entry point) and a relocatable kernel or one whose preferred address is given. Every
 * offset and size the file supplies is checked against the file before use, so a malformed image ends in a
 * {@link GuestFormatException} naming the field, never an out-of-bounds access or a huge allocation.
 */
public final class BzImage {
    /** "HdrS", little-endian, at {@link #HEADER_MAGIC_OFFSET}. */
    public static final int HEADER_MAGIC = 0x5372_6448;
    /** Where the setup header's signature lies in the file (and in {@code boot_params}). */
    public static final int HEADER_MAGIC_OFFSET = 0x202;
    /** Where the setup header starts in the file and in {@code boot_params} ({@code hdr.setup_sects}). */
    public static final int SETUP_HEADER_OFFSET = 0x1f1;
    /** The oldest protocol accepted: 2.12 added {@code xloadflags} and its {@link #XLF_KERNEL_64}. */
    public static final int MIN_PROTOCOL = 0x020c;
    private static final String MIN_PROTOCOL_STRING = "2.12";
    /** {@code xloadflags}: the kernel has the 64-bit entry point at its load address + 0x200. */
    public static final int XLF_KERNEL_64 = 1;
    /** {@code loadflags}: the protected-mode code is loaded at 0x100000 or above (always so for a bzImage). */
    public static final int LOADED_HIGH = 1;
    /** Where the 64-bit entry point lies after the start of the protected-mode kernel. */
    public static final long ENTRY_64_OFFSET = 0x200;

    // Field offsets in the file (and in boot_params), bootparam.h struct setup_header.
    static final int SETUP_SECTS = 0x1f1, BOOT_FLAG = 0x1fe, JUMP = 0x200, VERSION = 0x206, TYPE_OF_LOADER = 0x210,
            LOADFLAGS = 0x211, RAMDISK_IMAGE = 0x218, RAMDISK_SIZE = 0x21c, HEAP_END_PTR = 0x224, CMD_LINE_PTR = 0x228,
            INITRD_ADDR_MAX = 0x22c, KERNEL_ALIGNMENT = 0x230, RELOCATABLE_KERNEL = 0x234, XLOADFLAGS = 0x236,
            CMDLINE_SIZE = 0x238, PREF_ADDRESS = 0x258, INIT_SIZE = 0x260;

    private final byte[] file;
    private final int setupSects;
    private final int version;
    private final int loadflags;
    private final int xloadflags;
    private final long initrdAddrMax;
    private final long kernelAlignment;
    private final boolean relocatable;
    private final long cmdlineSize;
    private final long prefAddress;
    private final long initSize;
    private final int headerEnd;

    private BzImage(byte[] file) throws GuestFormatException {
        this.file = file;
        if (file.length < 0x264 || readInt(HEADER_MAGIC_OFFSET) != HEADER_MAGIC) {
            throw new GuestFormatException("not a Linux boot-protocol kernel: no \"HdrS\" signature at 0x202");
        }
        version = readShort(VERSION);
        if (version < MIN_PROTOCOL) {
            throw new GuestFormatException("boot protocol " + (version >> 8) + "." + (version & 0xff)
                    + " is too old: " + MIN_PROTOCOL_STRING + " or later is needed (Linux 3.8 and newer)");
        }
        int sects = file[SETUP_SECTS] & 0xff;
        setupSects = sects == 0 ? 4 : sects;    // boot.rst: "if this field is 0, the real value is 4"
        // The jump at 0x200 is a short jmp over the header: 0x202 + its displacement is where the header ends.
        headerEnd = 0x202 + (file[JUMP + 1] & 0xff);
        loadflags = file[LOADFLAGS] & 0xff;
        xloadflags = readShort(XLOADFLAGS);
        initrdAddrMax = Integer.toUnsignedLong(readInt(INITRD_ADDR_MAX));
        kernelAlignment = Integer.toUnsignedLong(readInt(KERNEL_ALIGNMENT));
        relocatable = file[RELOCATABLE_KERNEL] != 0;
        cmdlineSize = Integer.toUnsignedLong(readInt(CMDLINE_SIZE));
        prefAddress = ByteBuffer.wrap(file, PREF_ADDRESS, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        initSize = Integer.toUnsignedLong(readInt(INIT_SIZE));
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new GuestFormatException("the kernel has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags"
                    + " 0x" + Integer.toHexString(xloadflags) + "): only 64-bit kernels are booted");
        }
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new GuestFormatException("a zImage (LOADED_HIGH clear in loadflags): only bzImage kernels are booted");
        }
        if (headerEnd > file.length || headerEnd < INIT_SIZE + 4) {
            throw new GuestFormatException("the setup header's length (jump at 0x200 to 0x" + Integer.toHexString(headerEnd)
                    + ") does not cover init_size or runs past the file's " + file.length + " bytes");
        }
        long setupBytes = (setupSects + 1L) * 512;
        if (setupBytes >= file.length) {
            throw new GuestFormatException("setup_sects " + setupSects + " leaves no protected-mode kernel in a file of "
                    + file.length + " bytes");
        }
        if (kernelAlignment == 0 || Long.bitCount(kernelAlignment) != 1) {
            throw new GuestFormatException("kernel_alignment 0x" + Long.toHexString(kernelAlignment)
                    + " is not a power of two");
        }
        if (initSize < file.length - setupBytes) {
            throw new GuestFormatException("init_size 0x" + Long.toHexString(initSize)
                    + " is smaller than the protected-mode kernel (0x" + Long.toHexString(file.length - setupBytes)
                    + " bytes)");
        }
        if (!relocatable && (prefAddress < 0x100000 || (prefAddress & (kernelAlignment - 1)) != 0)) {
            throw new GuestFormatException("a non-relocatable kernel whose pref_address 0x" + Long.toHexString(prefAddress)
                    + " is below 1 MiB or not aligned to kernel_alignment");
        }
    }

    /** Whether {@code bytes} carries the setup header's "HdrS" signature. */
    public static boolean isBzImage(byte[] bytes) {
        return bytes.length >= HEADER_MAGIC_OFFSET + 4
                && ByteBuffer.wrap(bytes, HEADER_MAGIC_OFFSET, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() == HEADER_MAGIC;
    }

    /**
     * Reads a bzImage's setup header; the array is kept, not copied.
     *
     * @throws GuestFormatException when the file is not a bzImage this loader can boot, with the reason
     */
    public static BzImage parse(byte[] file) throws GuestFormatException {
        return new BzImage(file);
    }

    private int readInt(int at) {
        return ByteBuffer.wrap(file, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    private int readShort(int at) {
        return ByteBuffer.wrap(file, at, 2).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xffff;
    }

    /** {@return the boot protocol version, major in bits 15-8} */
    public int protocol() {
        return version;
    }

    /** {@return the number of 512-byte setup sectors after the boot sector (0 in the file read as 4)} */
    public int setupSects() {
        return setupSects;
    }

    /** {@return the file offset of the protected-mode kernel} */
    public int kernelOffset() {
        return (setupSects + 1) * 512;
    }

    /** {@return the protected-mode kernel's bytes, as they go to the load address} */
    public byte[] protectedModeKernel() {
        return Arrays.copyOfRange(file, kernelOffset(), file.length);
    }

    /** {@return the setup header's bytes, from {@link #SETUP_HEADER_OFFSET} to the header's end} */
    public byte[] setupHeader() {
        return Arrays.copyOfRange(file, SETUP_HEADER_OFFSET, headerEnd);
    }

    /** {@return the highest address the initrd's last byte may have} */
    public long initrdAddrMax() {
        return initrdAddrMax;
    }

    /** {@return the alignment a relocatable kernel must be loaded at} */
    public long kernelAlignment() {
        return kernelAlignment;
    }

    /** {@return whether the kernel may be loaded at any address aligned to {@link #kernelAlignment()}} */
    public boolean relocatable() {
        return relocatable;
    }

    /** {@return the longest command line the kernel takes, without the terminating NUL} */
    public long cmdlineSize() {
        return cmdlineSize;
    }

    /** {@return where the kernel prefers to be loaded} */
    public long prefAddress() {
        return prefAddress;
    }

    /** {@return how much memory from the load address the kernel needs before it has set up its own} */
    public long initSize() {
        return initSize;
    }

    /** {@return the {@code xloadflags} word} */
    public int xloadflags() {
        return xloadflags;
    }
}
