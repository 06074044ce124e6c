package dev.panavirt.models.loongarch;

import static dev.panavirt.base.Errno.EINVAL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.targets.EiointcSessionTarget;
import org.junit.jupiter.api.Test;

/** The scripted-session contract over the EIOINTC model. */
class EiointcSessionTargetTest {

    private final EiointcSessionTarget s;

    EiointcSessionTargetTest() throws ErrnoException {
        s = EiointcSessionTarget.create(8);
    }

    @Test
    void readsReportTheBytesReadZeroExtended() throws ErrnoException {
        s.write(0x1C00, 8, 0x8000_0000_0000_8080L);
        assertEquals(0x80, s.read(0x1C00, 1));
        assertEquals(0x8080, s.read(0x1C00, 2));
        assertEquals(0x8000_0000_0000_8080L, s.read(0x1C00, 8));
        EiointcFixture.assertErrno(EINVAL, () -> s.read(0x1C01, 2));
    }

    @Test
    void accessesAreMadeByTheLastLoadedVcpu() throws ErrnoException {
        s.write(0x1600, 8, -1L);
        s.write(0x1C05, 1, 0x04);
        s.setIrq(5, true);
        assertEquals(0, s.read(0x1800, 8));
        s.vcpuLoad(2);
        assertEquals(1L << 5, s.read(0x1800, 8));
        s.vcpuPut(2);
        assertEquals("asserted vcpu2.ip0", s.state());
        s.write(0x1800, 8, 1L << 5);
        assertEquals("asserted none", s.state());
        EiointcFixture.assertErrno(EINVAL, () -> s.vcpuLoad(8));
        EiointcFixture.assertErrno(EINVAL, () -> s.vcpuPut(-1));
    }

    @Test
    void stateListsAssertedPinsInVcpuThenPinOrder() throws ErrnoException {
        s.setAttr(0x4000_0004, 1, 0xF, 4);
        s.write(0x4000_0004L, 4, 0xC);
        s.write(0x14C0, 8, 0x0000_0000_0005_0300L);
        s.write(0x1600, 8, -1L);
        s.write(0x1620 - 0x18, 8, -1L);
        s.write(0x1C00 + 40, 1, 7); // vector 40 -> vCPU 7, IP3
        s.write(0x1C00 + 70, 1, 1); // vector 70 -> vCPU 1, IP5
        s.write(0x1C00 + 2, 1, 7); // vector 2 -> vCPU 7, IP0
        s.setIrq(40, true);
        s.setIrq(70, true);
        s.setIrq(2, true);
        assertEquals("asserted vcpu1.ip5 vcpu7.ip0 vcpu7.ip3", s.state());
    }

    @Test
    void attributesPassThrough() throws ErrnoException {
        s.setAttr(0x4000_0004, 0, 8, 4);
        assertEquals(8, s.getAttr(0x4000_0003, 0, 4));
        EiointcFixture.assertErrno(dev.panavirt.base.Errno.EPERM, () -> s.hasAttr(0x4000_0004, 0));
    }

    @Test
    void badLinesFailWithEinvalAndOtherOperationsAreUnsupported() {
        EiointcFixture.assertErrno(EINVAL, () -> s.setIrq(256, true));
        EiointcFixture.assertErrno(EINVAL, () -> s.setIrq(-1, false));
        assertThrows(UnsupportedOperationException.class, () -> s.memWrite(0, new byte[1]));
        assertThrows(UnsupportedOperationException.class, () -> s.memRead(0, 1));
        assertThrows(UnsupportedOperationException.class, () -> s.getOneReg(0, 0));
        assertThrows(UnsupportedOperationException.class, () -> s.setOneReg(0, 0, new byte[8]));
        assertThrows(UnsupportedOperationException.class, () -> s.signalMsi(0, 0, 0));
        assertEquals("eiointc-model", s.name());
    }
}
