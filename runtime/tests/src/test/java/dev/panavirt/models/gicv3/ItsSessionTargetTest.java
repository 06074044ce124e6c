package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.replay.targets.ItsSessionTarget;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The ITS behind the scripted-session contract, and its deterministic state line. */
class ItsSessionTargetTest {

    private static final long BASE = 0x0808_0000L;
    private static final long QUEUE = 0x4001_0000L;
    private static final long PROP = 0x4004_0000L;
    private static final long PEND0 = 0x4006_0000L;
    private static final int REDIST = kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS();

    private final ItsSessionTarget t = ItsSessionTarget.create();

    private static long redist(int vcpu, int offset) {
        return ItsSessionTarget.mpidrOf(vcpu) << 32 | offset;
    }

    private static byte[] commands(long[]... cmds) {
        ByteBuffer b = ByteBuffer.allocate(32 * cmds.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long[] c : cmds) {
            for (long w : c) {
                b.putLong(w);
            }
        }
        return b.array();
    }

    /** A small session written only with SessionTarget operations. */
    private static void script(ItsSessionTarget s) throws ErrnoException {
        s.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        s.setAttr(REDIST, redist(0, Redistributors.GICR_PROPBASER), PROP | 15, 8);
        s.setAttr(REDIST, redist(0, Redistributors.GICR_PENDBASER), PEND0, 8);
        s.setAttr(REDIST, redist(0, Redistributors.GICR_CTLR), 1, 4);
        s.memWrite(PROP, new byte[] {(byte) 0xA1, 0x60});
        s.write(ItsRegisters.GITS_CBASER, 8, ItsRegisters.VALID | QUEUE | 15);
        s.write(ItsRegisters.baser(0), 8, ItsRegisters.VALID | 0x4002_0000L);
        s.write(ItsRegisters.baser(1), 8, ItsRegisters.VALID | 0x4003_0000L);
        s.write(ItsRegisters.GITS_CTLR, 4, 1);
        s.memWrite(QUEUE, commands(ItsCommand.mapc(0, 0, true), ItsCommand.mapd(1, 4, 0x4010_0000L, true),
                ItsCommand.mapti(1, 0, 8192, 0), ItsCommand.mapti(1, 1, 8193, 5)));
        s.write(ItsRegisters.GITS_CWRITER, 8, 4 * 32);
    }

    @Test
    void aScriptedSessionProgramsTheItsAndDeliversAnMsi() throws ErrnoException {
        script(t);
        assertEquals(0x80, t.read(ItsRegisters.GITS_CREADR, 8));
        assertEquals(0x8000_0001L, t.read(ItsRegisters.GITS_CTLR, 4));
        assertEquals(1, t.signalMsi(BASE + ItsRegisters.GITS_TRANSLATER, 0, 1));
        assertEquals(0, t.signalMsi(BASE + ItsRegisters.GITS_TRANSLATER, 1, 1), "collection 5 is unmapped");
        assertEquals("its@0x8080000 ctlr=0x80000001 cbaser=0x980000004001000f creadr=0x80 cwriter=0x80"
                + " baser0=0x9907000040020200 baser1=0x9c07000040030200; collections 0:v0 5:-;"
                + " devices 0x1:itt=0x40100000,bits=4; translations 0x1/0x0:8192,icid=0,v0,cached"
                + " 0x1/0x1:8193,icid=5,-; lpis 8192:v0,prio=0xa0,en,pend 8193:-,prio=0x60;"
                + " pending v0=8192 v1= v2= v3=", t.state());
    }

    @Test
    void theStateLineIsDeterministic() throws ErrnoException {
        ItsSessionTarget other = ItsSessionTarget.create();
        script(t);
        script(other);
        t.signalMsi(BASE, 0, 1);
        other.signalMsi(BASE, 0, 1);
        assertEquals(t.state(), other.state());
        assertFalse(t.state().contains("\n"));
    }

    @Test
    void stateBeforeTheFrameIsPlaced() {
        assertTrue(t.state().startsWith("its@undef ctlr=0x80000000 "), t.state());
        assertTrue(t.state().endsWith("; pending v0= v1= v2= v3="), t.state());
    }

    @Test
    void nameAndDevice() {
        assertEquals("its-model", t.name());
        assertEquals(8, t.device().type());
    }

    // ---- Register access ----------------------------------------------------------------------------------

    @Test
    void registerAccessNeedsThePlacedFrame() throws ErrnoException {
        assertErrno(Errno.ENXIO, () -> t.read(ItsRegisters.GITS_IIDR, 4));
        assertErrno(Errno.ENXIO, () -> t.write(ItsRegisters.GITS_CTLR, 4, 1));
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        assertEquals(0x4B00_043BL, t.read(ItsRegisters.GITS_IIDR, 4));
        assertEquals(0, t.read(ItsRegisters.GITS_IIDR, 1), "byte access reads zero");
    }

    @Test
    void registerAccessOutsideTheFrameIsEnxio() throws ErrnoException {
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        assertErrno(Errno.ENXIO, () -> t.read(0x2_0000, 4));
        assertErrno(Errno.ENXIO, () -> t.read(0x1_FFFC, 8));
        assertErrno(Errno.ENXIO, () -> t.write(-4, 4, 0));
        assertEquals(0, t.read(0x1_FFFC, 4));
    }

