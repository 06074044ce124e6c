package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.bindings.kvm.riscv64.kvm_h;
import org.junit.jupiter.api.Test;

/** ONE_REG ids composed from the generated headers match the documented values. */
class OneRegIdTest {
    @Test
    void riscvVectorIds() {
        // arch/riscv/include/uapi/asm/kvm.h KVM_REG_RISCV_VECTOR_CSR_REG(vlenb), KVM_REG_RISCV_VECTOR_REG(0):
        // vlenb = 0x8030_0000_0900_0004, v0 at VLEN 128 = 0x8040_0000_0900_0006.
        assertEquals(0x8030_0000_0900_0004L, OneRegId.riscv(kvm_h.KVM_REG_RISCV_VECTOR(), 4, 8));
        assertEquals(0x8040_0000_0900_0006L, OneRegId.riscv(kvm_h.KVM_REG_RISCV_VECTOR(), 6, 16));
        assertEquals(16, OneRegId.size(0x8040_0000_0900_0006L));
        assertEquals(kvm_h.KVM_REG_RISCV(), OneRegId.arch(0x8040_0000_0900_0006L));
    }

    @Test
    void arm64CoreIds() {
        // x0 is at offset 0 of struct kvm_regs: 0x6030_0000_0010_0000; pc (offset 256) -> index 0x40.
        assertEquals(0x6030_0000_0010_0000L, OneRegId.arm64Core(0, 8));
        assertEquals(0x6030_0000_0010_0040L, OneRegId.arm64Core(256, 8));
        assertThrows(IllegalArgumentException.class, () -> OneRegId.arm64Core(2, 8));
        assertThrows(IllegalArgumentException.class, () -> OneRegId.sizeField(3));
    }
}
