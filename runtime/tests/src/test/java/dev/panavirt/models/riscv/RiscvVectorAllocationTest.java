package dev.panavirt.models.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/** ONE_REG get/set, load/put and guest vector execution allocate nothing. */
class RiscvVectorAllocationTest extends RiscvVectorFixture {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    interface Body {
        void run() throws Exception;
    }

    static long allocated(Body body) throws Exception {
        for (int i = 0; i < 5; i++) {
            body.run();
        }
        long tid = Thread.currentThread().threadId();
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 7; i++) {
            long before = THREADS.getThreadAllocatedBytes(tid);
            body.run();
            min = Math.min(min, THREADS.getThreadAllocatedBytes(tid) - before);
        }
        return min;
    }

    @Test
    void oneRegAccessAllocatesNothing() throws Exception {
        byte[] csr = le(7);
        byte[] vreg = pattern(16, 1);
        byte[] out = new byte[16];
        long[] vregIds = new long[32];
        for (int n = 0; n < 32; n++) {
            vregIds[n] = RiscvVectorRegisters.vregId(n, 16);
        }
        long bytes = allocated(() -> {
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
    void loadPutAndGuestExecutionAllocateNothing() throws Exception {
        byte[] v = pattern(16, 9);
        byte[] out = new byte[16];
        long bytes = allocated(() -> {
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
