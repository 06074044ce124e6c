package dev.panavirt.models.riscv;

import dev.panavirt.bindings.kvm.riscv64.kvm_h;

/**
 * ONE_REG ids of the RISC-V vector registers ({@code arch/riscv/include/uapi/asm/kvm.h}
 * {@code KVM_REG_RISCV_VECTOR*}) and the {@code sstatus.VS} field ({@code arch/riscv/include/asm/csr.h}
 * {@code SR_VS*}), for RV64.
 *
 * <p>An id is {@code KVM_REG_RISCV | size | KVM_REG_RISCV_VECTOR | number}: the five CSRs {@code vstart, vl,
 * vtype, vcsr, vlenb} are numbers 0..4 of size U64, {@code datap} (5) is never a register, and {@code v0..v31}
 * are numbers 6..37 whose size code is log2(vlenb). Values come from the generated riscv64 uapi constants.
 */
public final class RiscvVectorRegisters {

    private RiscvVectorRegisters() {
    }

    /** {@code KVM_REG_RISCV}: the arch field of every RISC-V register id. */
    public static final long KVM_REG_RISCV = kvm_h.KVM_REG_RISCV();
    /** {@code KVM_REG_ARCH_MASK}, bits 63:56. */
    public static final long ARCH_MASK = kvm_h.KVM_REG_ARCH_MASK();
    /** {@code KVM_REG_SIZE_MASK}, bits 55:52. */
    public static final long SIZE_MASK = kvm_h.KVM_REG_SIZE_MASK();
    /** {@code KVM_REG_SIZE_SHIFT}. */
    public static final int SIZE_SHIFT = kvm_h.KVM_REG_SIZE_SHIFT();
    /** {@code KVM_REG_SIZE_U64}: the size field of the vector CSRs on RV64. */
    public static final long SIZE_U64 = kvm_h.KVM_REG_SIZE_U64();
    /** {@code KVM_REG_RISCV_TYPE_MASK}, bits 31:24. */
    public static final long TYPE_MASK = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_TYPE_MASK());
    /** {@code KVM_REG_RISCV_SUBTYPE_MASK}, bits 23:16. */
    public static final long SUBTYPE_MASK = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_SUBTYPE_MASK());
    /** {@code KVM_REG_RISCV_VECTOR} = 0x09 &lt;&lt; 24. */
    public static final long TYPE_VECTOR = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_VECTOR());
    /** {@code KVM_REG_RISCV_ISA_EXT} = 0x07 &lt;&lt; 24. */
    public static final long TYPE_ISA_EXT = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_ISA_EXT());
    /** {@code KVM_REG_RISCV_ISA_SINGLE}: one register per extension. */
    public static final long ISA_SINGLE = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_ISA_SINGLE());
    /** {@code KVM_REG_RISCV_ISA_MULTI_EN}: 64 extensions per register, 1 = enabled. */
    public static final long ISA_MULTI_EN = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_ISA_MULTI_EN());
    /** {@code KVM_REG_RISCV_ISA_MULTI_DIS}: 64 extensions per register, 1 = disabled. */
    public static final long ISA_MULTI_DIS = Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_ISA_MULTI_DIS());
    /** {@code KVM_REG_RISCV_ISA_MULTI_REG_LAST}: the highest multi-register number. */
    public static final long ISA_MULTI_REG_LAST = kvm_h.KVM_REG_RISCV_ISA_MULTI_REG_LAST();
    /** {@code KVM_RISCV_ISA_EXT_V} = 15. */
    public static final int ISA_EXT_V = kvm_h.KVM_RISCV_ISA_EXT_V();

    /** {@code KVM_REG_RISCV_VECTOR_CSR_REG(vstart)}. */
    public static final int VSTART = 0;
    /** {@code KVM_REG_RISCV_VECTOR_CSR_REG(vl)}. */
    public static final int VL = 1;
    /** {@code KVM_REG_RISCV_VECTOR_CSR_REG(vtype)}. */
    public static final int VTYPE = 2;
    /** {@code KVM_REG_RISCV_VECTOR_CSR_REG(vcsr)}. */
    public static final int VCSR = 3;
    /** {@code KVM_REG_RISCV_VECTOR_CSR_REG(vlenb)}: read-only in effect. */
    public static final int VLENB = 4;
    /** {@code KVM_REG_RISCV_VECTOR_CSR_REG(datap)}: a kernel pointer, never a register (ENOENT). */
    public static final int DATAP = 5;
    /** {@code KVM_REG_RISCV_VECTOR_REG(0)}: {@code sizeof(struct __riscv_v_ext_state) / sizeof(long)}. */
    public static final int V0 = 6;
    /** Number of vector data registers. */
    public static final int VREGS = 32;
    /** {@code KVM_REG_RISCV_VECTOR_REG(31)}. */
    public static final int V31 = V0 + VREGS - 1;
    /** Listed vector CSRs (vstart, vl, vtype, vcsr, vlenb). */
    public static final int LISTED_CSRS = 5;
    /** Vector ids in {@code KVM_GET_REG_LIST} when V is enabled. */
    public static final int LISTED_VECTOR_REGS = LISTED_CSRS + VREGS;
    /** {@code sizeof(unsigned long)} on RV64. */
    public static final int XLEN_BYTES = 8;

    /** {@code SR_VS}: sstatus bits 10:9. */
    public static final long SR_VS = 0x600;
    /** {@code SR_VS_OFF}. */
    public static final long SR_VS_OFF = 0x000;
    /** {@code SR_VS_INITIAL}. */
    public static final long SR_VS_INITIAL = 0x200;
    /** {@code SR_VS_CLEAN}. */
    public static final long SR_VS_CLEAN = 0x400;
    /** {@code SR_VS_DIRTY}. */
    public static final long SR_VS_DIRTY = 0x600;
    /** {@code SR_FS}: sstatus bits 14:13 (for context; the model does not track FP). */
    public static final long SR_FS = 0x6000;
    /** {@code SR_SD} on RV64. */
    public static final long SR_SD = 1L << 63;

    /** The id of vector CSR {@code number} (0..4; 5 gives the never-valid datap id). */
    public static long csrId(int number) {
        return KVM_REG_RISCV | SIZE_U64 | TYPE_VECTOR | number;
    }

    /**
     * The id of {@code v<n>} on a vCPU whose vector registers are {@code vlenb} bytes.
     *
     * @throws IllegalArgumentException if n is not 0..31 or vlenb is not a power of two
     */
    public static long vregId(int n, int vlenb) {
        if (n < 0 || n >= VREGS) {
            throw new IllegalArgumentException("vector register must be 0..31: " + n);
        }
        return KVM_REG_RISCV | sizeField(vlenb) | TYPE_VECTOR | (V0 + n);
    }

    /** The size field ({@code log2(bytes) << KVM_REG_SIZE_SHIFT}) of a {@code bytes}-byte register. */
    public static long sizeField(int bytes) {
        if (bytes <= 0 || Integer.bitCount(bytes) != 1 || bytes > 1 << 15) {
            throw new IllegalArgumentException("register size must be a power of two up to 32768: " + bytes);
        }
        return (long) Integer.numberOfTrailingZeros(bytes) << SIZE_SHIFT;
    }

    /** {@code KVM_REG_SIZE(id)}: 1 &lt;&lt; the size code, for all 16 codes (1 byte .. 32 KiB). */
    public static int regSize(long id) {
        return 1 << (int) ((id & SIZE_MASK) >>> SIZE_SHIFT);
    }

    /**
     * The register number the kernel's vector handlers see: the id without its arch, size and vector-type bits.
     * Subtype bits and bits 32..51 stay, so any of them makes the number too large (ENOENT).
     */
    public static long vectorNumber(long id) {
        return id & ~(ARCH_MASK | SIZE_MASK | TYPE_VECTOR);
    }

    /** The id of the single ISA-extension register of extension {@code ext} (e.g. {@link #ISA_EXT_V}). */
    public static long isaExtId(int ext) {
        return KVM_REG_RISCV | SIZE_U64 | TYPE_ISA_EXT | ISA_SINGLE | ext;
    }

    /** The id of ISA multi-register {@code index} ({@link #ISA_MULTI_EN} or {@link #ISA_MULTI_DIS}). */
    public static long isaMultiId(long subtype, int index) {
        return KVM_REG_RISCV | SIZE_U64 | TYPE_ISA_EXT | subtype | index;
    }

    /** The id in a readable form, e.g. {@code "vector v3 (U128)"} or {@code "vector vlenb"}. */
    public static String describe(long id) {
        long type = id & TYPE_MASK;
        String size = "U" + regSize(id) * 8;
        if (type == TYPE_VECTOR) {
            long n = vectorNumber(id);
            String name = n == VSTART ? "vstart" : n == VL ? "vl" : n == VTYPE ? "vtype" : n == VCSR ? "vcsr"
                    : n == VLENB ? "vlenb" : n == DATAP ? "datap" : n >= V0 && n <= V31 ? "v" + (n - V0) : "#" + n;
            return "vector " + name + " (" + size + ")";
        }
        return "type 0x" + Long.toHexString(type >>> 24) + " reg 0x" + Long.toHexString(id & 0xFF_FFFFL) + " ("
                + size + ")";
    }
}
