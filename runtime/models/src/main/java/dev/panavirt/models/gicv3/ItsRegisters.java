package dev.panavirt.models.gicv3;

import dev.panavirt.bindings.kvm.arm64.kvm_h;

/**
 * The GITS register frame of the KVM ITS: register offsets, field layouts, the constant registers and the
 * sanitisation KVM applies to guest-written base registers ({@code include/linux/irqchip/arm-gic-v3.h};
 * {@code arch/arm64/kvm/vgic/vgic-its.c} {@code its_registers[]}, {@code vgic_mmio_write_its_*()},
 * {@code vgic_sanitise_its_baser()}, {@code vgic_sanitise_its_cbaser()}; {@code vgic-mmio-v3.c}
 * {@code vgic_sanitise_*()}).
 *
 * <p>Register offsets are relative to the ITS base address. Only the first 64 KiB page of the 128 KiB
 * frame holds registers; everything else, {@code GITS_TRANSLATER} included, reads as zero and ignores
 * writes.
 */
public final class ItsRegisters {

    private ItsRegisters() {
    }

    // ---- Frame --------------------------------------------------------------------------------------

    /** Size of the frame registered on the MMIO bus ({@code KVM_VGIC_V3_ITS_SIZE}, 2 x 64 KiB). */
    public static final long FRAME_SIZE = kvm_h.KVM_VGIC_V3_ITS_SIZE();
    /** Required alignment of the ITS base address. */
    public static final long FRAME_ALIGN = 0x1_0000;
    /** The base address of an ITS whose address was never set ({@code VGIC_ADDR_UNDEF}). */
    public static final long ADDR_UNDEF = -1L;

    // ---- Register offsets ---------------------------------------------------------------------------

    public static final int GITS_CTLR = 0x0000;
    public static final int GITS_IIDR = 0x0004;
    public static final int GITS_TYPER = 0x0008;
    /** Not implemented by KVM (reads as zero); listed because guests probe it. */
    public static final int GITS_MPIDR = 0x0018;
    public static final int GITS_CBASER = 0x0080;
    public static final int GITS_CWRITER = 0x0088;
    public static final int GITS_CREADR = 0x0090;
    /** GITS_BASER0; BASERn is at {@code GITS_BASER + 8 * n}. */
    public static final int GITS_BASER = 0x0100;
    public static final int GITS_BASER_COUNT = 8;
    public static final int GITS_PIDR4 = 0xFFD0;
    public static final int GITS_PIDR0 = 0xFFE0;
    public static final int GITS_PIDR1 = 0xFFE4;
    public static final int GITS_PIDR2 = 0xFFE8;
    public static final int GITS_PIDR3 = 0xFFEC;
    public static final int GITS_CIDR0 = 0xFFF0;
    public static final int GITS_CIDR1 = 0xFFF4;
    public static final int GITS_CIDR2 = 0xFFF8;
    public static final int GITS_CIDR3 = 0xFFFC;
    /** First of the ID registers (the block ends at 0x10000). */
    public static final int GITS_IDREGS_BASE = GITS_PIDR4;
    /** In the second page; KVM does not decode it, MSIs come in through KVM_SIGNAL_MSI or irqfd routes. */
    public static final int GITS_TRANSLATER = 0x1_0040;

    /** {@code GITS_BASERn} offset. */
    public static int baser(int n) {
        return GITS_BASER + 8 * n;
    }

    // ---- Register regions (vgic-its.c its_registers[]) ---------------------------------------------

    /** One decoded register block: where it is, how long, and which access widths it accepts. */
    public enum Region {
        CTLR(GITS_CTLR, 4, false),
        IIDR(GITS_IIDR, 4, false),
        TYPER(GITS_TYPER, 8, true),
        CBASER(GITS_CBASER, 8, true),
        CWRITER(GITS_CWRITER, 8, true),
        CREADR(GITS_CREADR, 8, true),
        BASER(GITS_BASER, 8 * GITS_BASER_COUNT, true),
        IDREGS(GITS_IDREGS_BASE, 0x1_0000 - GITS_IDREGS_BASE, false);

        private static final Region[] ALL = values();

        /** First offset of the block. */
        public final int offset;
        /** Length of the block in bytes. */
        public final int length;
        /** Whether 64-bit accesses are allowed; 32-bit accesses always are, 8-bit never. */
        public final boolean wide;

        Region(int offset, int length, boolean wide) {
            this.offset = offset;
            this.length = length;
            this.wide = wide;
        }

        /** The register width userspace accesses it with through {@code KVM_DEV_ARM_VGIC_GRP_ITS_REGS}. */
        public int userWidth() {
            return wide ? 8 : 4;
        }