    @Test
    void widthsOutsideOneToEightAreRejected() throws ErrnoException {
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        assertThrows(IllegalArgumentException.class, () -> t.read(0, 0));
        assertThrows(IllegalArgumentException.class, () -> t.write(0, 16, 0));
    }

    @Test
    void writesAreTruncatedToTheirWidth() throws ErrnoException {
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        t.write(ItsRegisters.GITS_CBASER, 8, 0);
        t.write(ItsRegisters.GITS_CBASER + 4, 4, 0xFFFF_FFFF_1800_0000L);
        assertEquals(0x1800_0000_0000_0000L, t.read(ItsRegisters.GITS_CBASER, 8));
    }

    // ---- Memory -----------------------------------------------------------------------------------------

    @Test
    void memoryRoundTripAndFaults() {
        t.memWrite(0x4000_1000L, new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {0, 1, 2, 3, 0}, t.memRead(0x4000_0FFFL, 5));
        assertThrows(IllegalArgumentException.class, () -> t.memRead(0x1000, 4));
        assertThrows(IllegalArgumentException.class, () -> t.memWrite(0x3FFF_FFFEL, new byte[4]));
    }

    // ---- Attributes -------------------------------------------------------------------------------------

    @Test
    void itsAttributesAreTheDevicesOwn() throws ErrnoException {
        assertTrue(t.hasAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_CTRL_RESET()));
        assertErrno(Errno.ENXIO, () -> t.getAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS(), ItsRegisters.GITS_IIDR, 4));
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        assertEquals(0x4B00_043BL, t.getAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS(), ItsRegisters.GITS_IIDR, 4));
    }

    @Test
    void redistributorRegistersByMpidr() throws ErrnoException {
        t.setAttr(REDIST, redist(3, Redistributors.GICR_PENDBASER), PEND0 | Redistributors.PENDBASER_PTZ, 8);
        assertEquals(PEND0 | 3L << 7, t.getAttr(REDIST, redist(3, Redistributors.GICR_PENDBASER), 8));
        assertEquals(0, t.getAttr(REDIST, redist(3, Redistributors.GICR_CTLR), 4));
        t.setAttr(REDIST, redist(3, Redistributors.GICR_CTLR), 1, 4);
        assertEquals(1, t.getAttr(REDIST, redist(3, Redistributors.GICR_CTLR), 4));
        assertTrue(t.device().vgic().redistributors().lpisEnabled(3));
        assertTrue(t.hasAttr(REDIST, redist(1, Redistributors.GICR_PROPBASER)));
        assertFalse(t.hasAttr(REDIST, redist(1, 0x08)));
    }

    @Test
    void redistributorRegistersOfAnUnknownMpidrAreEinval() {
        assertErrno(Errno.EINVAL, () -> t.getAttr(REDIST, redist(4, 0), 4));
        assertErrno(Errno.EINVAL, () -> t.setAttr(REDIST, 0x100L << 32, 1, 4));
        assertErrno(Errno.EINVAL, () -> t.hasAttr(REDIST, redist(9, 0)));
    }

    @Test
    void unmodelledRedistributorRegistersAreEnxio() {
        assertErrno(Errno.ENXIO, () -> t.getAttr(REDIST, redist(0, 0x08), 8));
        assertErrno(Errno.ENXIO, () -> t.setAttr(REDIST, redist(0, 0x1_0100), 0, 4));
    }

    @Test
    void defaultMpidrAffinityOfVcpuIds() {
        assertEquals(0x0, ItsSessionTarget.mpidrOf(0));
        assertEquals(0xF, ItsSessionTarget.mpidrOf(15));
        assertEquals(0x101, ItsSessionTarget.mpidrOf(17));
        assertEquals(0x01_00_00L, ItsSessionTarget.mpidrOf(1 << 12));
        assertEquals(0x0100_0000L, ItsSessionTarget.mpidrOf(1 << 20));
    }

    // ---- vCPUs, MSIs and what an ITS does not have ----------------------------------------------------------

    @Test
    void aLoadedVcpuMakesControlAttributesBusy() throws ErrnoException {
        t.vcpuLoad(2);
        assertErrno(Errno.EBUSY, () -> t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES(), 0, 8));
        t.vcpuPut(2);
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES(), 0, 8);
    }

    @Test
    void unknownVcpusAreEinval() {
        assertErrno(Errno.EINVAL, () -> t.vcpuLoad(4));
        assertErrno(Errno.EINVAL, () -> t.vcpuPut(-1));
    }

    @Test
    void msiErrorsCarryTheKernelsErrno() throws ErrnoException {
        assertErrno(Errno.EINVAL, () -> t.signalMsi(BASE, 0, 1));
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), BASE, 8);
        assertErrno(Errno.EBUSY, () -> t.signalMsi(BASE, 0, 1));
    }

    @Test
    void oneRegAndLinesDoNotExist() {
        assertThrows(UnsupportedOperationException.class, () -> t.getOneReg(0, 0));
        assertThrows(UnsupportedOperationException.class, () -> t.setOneReg(0, 0, new byte[8]));
        assertThrows(UnsupportedOperationException.class, () -> t.setIrq(0, true));
    }
}
