package dev.panavirt.models.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.ErrnoException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.function.Executable;

/** Shorthands for the RISC-V vector model tests. */
class RiscvVectorFixture {

    static final long VSTART_ID = 0x8030_0000_0900_0000L;
    static final long VL_ID = 0x8030_0000_0900_0001L;
    static final long VTYPE_ID = 0x8030_0000_0900_0002L;
    static final long VCSR_ID = 0x8030_0000_0900_0003L;
    static final long VLENB_ID = 0x8030_0000_0900_0004L;
    static final long DATAP_ID = 0x8030_0000_0900_0005L;
    static final long V_ISA_ID = 0x8030_0000_0700_000FL;

    RiscvVectorUnit cpu = new RiscvVectorUnit(RiscvVectorUnit.Config.DEFAULT);

    static byte[] le(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    static long le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** A vlenb-byte register image whose bytes are seed, seed+1, ... */
    static byte[] pattern(int vlenb, int seed) {
        byte[] b = new byte[vlenb];
        for (int i = 0; i < vlenb; i++) {
            b[i] = (byte) (seed + i);
        }
        return b;
    }

    long get(long id) throws ErrnoException {
        byte[] b = new byte[8];
        cpu.getOneReg(id, b);
        return le(b);
    }

    void set(long id, long v) throws ErrnoException {
        cpu.setOneReg(id, le(v));
    }

    byte[] getV(int n) throws ErrnoException {
        byte[] b = new byte[cpu.vlenb()];
        cpu.getOneReg(RiscvVectorRegisters.vregId(n, cpu.vlenb()), b);
        return b;
    }

    void setV(int n, byte[] value) throws ErrnoException {
        cpu.setOneReg(RiscvVectorRegisters.vregId(n, cpu.vlenb()), value);
    }

    static void assertErrno(int errno, Executable call) {
        assertErrno(errno, call, "");
    }

    static void assertErrno(int errno, Executable call, String why) {
        ErrnoException e = assertThrows(ErrnoException.class, call, why);
        assertEquals(errno, e.errno(), why + ": " + e.getMessage());
    }
}
