package dev.panavirt.models.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.testsupport.Allocations;
import org.junit.jupiter.api.Test;

/** ONE_REG get/set (vector and ISA_EXT), load/put and guest vector execution allocate nothing. */
class RiscvVectorAllocationTest extends RiscvVectorFixture {

    @Test
    void oneRegAccessAllocatesNothing() throws Exception {
        byte[] csr = le(7);
        byte[] vreg = pattern(16, 1);
        byte[] out = new byte[16];
        long[] vregIds = new long[32];
        for (int n = 0; n < 32; n++) {
            vregIds[n] = RiscvVectorRegisters.vregId(n, 16);
        }
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                cpu.setOneReg(VSTART_ID + (i & 3), csr);
                cpu.getOneReg(VSTART_ID + (i % 5), out);
                cpu.setOneReg(vregIds[i & 31], vreg);
                cpu.getOneReg(vregIds[(i + 7) & 31], out);
                cpu.setOneReg(VLENB_ID, le16);
                cpu.getOneReg(V_ISA_ID, out);
            }
        });
        assertEquals(0, bytes);
    }

    private final byte[] le16 = le(16);

    @Test
    void isaExtAccessAllocatesNothing() throws Exception {
        long multiEn = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_EN, 0);
        long multiDis = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_DIS, 0);
        long d = RiscvVectorRegisters.isaExtId(RiscvIsaExt.D.id());
        byte[] zero = le(0);
        byte[] one = le(1);
        byte[] out = new byte[8];
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                cpu.getOneReg(RiscvVectorRegisters.isaExtId(i % 7), out); // A C D F H I M: all on the default host
                cpu.setOneReg(d, (i & 1) == 0 ? zero : one);
                cpu.getOneReg(multiEn, out);
                cpu.getOneReg(multiDis, out);
                cpu.setOneReg(multiEn, one);
            }
        });
        assertEquals(0, bytes);
    }

    @Test
    void loadPutAndGuestExecutionAllocateNothing() throws Exception {
        byte[] v = pattern(16, 9);
        byte[] out = new byte[16];
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                cpu.load();
                cpu.guestReadVreg(i & 31, out);
                if ((i & 1) == 0) {
                    cpu.guestWriteVreg(i & 31, v);
                }
                cpu.put();
            }
        });
        assertEquals(0, bytes);
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
    }
}
