package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.E2BIG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * KVM_GET_REG_LIST: order, sizes, datap never listed, nothing without V (arch/riscv/kvm/vcpu_onereg.c
 * {@code num_vector_regs()}, {@code copy_vector_reg_indices()}).
 */
class RiscvVectorRegListTest extends RiscvVectorFixture {

    @Test
    void c2_list_fiveCsrsThenV0ToV31ThenTheVIsaEntry() throws ErrnoException {
        long[] ids = cpu.regList(100);
        assertEquals(38, ids.length);
        assertEquals(38, cpu.regCount());
        assertArrayEquals(new long[] {VSTART_ID, VL_ID, VTYPE_ID, VCSR_ID, VLENB_ID},
                java.util.Arrays.copyOfRange(ids, 0, 5));
        for (int n = 0; n < 32; n++) {
            assertEquals(0x8040_0000_0900_0006L + n, ids[5 + n]);
        }
        assertEquals(V_ISA_ID, ids[37]);
        for (long id : ids) {
            assertEquals(false, id == DATAP_ID, "datap is never listed");
        }
    }

    @Test
    void c2_list_vectorSizeCodeFollowsVlenb() throws ErrnoException {
        cpu = new RiscvVectorUnit(RiscvVectorUnit.Config.vlenb(128));
        long[] ids = cpu.regList(38);
        assertEquals(0x8070_0000_0900_0006L, ids[5], "VLEN 1024: U1024");
        assertEquals(0x8070_0000_0900_0025L, ids[36]);
    }

    @Test
    void c2_list_withoutVNoVectorIdsAreListed() throws ErrnoException {
        set(V_ISA_ID, 0);
        assertArrayEquals(new long[] {V_ISA_ID}, cpu.regList(1));
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(16, false, true));
        assertEquals(0, cpu.regList(0).length);
    }

    @Test
    void c2_list_tooSmallIsE2big() {
        assertErrno(E2BIG, () -> cpu.regList(37));
        assertErrno(E2BIG, () -> cpu.regList(0));
    }

    @Test
    void c2_list_everyListedIdCanBeRead() throws ErrnoException {
        for (long id : cpu.regList(38)) {
            cpu.getOneReg(id, new byte[RiscvVectorRegisters.regSize(id)]);
        }
    }
}
