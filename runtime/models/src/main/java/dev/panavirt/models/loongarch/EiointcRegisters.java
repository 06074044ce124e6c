package dev.panavirt.models.loongarch;

/**
 * The guest-visible IOCSR map of the LoongArch EIOINTC and its V-EIOINTC extension page, the feature and config
 * bits ({@code arch/loongarch/include/asm/kvm_eiointc.h} {@code EIOINTC_*}; checked by
 * {@code arch/loongarch/kvm/intc/eiointc.c} {@code kvm_eiointc_virt_write()}) and the model's bus-window layout.
 *
 * <p>Register offsets are relative to {@link #EIOINTC_BASE}, as in the kernel's {@code EIOINTC_*_START/END}
 * constants and in the {@code KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS} attribute encoding.
 */
public final class EiointcRegisters {

    private EiointcRegisters() {
    }

    // ---- the main IOCSR device ----

    /** IOCSR address of the EIOINTC register block. */
    public static final long EIOINTC_BASE = 0x1400;
    /** Size of the EIOINTC register block (0x1400..0x1CFF). */
    public static final long EIOINTC_SIZE = 0x900;

    /** Interrupt vectors ("irqs") of one EIOINTC. */
    public static final int IRQS = 256;
    /** vCPUs that can be routing targets (and COREISR rows). */
    public static final int ROUTE_MAX_VCPUS = 256;
    /** 64-bit words of a 256-bit vector bitmap (ENABLE, BOUNCE, ISR, one COREISR row). */
    public static final int IRQ_WORDS = IRQS / 64;
    /** 64-bit words of COREMAP (one byte per vector). */
    public static final int COREMAP_WORDS = IRQS / 8;
    /** 64-bit words of NODETYPE (16 x u16). */
    public static final int NODETYPE_WORDS = 4;

    /** CPU interrupt pins the model tracks per vCPU: IP0..IP15 (bitmap routing reaches IP0..IP3 only). */
    public static final int PINS = 16;
    /** Pins reachable in bitmap (non-encoded) IP routing, and CPUs reachable in bitmap CPU routing. */
    public static final int BITMAP_TARGETS = 4;
    /** {@code INT_HWI0}: the CPU interrupt number (ESTAT.IS bit) of IP0; IPn raises {@code INT_HWI0 + n}. */
    public static final int INT_HWI0 = 2;

    /** One decoded register of the main block. */
    public enum Register {
        /** Node type, 16 x u16; stored only. */
        NODETYPE(0x0A0, 0x0BF),
        /** IP map, one byte per 32 vectors; stored only (no re-evaluation). */
        IPMAP(0x0C0, 0x0C7),
        /** Enable bits; writes re-evaluate asserted lines. */
        ENABLE(0x200, 0x21F),
        /** Bounce bits; stored only, bounce routing not emulated. */
        BOUNCE(0x280, 0x29F),
        /** Node-level raw status; reachable through device attributes only, not by guest IOCSR accesses. */
        ISR(0x300, 0x31F),
        /** Per-vCPU in-service bits of the accessing vCPU; write 1 to clear. */
        COREISR(0x400, 0x41F),
        /** Route, one byte per vector; writes re-route. */
        COREMAP(0x800, 0x8FF);

        private final int start;
        private final int end;

        Register(int start, int end) {
            this.start = start;
            this.end = end;
        }

        /** First offset (from {@link #EIOINTC_BASE}) of this register. */
        public int start() {
            return start;
        }

        /** Last offset (inclusive) of this register. */
        public int end() {
            return end;
        }

        /** Whether {@code offset} (from {@link #EIOINTC_BASE}) lies inside this register. */
        public boolean contains(long offset) {
            return offset >= start && offset <= end;
        }

        private static final Register[] ALL = values();

        /**
         * The register at {@code offset} from {@link #EIOINTC_BASE}, or {@code null} for a hole. Allocation-free.
         */
        public static Register at(long offset) {
            for (Register r : ALL) {
                if (r.contains(offset)) {
                    return r;
                }
            }
            return null;
        }
    }

    // ---- the V-EIOINTC extension page ----

    /** IOCSR address of the V-EIOINTC page. */
    public static final long VIRT_BASE = 0x4000_0000L;
    /** Size of the V-EIOINTC page. */
    public static final long VIRT_SIZE = 0x1000;
    /** Offset of EXTIOI_VIRT_FEATURES in the page (read-only, u32). */
    public static final long VIRT_FEATURES = 0x0;
    /** Offset of EXTIOI_VIRT_CONFIG in the page (u32). */
    public static final long VIRT_CONFIG = 0x4;

    /** FEATURES bit 0: the virt extension is offered. */
    public static final int HAS_VIRT_EXTENSION = 1 << 0;
    /** FEATURES bit 1. */
    public static final int HAS_ENABLE_OPTION = 1 << 1;
    /** FEATURES bit 2: IP selection may be encoded (IP0..IP15). */
    public static final int HAS_INT_ENCODE = 1 << 2;
    /** FEATURES bit 3: CPU selection may be encoded (CPU0..CPU255). */
    public static final int HAS_CPU_ENCODE = 1 << 3;
    /** All four feature bits. */
    public static final int ALL_FEATURES = HAS_VIRT_EXTENSION | HAS_ENABLE_OPTION | HAS_INT_ENCODE | HAS_CPU_ENCODE;

    /** CONFIG/status bit 1: configuration locked (legacy status when the virt extension is absent). */
    public static final int ENABLE = 1 << 1;
    /** CONFIG/status bit 2: encoded IP selection. */
    public static final int ENABLE_INT_ENCODE = 1 << 2;
    /** CONFIG/status bit 3: encoded CPU selection. */
    public static final int ENABLE_CPU_ENCODE = 1 << 3;

    // ---- the model's bus window (one MMIO range covering both IOCSR devices) ----

    /** Bus-window offset at which the main block ({@link #EIOINTC_BASE}) appears. */
    public static final long WINDOW_MAIN = 0x0000;
    /** Bus-window offset at which the V-EIOINTC page ({@link #VIRT_BASE}) appears. */
    public static final long WINDOW_VIRT = 0x1000;
    /** Size of the bus window: the main block at 0x0000..0x08FF, the virt page at 0x1000..0x1FFF. */
    public static final long WINDOW_SIZE = 0x2000;

    /**
     * The IOCSR address that bus-window offset {@code offset} stands for, or -1 for the gap between the two
     * parts (0x0900..0x0FFF) and anything outside the window.
     */
    public static long iocsrAddress(long offset) {
        if (offset >= WINDOW_MAIN && offset < WINDOW_MAIN + EIOINTC_SIZE) {
            return EIOINTC_BASE + (offset - WINDOW_MAIN);
        }
        if (offset >= WINDOW_VIRT && offset < WINDOW_VIRT + VIRT_SIZE) {
            return VIRT_BASE + (offset - WINDOW_VIRT);
        }
        return -1;
    }

    /** Whether an access of {@code width} bytes at {@code address} lies wholly inside the main block. */
    public static boolean inMainBlock(long address, int width) {
        return address >= EIOINTC_BASE && address <= EIOINTC_BASE + EIOINTC_SIZE - width;
    }

    /** Whether an access of {@code width} bytes at {@code address} lies wholly inside the V-EIOINTC page. */
    public static boolean inVirtPage(long address, int width) {
        return address >= VIRT_BASE && address <= VIRT_BASE + VIRT_SIZE - width;
    }
}
