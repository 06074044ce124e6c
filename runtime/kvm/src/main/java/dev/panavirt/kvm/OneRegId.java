package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.arm64.kvm_regs;

/**
 * ONE_REG register ids ({@code KVM_GET/SET_ONE_REG}, {@code KVM_GET_REG_LIST}): the arch, size and
 * register fields, and builders for the common arm64 and RISC-V ids, from the generated per-arch
 * headers. Ids are 64-bit: bits 63:56 arch, 55:52 log2 of the value size, the rest arch-defined.
 */
public final class OneRegId {
    private OneRegId() {}

    private static final long ARCH_MASK = dev.panavirt.bindings.kvm.kvm_h.KVM_REG_ARCH_MASK();
    private static final int SIZE_SHIFT = dev.panavirt.bindings.kvm.kvm_h.KVM_REG_SIZE_SHIFT();
    private static final long SIZE_MASK = dev.panavirt.bindings.kvm.kvm_h.KVM_REG_SIZE_MASK();

    /** The arch field ({@code KVM_REG_ARM64}, {@code KVM_REG_RISCV}, {@code KVM_REG_X86}, ...). */
    public static long arch(long id) {
        return id & ARCH_MASK;
    }

    /** The value size in bytes the id encodes: {@code 1 << (bits 55:52)}, as the kernel's {@code KVM_REG_SIZE}. */
    public static int size(long id) {
        return 1 << (int) ((id & SIZE_MASK) >>> SIZE_SHIFT);
    }

    /** The size field for a value of {@code bytes} bytes (a power of two from 1 to 2048). */
    public static long sizeField(int bytes) {
        if (bytes <= 0 || Integer.bitCount(bytes) != 1 || bytes > 2048) {
            throw new IllegalArgumentException("ONE_REG sizes are powers of two from 1 to 2048: " + bytes);
        }
        return (long) Integer.numberOfTrailingZeros(bytes) << SIZE_SHIFT & SIZE_MASK;
    }

    /**
     * An arm64 core register: {@code KVM_REG_ARM64 | size | KVM_REG_ARM_CORE | offset/4}, where
     * {@code offsetInKvmRegs} is the byte offset in {@code struct kvm_regs} (for example
     * {@code kvm_regs.regs$offset() + 8 * n} for x{@code n}; {@code user_pt_regs} starts the struct).
     */
    public static long arm64Core(long offsetInKvmRegs, int bytes) {
        if (offsetInKvmRegs < 0 || offsetInKvmRegs >= kvm_regs.sizeof() || offsetInKvmRegs % 4 != 0) {
            throw new IllegalArgumentException("not a 32-bit-aligned offset in struct kvm_regs: " + offsetInKvmRegs);
        }
        return dev.panavirt.bindings.kvm.arm64.kvm_h.KVM_REG_ARM64() | sizeField(bytes)
                | dev.panavirt.bindings.kvm.arm64.kvm_h.KVM_REG_ARM_CORE() | offsetInKvmRegs / 4;
    }

    /**
     * A RISC-V register of {@code type} ({@code KVM_REG_RISCV_CORE}, {@code _CSR}, {@code _VECTOR}, ...)
     * and index within that type: {@code KVM_REG_RISCV | size | type | index}.
     */
    public static long riscv(int type, long index, int bytes) {
        return dev.panavirt.bindings.kvm.riscv64.kvm_h.KVM_REG_RISCV() | sizeField(bytes)
                | Integer.toUnsignedLong(type) | index;
    }
}
