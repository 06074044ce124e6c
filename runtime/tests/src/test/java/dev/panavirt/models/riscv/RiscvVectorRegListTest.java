package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.E2BIG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * KVM_GET_REG_LIST: order, sizes, datap never listed, no vector ids without V, then one ISA_EXT id per host
 * extension (arch/riscv/kvm/vcpu_onereg.c {@code num_vector_regs()}, {@code copy_vector_reg_indices()},
 * {@code copy_isa_ext_reg_indices()}).
 */
class RiscvVectorRegListTest extends RiscvVectorFixture {

    @Test
    void c2_list_fiveCsrsThenV0ToV31ThenTheHostsIsaEntries() throws ErrnoException {
        long[] ids = cpu.regList(100);
        assertEquals(47, ids.length, "37 vector ids and the 10 extensions of the default host");
        assertEquals(47, cpu.regCount());
        assertArrayEquals(new long[] {VSTART_ID, VL_ID, VTYPE_ID, VCSR_ID, VLENB_ID},
                java.util.Arrays.copyOfRange(ids, 0, 5));
        for (int n = 0; n < 32; n++) {
            assertEquals(0x8040_0000_0900_0006L + n, ids[5 + n]);
        }
        assertArrayEquals(new long[] {0x8030_0000_0700_0000L, 0x8030_0000_0700_0001L, 0x8030_0000_0700_0002L,
                0x8030_0000_0700_0003L, 0x8030_0000_0700_0004L, 0x8030_0000_0700_0005L, 0x8030_0000_0700_0006L,
                V_ISA_ID, 0x8030_0000_0700_0014L, 0x8030_0000_0700_0015L},
                java.util.Arrays.copyOfRange(ids, 37, 47), "A C D F H I M V Zicsr Zifencei, by id (H listed though off)");
        for (long id : ids) {
            assertEquals(false, id == DATAP_ID, "datap is never listed");
        }
    }

    @Test
    void c2_list_vectorSizeCodeFollowsVlenb() throws ErrnoException {
        cpu = new RiscvVectorUnit(RiscvVectorUnit.Config.vlenb(128));
        long[] ids = cpu.regList(47);
        assertEquals(0x8070_0000_0900_0006L, ids[5], "VLEN 1024: U1024");
        assertEquals(0x8070_0000_0900_0025L, ids[36]);
    }

    @Test
    void c2_list_withoutVNoVectorIdsAreListed() throws ErrnoException {
        set(V_ISA_ID, 0);
        long[] ids = cpu.regList(10);
        assertEquals(10, ids.length, "the ISA entries stay, V's among them");
        assertEquals(V_ISA_ID, ids[7]);
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(16, false, true));
        ids = cpu.regList(9);
        assertEquals(9, ids.length, "a host without V has no V entry");
        for (long id : ids) {
            assertEquals(false, id == V_ISA_ID);
        }
    }

    @Test
    void c2_list_tooSmallIsE2big() {
        assertErrno(E2BIG, () -> cpu.regList(46));
        assertErrno(E2BIG, () -> cpu.regList(0));
    }

    @Test
    void c2_list_everyListedIdCanBeRead() throws ErrnoException {
        for (long id : cpu.regList(47)) {
            cpu.getOneReg(id, new byte[RiscvVectorRegisters.regSize(id)]);
        }
    }
}