        /** The block holding frame offset {@code offset}, or {@code null} ({@code vgic_find_mmio_region}). */
        public static Region find(long offset) {
            for (Region r : ALL) {
                if (offset >= r.offset && offset < r.offset + r.length) {
                    return r;
                }
            }
            return null;
        }

        /** Whether a guest access of {@code len} bytes at {@code offset} is allowed ({@code check_region}). */
        public boolean allows(long offset, int len) {
            boolean width = len == 4 || (len == 8 && wide);
            return width && (offset & (len - 1)) == 0;
        }
    }

    // ---- Constant registers -------------------------------------------------------------------------

    /** Product ID KVM reports in IIDR ('K'). */
    public static final int PRODUCT_ID_KVM = 0x4B;
    /** Implementer code for Arm in IIDR. */
    public static final int IMPLEMENTER_ARM = 0x43B;
    public static final int IIDR_REV_SHIFT = 12;
    public static final int IIDR_REV_MASK = 0xF << IIDR_REV_SHIFT;
    public static final int IIDR_PRODUCT_SHIFT = 24;
    /** Number of table ABI revisions KVM implements (only revision 0). */
    public static final int NR_ITS_ABIS = 1;

    /** GITS_IIDR for table ABI revision {@code abiRev}. */
    public static int iidr(int abiRev) {
        return ((abiRev << IIDR_REV_SHIFT) & IIDR_REV_MASK) | (PRODUCT_ID_KVM << IIDR_PRODUCT_SHIFT) | IMPLEMENTER_ARM;
    }

    public static final long TYPER_PLPIS = 1L;
    public static final int TYPER_ITT_ENTRY_SIZE_SHIFT = 4;
    public static final int TYPER_IDBITS_SHIFT = 8;
    public static final int TYPER_DEVBITS_SHIFT = 13;
    /** EventID and LPI INTID bits ({@code VITS_TYPER_IDBITS}, {@code INTERRUPT_ID_BITS_ITS}). */
    public static final int ID_BITS = 16;
    /** DeviceID bits ({@code VITS_TYPER_DEVBITS}). */
    public static final int DEVICE_BITS = 16;
    /** Size of every ABI rev 0 table entry (DTE, ITE, CTE) and of the ITT entry size KVM reports. */
    public static final int ENTRY_SIZE = 8;

    /** GITS_TYPER: physical LPIs, 8-byte ITT entries, 16 ID bits, 16 device bits, PTA = 0, CIL = 0. */
    public static final long TYPER = TYPER_PLPIS
            | (long) (ENTRY_SIZE - 1) << TYPER_ITT_ENTRY_SIZE_SHIFT
            | (long) (ID_BITS - 1) << TYPER_IDBITS_SHIFT
            | (long) (DEVICE_BITS - 1) << TYPER_DEVBITS_SHIFT;

    /** The ID register at frame offset {@code offset} ({@code vgic_mmio_read_its_idregs}); 0 elsewhere. */
    public static int idRegister(long offset) {
        return switch ((int) (offset & 0xFFFF)) {
            case GITS_PIDR0 -> 0x92;
            case GITS_PIDR1 -> 0xB4;
            case GITS_PIDR2 -> GIC_PIDR2_ARCH_GICV3 | 0x0B;
            case GITS_PIDR4 -> 0x40;
            case GITS_CIDR0 -> 0x0D;
            case GITS_CIDR1 -> 0xF0;
            case GITS_CIDR2 -> 0x05;
            case GITS_CIDR3 -> 0xB1;
            default -> 0;
        };
    }

    /** Architecture revision field of PIDR2 for GICv3. */
    public static final int GIC_PIDR2_ARCH_GICV3 = 0x30;

    // ---- GITS_CTLR -------------------------------------------------------------------------------------

    public static final int CTLR_ENABLED = 1;
    /** Not modelled by KVM; writes are ignored. */
    public static final int CTLR_IMDE = 1 << 1;
    public static final int CTLR_QUIESCENT = 1 << 31;

    // ---- Cacheability and shareability codes (GICv3 BASER fields) -----------------------------------

    public static final int CACHE_NCNB = 0;
    public static final int CACHE_NC = 1;
    public static final int CACHE_RAWT = 2;
    public static final int CACHE_RAWB = 3;
    public static final int CACHE_WAWT = 4;
    public static final int CACHE_WAWB = 5;
    public static final int CACHE_RAWAWT = 6;
    public static final int CACHE_RAWAWB = 7;
    /** Outer cacheability code 0 means "same as inner". */
    public static final int CACHE_SAME_AS_INNER = 0;
    public static final int SHARE_NON = 0;
    public static final int SHARE_INNER = 1;
    public static final int SHARE_OUTER = 2;

