package dev.panavirt.models.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.bindings.kvm.riscv64.kvm_h;
import org.junit.jupiter.api.Test;

/**
 * Register ids and the constants they are built from (arch/riscv/include/uapi/asm/kvm.h
 * {@code KVM_REG_RISCV_VECTOR*}, {@code KVM_RISCV_ISA_EXT_V}; uapi/asm/ptrace.h {@code struct __riscv_v_ext_state}).
 */
class RiscvVectorIdTest extends RiscvVectorFixture {

    @Test
    void c1_kvmRegRiscvAndTypeFields() {
        assertEquals(0x8000_0000_0000_0000L, RiscvVectorRegisters.KVM_REG_RISCV);
        assertEquals(0xFF00_0000L, RiscvVectorRegisters.TYPE_MASK);
        assertEquals(0x00FF_0000L, RiscvVectorRegisters.SUBTYPE_MASK);
        assertEquals(0x0900_0000L, RiscvVectorRegisters.TYPE_VECTOR);
    }

    @Test
    void c1_otherRegisterTypesForContext() {
        assertEquals(1 << 24, kvm_h.KVM_REG_RISCV_CONFIG());
        assertEquals(2 << 24, kvm_h.KVM_REG_RISCV_CORE());
        assertEquals(3 << 24, kvm_h.KVM_REG_RISCV_CSR());
        assertEquals(4 << 24, kvm_h.KVM_REG_RISCV_TIMER());
        assertEquals(5 << 24, kvm_h.KVM_REG_RISCV_FP_F());
        assertEquals(6 << 24, kvm_h.KVM_REG_RISCV_FP_D());
        assertEquals(7 << 24, kvm_h.KVM_REG_RISCV_ISA_EXT());
        assertEquals(8 << 24, kvm_h.KVM_REG_RISCV_SBI_EXT());
        assertEquals(0x0A << 24, kvm_h.KVM_REG_RISCV_SBI_STATE());
    }

    @Test
    void c1_csrNumbersFollowRiscvVExtState() {
        // struct __riscv_v_ext_state {vstart @0, vl @8, vtype @16, vcsr @24, vlenb @32, datap @40} = 48 bytes
        assertEquals(0, RiscvVectorRegisters.VSTART);
        assertEquals(1, RiscvVectorRegisters.VL);
        assertEquals(2, RiscvVectorRegisters.VTYPE);
        assertEquals(3, RiscvVectorRegisters.VCSR);
        assertEquals(4, RiscvVectorRegisters.VLENB);
        assertEquals(5, RiscvVectorRegisters.DATAP);
        assertEquals(48 / 8, RiscvVectorRegisters.V0);
        assertEquals(37, RiscvVectorRegisters.V31);
    }

    @Test
    void c1_csrIdsAreU64() {
        assertEquals(0x8030_0000_0900_0000L, RiscvVectorRegisters.csrId(RiscvVectorRegisters.VSTART));
        assertEquals(0x8030_0000_0900_0001L, RiscvVectorRegisters.csrId(RiscvVectorRegisters.VL));
        assertEquals(0x8030_0000_0900_0002L, RiscvVectorRegisters.csrId(RiscvVectorRegisters.VTYPE));
        assertEquals(0x8030_0000_0900_0003L, RiscvVectorRegisters.csrId(RiscvVectorRegisters.VCSR));
        assertEquals(0x8030_0000_0900_0004L, RiscvVectorRegisters.csrId(RiscvVectorRegisters.VLENB));
        assertEquals(VLENB_ID, RiscvVectorRegisters.csrId(4));
    }

    @Test
    void c1_vectorRegisterIdsAtVlen128() {
        assertEquals(0x8040_0000_0900_0006L, RiscvVectorRegisters.vregId(0, 16));
        assertEquals(0x8040_0000_0900_0025L, RiscvVectorRegisters.vregId(31, 16));
    }

    @Test
    void c1_vectorRegisterSizeCodeIsLog2Vlenb() {
        assertEquals(0x8050_0000_0900_0006L, RiscvVectorRegisters.vregId(0, 32), "VLEN 256: U256");
        assertEquals(0x8060_0000_0900_0007L, RiscvVectorRegisters.vregId(1, 64), "VLEN 512: U512");
        assertEquals(0x8030_0000_0900_0006L, RiscvVectorRegisters.vregId(0, 8), "VLEN 64: U64");
        assertEquals(0x80D0_0000_0900_0006L, RiscvVectorRegisters.vregId(0, 8192), "VLEN 65536: code 13");
        assertThrows(IllegalArgumentException.class, () -> RiscvVectorRegisters.vregId(0, 24));
        assertThrows(IllegalArgumentException.class, () -> RiscvVectorRegisters.vregId(32, 16));
    }

    @Test
    void c1_regSizeDecodesAll16Codes() {
        for (int code = 0; code < 16; code++) {
            assertEquals(1 << code, RiscvVectorRegisters.regSize((long) code << 52 | 0x8000_0000_0900_0006L));
        }
    }

    @Test
    void c1_isaExtensionNumbers() {
        assertEquals(15, kvm_h.KVM_RISCV_ISA_EXT_V());
        assertEquals(15, RiscvVectorRegisters.ISA_EXT_V);
        int[] order = {kvm_h.KVM_RISCV_ISA_EXT_A(), kvm_h.KVM_RISCV_ISA_EXT_C(), kvm_h.KVM_RISCV_ISA_EXT_D(),
            kvm_h.KVM_RISCV_ISA_EXT_F(), kvm_h.KVM_RISCV_ISA_EXT_H(), kvm_h.KVM_RISCV_ISA_EXT_I(),
            kvm_h.KVM_RISCV_ISA_EXT_M(), kvm_h.KVM_RISCV_ISA_EXT_SVPBMT(), kvm_h.KVM_RISCV_ISA_EXT_SSTC(),
            kvm_h.KVM_RISCV_ISA_EXT_SVINVAL(), kvm_h.KVM_RISCV_ISA_EXT_ZIHINTPAUSE(), kvm_h.KVM_RISCV_ISA_EXT_ZICBOM(),
            kvm_h.KVM_RISCV_ISA_EXT_ZICBOZ(), kvm_h.KVM_RISCV_ISA_EXT_ZBB(), kvm_h.KVM_RISCV_ISA_EXT_SSAIA(),
            kvm_h.KVM_RISCV_ISA_EXT_V()};
        for (int i = 0; i < order.length; i++) {
            assertEquals(i, order[i]);
        }
        assertEquals(V_ISA_ID, RiscvVectorRegisters.isaExtId(15));
    }

    @Test
    void c1_vectorNumberKeepsSubtypeAndHighBits() {
        assertEquals(4, RiscvVectorRegisters.vectorNumber(VLENB_ID));
        assertEquals(0x1_0004L, RiscvVectorRegisters.vectorNumber(VLENB_ID | 0x1_0000L));
        assertEquals(1L << 32 | 6, RiscvVectorRegisters.vectorNumber(0x8040_0001_0900_0006L));
        assertEquals(6, RiscvVectorRegisters.vectorNumber(0x6040_0000_0900_0006L), "arch bits are dropped");
    }

    @Test
    void c1_describeNamesIds() {
        assertEquals("vector vlenb (U64)", RiscvVectorRegisters.describe(VLENB_ID));
        assertEquals("vector v31 (U128)", RiscvVectorRegisters.describe(0x8040_0000_0900_0025L));
    }
}
