package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.ENOENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.riscv64.kvm_h;
import org.junit.jupiter.api.Test;

/**
 * The model follows upstream where the 2022 "[PATCH v12 16/17] riscv: KVM: Add vector lazy save/restore
 * support" differed: arch/riscv/include/uapi/asm/kvm.h makes {@code KVM_REG_RISCV_VECTOR} type 9 (v12 used 7,
 * ISA_EXT's) and bases its indices on {@code struct __riscv_v_ext_state}, which has vlenb (so v0 is 6);
 * {@code KVM_RISCV_ISA_EXT_V} is 15; arch/riscv/kvm/vcpu_vector.c answers a missing register with ENOENT and a
 * size or value mismatch with EINVAL; {@code SR_VS} is bits 10:9 (arch/riscv/include/asm/csr.h).
 */
class RiscvVectorVersionNoteTest extends RiscvVectorFixture {

    @Test
    void c4_vectorTypeIs9NotTheIsaExtAlias7() throws ErrnoException {
        assertEquals(0x09L << 24, RiscvVectorRegisters.TYPE_VECTOR);
        assertNotEquals(Integer.toUnsignedLong(kvm_h.KVM_REG_RISCV_ISA_EXT()), RiscvVectorRegisters.TYPE_VECTOR);
        assertEquals(8 << 24, kvm_h.KVM_REG_RISCV_SBI_EXT(), "0x08 was taken by SBI_EXT");
        assertEquals(1, get(0x8030_0000_0700_000FL), "an ISA_EXT id reaches the ISA handler");
    }

    @Test
    void c4_v0IsIndex6AndVlenbIsReadable() throws ErrnoException {
        assertEquals(6, RiscvVectorRegisters.V0);
        assertEquals(16, get(VLENB_ID));
        assertEquals(ENOENT, errno(() -> get(DATAP_ID)), "index 5 is datap, not v0 as in v12");
    }

    @Test
    void c4_vIsAppendedAs15() {
        assertEquals(15, kvm_h.KVM_RISCV_ISA_EXT_V());
        assertEquals(7, kvm_h.KVM_RISCV_ISA_EXT_SVPBMT(), "not renumbered");
    }

    @Test
    void c4_enoentForNoSuchRegisterEinvalForMismatches() throws ErrnoException {
        assertEquals(ENOENT, errno(() -> get(0x8030_0000_0900_0030L)));
        assertEquals(EINVAL, errno(() -> get(0x8020_0000_0900_0000L)));
        assertEquals(EINVAL, errno(() -> set(VLENB_ID, 8)));
        set(V_ISA_ID, 0);
        assertEquals(ENOENT, errno(() -> get(VSTART_ID)), "V absent");
    }

    @Test
    void c4_lazyStateMachineIsUnchangedAndVsIsAtBits10To9() {
        assertEquals(0x600, RiscvVectorRegisters.SR_VS);
        assertNotEquals(0x0180_0000L, RiscvVectorRegisters.SR_VS, "not the 0.7.1-draft position");
    }

    interface Call {
        void run() throws ErrnoException;
    }

    private static int errno(Call c) {
        try {
            c.run();
            return 0;
        } catch (ErrnoException e) {
            return e.errno();
        }
    }
}