    // ---- GITS_CBASER and GITS_BASERn share these field positions ------------------------------------

    public static final long VALID = 1L << 63;
    public static final int INNER_CACHE_SHIFT = 59;
    public static final int OUTER_CACHE_SHIFT = 53;
    public static final int SHAREABILITY_SHIFT = 10;
    public static final long INNER_CACHE_MASK = 7L << INNER_CACHE_SHIFT;
    public static final long OUTER_CACHE_MASK = 7L << OUTER_CACHE_SHIFT;
    public static final long SHAREABILITY_MASK = 3L << SHAREABILITY_SHIFT;
    /** Size field: pages - 1 (4 KiB pages for CBASER, 64 KiB pages for BASERn). */
    public static final long SIZE_MASK = 0xFF;

    /** CBASER physical address, bits 51:12. */
    public static final long CBASER_ADDRESS_MASK = genmask(51, 12);
    /** CBASER bits cleared by sanitisation (the queue is 64 KiB aligned). */
    public static final long CBASER_RES0_ADDRESS_BITS = genmask(15, 12);
    /** Bytes of one command. */
    public static final int COMMAND_SIZE = 32;
    /** CWRITER/CREADR offset field, bits 19:5. */
    public static final long COMMAND_OFFSET_MASK = genmask(19, 5);

    public static final long BASER_INDIRECT = 1L << 62;
    public static final int BASER_TYPE_SHIFT = 56;
    public static final long BASER_TYPE_MASK = 7L << BASER_TYPE_SHIFT;
    public static final int BASER_TYPE_NONE = 0;
    public static final int BASER_TYPE_DEVICE = 1;
    public static final int BASER_TYPE_VCPU = 2;
    public static final int BASER_TYPE_COLLECTION = 4;
    public static final int BASER_ENTRY_SIZE_SHIFT = 48;
    public static final long BASER_ENTRY_SIZE_MASK = 0x1FL << BASER_ENTRY_SIZE_SHIFT;
    /** Bits userspace and the guest cannot set: Entry_Size and Type. */
    public static final long BASER_RO_MASK = BASER_ENTRY_SIZE_MASK | BASER_TYPE_MASK;
    public static final int BASER_PAGE_SIZE_SHIFT = 8;
    public static final long BASER_PAGE_SIZE_MASK = 3L << BASER_PAGE_SIZE_SHIFT;
    public static final long BASER_PAGE_SIZE_64K = 2L << BASER_PAGE_SIZE_SHIFT;
    /** The only table page size KVM supports. */
    public static final long TABLE_PAGE = 0x1_0000;
    /** BASERn physical address bits 47:16 (64 KiB pages). */
    public static final long BASER_ADDRESS_MASK = genmask(47, 16);
    /** BASERn bits 15:12 hold PA[51:48] with 64 KiB pages. */
    public static final long BASER_ADDRESS_HIGH_MASK = genmask(15, 12);

    /** Creation value shared by both BASERs before the type and entry size are filled in. */
    public static final long INITIAL_BASER = (long) CACHE_RAWB << INNER_CACHE_SHIFT
            | (long) CACHE_SAME_AS_INNER << OUTER_CACHE_SHIFT
            | (long) SHARE_INNER << SHAREABILITY_SHIFT
            | BASER_PAGE_SIZE_64K;
    /** GITS_BASER0 at creation: device table, 8-byte entries, not valid. */
    public static final long INITIAL_BASER_DEVICE = INITIAL_BASER
            | (long) BASER_TYPE_DEVICE << BASER_TYPE_SHIFT
            | (long) (ENTRY_SIZE - 1) << BASER_ENTRY_SIZE_SHIFT;
    /** GITS_BASER1 at creation: collection table, 8-byte entries, not valid. */
    public static final long INITIAL_BASER_COLLECTION = INITIAL_BASER
            | (long) BASER_TYPE_COLLECTION << BASER_TYPE_SHIFT
            | (long) (ENTRY_SIZE - 1) << BASER_ENTRY_SIZE_SHIFT;

    // ---- Field arithmetic ---------------------------------------------------------------------------

    /** Bits {@code high..low} set, as {@code GENMASK_ULL}. */
    public static long genmask(int high, int low) {
        return (-1L >>> (63 - high)) & (-1L << low);
    }

    /** Bytes of the command queue described by {@code cbaser}. */
    public static long commandQueueSize(long cbaser) {
        return ((cbaser & SIZE_MASK) + 1) << 12;
    }

    /** Guest-physical address of the command queue. */
    public static long commandQueueAddress(long cbaser) {
        return cbaser & CBASER_ADDRESS_MASK;
    }

