package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.EFAULT;
import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.ENOENT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.targets.RiscvVectorSessionTarget;
import org.junit.jupiter.api.Test;

/** The scripted-session contract over RISC-V vector vCPUs. */
class RiscvVectorSessionTargetTest {

    private final RiscvVectorSessionTarget s = new RiscvVectorSessionTarget(2, RiscvVectorUnit.Config.DEFAULT);

    @Test
    void oneRegThroughTheSession() throws ErrnoException {
        assertArrayEquals(RiscvVectorFixture.le(16), s.getOneReg(0, RiscvVectorFixture.VLENB_ID));
        byte[] v = RiscvVectorFixture.pattern(16, 3);
        s.setOneReg(1, 0x8040_0000_0900_0006L, v);
        assertArrayEquals(v, s.getOneReg(1, 0x8040_0000_0900_0006L));
        assertArrayEquals(new byte[16], s.getOneReg(0, 0x8040_0000_0900_0006L), "vCPUs are separate");
        RiscvVectorFixture.assertErrno(ENOENT, () -> s.getOneReg(0, RiscvVectorFixture.DATAP_ID));
        RiscvVectorFixture.assertErrno(EFAULT, () -> s.setOneReg(0, RiscvVectorFixture.VSTART_ID, new byte[4]));
        RiscvVectorFixture.assertErrno(EINVAL, () -> s.getOneReg(2, RiscvVectorFixture.VLENB_ID));
    }

    @Test
    void loadAndPutDriveTheStateLine() throws ErrnoException {
        assertEquals("vcpu0 V=on VS=Initial loaded=no ran=no vlenb=16; "
                + "vcpu1 V=on VS=Initial loaded=no ran=no vlenb=16", s.state());
        s.vcpuLoad(0);
        assertEquals("vcpu0 V=on VS=Clean loaded=yes ran=yes vlenb=16; "
                + "vcpu1 V=on VS=Initial loaded=no ran=no vlenb=16", s.state());
        s.vcpu(0).guestVectorInstruction();
        s.vcpuPut(0);
        assertEquals("vcpu0 V=on VS=Clean loaded=no ran=yes vlenb=16; "
                + "vcpu1 V=on VS=Initial loaded=no ran=no vlenb=16", s.state());
        RiscvVectorFixture.assertErrno(EINVAL, () -> s.vcpuLoad(-1));
        RiscvVectorFixture.assertErrno(EINVAL, () -> s.vcpuPut(5));
    }

    @Test
    void otherOperationsAreUnsupported() {
        assertThrows(UnsupportedOperationException.class, () -> s.read(0, 4));
        assertThrows(UnsupportedOperationException.class, () -> s.write(0, 4, 0));
        assertThrows(UnsupportedOperationException.class, () -> s.memWrite(0, new byte[1]));
        assertThrows(UnsupportedOperationException.class, () -> s.memRead(0, 1));
        assertThrows(UnsupportedOperationException.class, () -> s.getAttr(0, 0, 4));
        assertThrows(UnsupportedOperationException.class, () -> s.setAttr(0, 0, 0, 4));
        assertThrows(UnsupportedOperationException.class, () -> s.hasAttr(0, 0));
        assertThrows(UnsupportedOperationException.class, () -> s.setIrq(0, true));
        assertThrows(UnsupportedOperationException.class, () -> s.signalMsi(0, 0, 0));
        assertEquals("riscv-vector-model", s.name());
    }
}