    /** Guest-physical address of the table a BASER describes ({@code GITS_BASER_ADDR_48_to_52}). */
    public static long tableAddress(long baser) {
        return (baser & BASER_ADDRESS_MASK) | ((baser & BASER_ADDRESS_HIGH_MASK) >>> 12) << 48;
    }

    /** Bytes of the (first-level) table a BASER describes: pages times 64 KiB. */
    public static int tableSize(long baser) {
        return (int) ((baser & SIZE_MASK) + 1) * (int) TABLE_PAGE;
    }

    /** Entry size in bytes a BASER declares. */
    public static int entrySize(long baser) {
        return (int) ((baser & BASER_ENTRY_SIZE_MASK) >>> BASER_ENTRY_SIZE_SHIFT) + 1;
    }

    /** Table type a BASER declares. */
    public static int tableType(long baser) {
        return (int) ((baser & BASER_TYPE_MASK) >>> BASER_TYPE_SHIFT);
    }

    /** {@code (data >> offset*8)} limited to {@code len} bytes ({@code extract_bytes}). */
    public static long extractBytes(long data, int offset, int len) {
        long v = data >>> (offset * 8);
        return len >= 8 ? v : v & ((1L << (len * 8)) - 1);
    }

    /**
     * Merges a 32- or 64-bit write into a 64-bit register ({@code update_64bit_reg}): a 4-byte write with
     * {@code offset & 4} replaces the upper half, otherwise the lower half.
     */
    public static long update64(long reg, int offset, int len, long val) {
        int lower = (offset & 4) * 8;
        long fieldMask = len >= 8 ? -1L : ((1L << (len * 8)) - 1);
        long v = val & fieldMask;
        return (reg & ~(fieldMask << lower)) | (v << lower);
    }

    private static long sanitiseField(long reg, long mask, int shift, java.util.function.LongUnaryOperator fn) {
        long field = (reg & mask) >>> shift;
        return (reg & ~mask) | (fn.applyAsLong(field) << shift & mask);
    }

    /** Outer-shareable becomes inner-shareable; other codes are kept. */
    static long sanitiseShareability(long field) {
        return field == SHARE_OUTER ? SHARE_INNER : field;
    }

    /** Inner non-cacheable mappings become read-allocate write-back. */
    static long sanitiseInnerCache(long field) {
        return field == CACHE_NCNB || field == CACHE_NC ? CACHE_RAWB : field;
    }

    /** Outer cacheability may only be "same as inner" or non-cacheable. */
    static long sanitiseOuterCache(long field) {
        return field == CACHE_SAME_AS_INNER || field == CACHE_NC ? field : CACHE_SAME_AS_INNER;
    }

    /** Shareability and cacheability sanitisation shared by CBASER, BASERn and the GICR base registers. */
    static long sanitiseAttributes(long reg, int shareShift, int innerShift, int outerShift) {
        reg = sanitiseField(reg, 3L << shareShift, shareShift, ItsRegisters::sanitiseShareability);
        reg = sanitiseField(reg, 7L << innerShift, innerShift, ItsRegisters::sanitiseInnerCache);
        return sanitiseField(reg, 7L << outerShift, outerShift, ItsRegisters::sanitiseOuterCache);
    }

    /** GITS_CBASER as stored after a write ({@code vgic_sanitise_its_cbaser}). */
    public static long sanitiseCbaser(long reg) {
        reg = sanitiseAttributes(reg, SHAREABILITY_SHIFT, INNER_CACHE_SHIFT, OUTER_CACHE_SHIFT);
        return reg & ~CBASER_RES0_ADDRESS_BITS;
    }

    /**
     * GITS_BASER0 ({@code n == 0}) or GITS_BASER1 ({@code n == 1}) as stored after a write
     * ({@code vgic_mmio_write_its_baser}): entry size and type forced, Indirect cleared for the collection
     * table, attributes sanitised, page size forced to 64 KiB.
     */
    public static long sanitiseBaser(int n, long reg) {
        reg &= ~BASER_RO_MASK;
        if (n == 1) {
            reg &= ~BASER_INDIRECT;
        }
        int type = n == 0 ? BASER_TYPE_DEVICE : BASER_TYPE_COLLECTION;
        reg |= (long) (ENTRY_SIZE - 1) << BASER_ENTRY_SIZE_SHIFT;
        reg |= (long) type << BASER_TYPE_SHIFT;
        reg = sanitiseAttributes(reg, SHAREABILITY_SHIFT, INNER_CACHE_SHIFT, OUTER_CACHE_SHIFT);
        return (reg & ~BASER_PAGE_SIZE_MASK) | BASER_PAGE_SIZE_64K;
    }
}
