package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.assertErrno;
import static dev.panavirt.models.gicv3.ItsRig.grpAddr;
import static dev.panavirt.models.gicv3.ItsRig.grpCtrl;
import static dev.panavirt.models.gicv3.ItsRig.grpRegs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Device creation and the three attribute groups (arch/arm64/kvm/vgic/vgic-its.c {@code vgic_its_create()},
 * {@code vgic_its_set_attr/get_attr/has_attr()}, {@code vgic_its_ctrl()}, {@code vgic_its_attr_regs_access()}).
 */
class ItsAttributesTest {

    private static final int ADDR_TYPE = kvm_h.KVM_VGIC_ITS_ADDR_TYPE();
    private static final long INIT = kvm_h.KVM_DEV_ARM_VGIC_CTRL_INIT();
    private static final long SAVE = kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES();
    private static final long RESTORE = kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES();
    private static final long RESET = kvm_h.KVM_DEV_ARM_ITS_CTRL_RESET();

    private final HeapGuestRam ram = new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE);
    private final Vgic vgic = new Vgic(ram, 2);

    private ItsDevice fresh() throws ErrnoException {
        return vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
    }

    // ---- Creation ---------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 4, 5, 7, 9, 13})
    void createWithAnotherTypeFailsEnodev(int type) {
        assertErrno(Errno.ENODEV, () -> vgic.createDevice(type));
        assertTrue(vgic.devices().isEmpty());
    }

    @Test
    void createdItsIsAModelOfTypeEight() throws ErrnoException {
        ItsDevice its = fresh();
        assertEquals(8, its.type());
        assertEquals(DeviceAttributes.Backend.MODEL, its.backend());
        assertEquals(ItsRegisters.ADDR_UNDEF, its.baseAddress());
    }

    @Test
    void creatingAnItsResetsPropbaser() throws ErrnoException {
        fresh();
        vgic.redistributors().writePropbaser(0, ItsRig.PROPBASER);
        assertEquals(ItsRig.PROPBASER | 3L << 7, vgic.redistributors().propbaser(), "inner nCnB sanitised to RaWb");
        fresh();
        assertEquals(0x580L, vgic.redistributors().propbaser());
        assertEquals(Redistributors.INITIAL_PROPBASER, vgic.redistributors().propbaser());
    }

    @Test
    void severalItsesEachWithTheirOwnFrame() throws ErrnoException {
        ItsDevice a = fresh();
        ItsDevice b = fresh();
        a.setAttr(grpAddr(), ADDR_TYPE, 0x0808_0000L, 8);
        b.setAttr(grpAddr(), ADDR_TYPE, 0x0810_0000L, 8);
        assertEquals(List.of(a, b), vgic.devices());
        assertEquals(0x0808_0000L, a.getAttr(grpAddr(), ADDR_TYPE, 8));
        assertEquals(0x0810_0000L, b.getAttr(grpAddr(), ADDR_TYPE, 8));
    }

    // ---- KVM_HAS_DEVICE_ATTR ---------------------------------------------------------------------------

    @Test
    void hasAttrAddressTypeOnly() throws ErrnoException {
        ItsDevice its = fresh();
        assertTrue(its.hasAttr(grpAddr(), ADDR_TYPE));
        assertFalse(its.hasAttr(grpAddr(), 0));
        assertFalse(its.hasAttr(grpAddr(), 3));
    }

    @Test
    void hasAttrControlInitSaveRestoreReset() throws ErrnoException {
        ItsDevice its = fresh();
        for (long attr : new long[] {INIT, SAVE, RESTORE, RESET}) {
            assertTrue(its.hasAttr(grpCtrl(), attr), "ctrl " + attr);
        }
        assertFalse(its.hasAttr(grpCtrl(), kvm_h.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES()), "3 is the distributor's");
        assertFalse(its.hasAttr(grpCtrl(), 5));
    }

    @Test
    void hasAttrRegistersByRegionWithoutNeedingAnAddress() throws ErrnoException {
        ItsDevice its = fresh();
        for (long off : new long[] {0x0, 0x4, 0x8, 0x80, 0x88, 0x90, 0x100, 0x108, 0x138, 0xFFD0, 0xFFD4, 0xFFFC}) {
            assertTrue(its.hasAttr(grpRegs(), off), "offset 0x" + Long.toHexString(off));
        }
        for (long off : new long[] {0x10, 0x18, 0x98, 0x140, 0xFFC8, 0x10000, 0x10040}) {
            assertFalse(its.hasAttr(grpRegs(), off), "offset 0x" + Long.toHexString(off));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0x1, 0x2, 0xC, 0x84, 0x8C, 0x104, 0xFFD2, 0xFFFE})
    void hasAttrMisalignedRegisterIsEinval(long offset) throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.EINVAL, () -> its.hasAttr(grpRegs(), offset));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 5, 6, 7, 9, 100})
    void hasAttrOtherGroupsIsFalse(int group) throws ErrnoException {
        assertFalse(fresh().hasAttr(group, 0));
    }

    // ---- KVM_DEV_ARM_VGIC_GRP_ADDR -----------------------------------------------------------------------

    @Test
    void addressUndefinedReadsAllOnes() throws ErrnoException {
        ItsDevice its = fresh();
        assertEquals(-1L, its.getAttr(grpAddr(), ADDR_TYPE, 8));
        assertEquals(0xFFFF_FFFFL, its.getAttr(grpAddr(), ADDR_TYPE, 4));
    }

    @Test
    void addressOtherTypeIsEnodev() throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.ENODEV, () -> its.setAttr(grpAddr(), 0, 0x0808_0000L, 8));
        assertErrno(Errno.ENODEV, () -> its.setAttr(grpAddr(), 2));
        assertErrno(Errno.ENODEV, () -> its.getAttr(grpAddr(), 1, 8));
    }

    @Test
    void addressWithoutPayloadIsEfault() throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.EFAULT, () -> its.setAttr(grpAddr(), ADDR_TYPE));
    }

    @Test
    void addressSetOnceThenEexistCheckedFirst() throws ErrnoException {
        ItsDevice its = fresh();
        its.setAttr(grpAddr(), ADDR_TYPE, 0x0808_0000L, 8);
        assertErrno(Errno.EEXIST, () -> its.setAttr(grpAddr(), ADDR_TYPE, 0x0809_0000L, 8));
        assertErrno(Errno.EEXIST, () -> its.setAttr(grpAddr(), ADDR_TYPE, 0x1234, 8));
        assertEquals(0x0808_0000L, its.getAttr(grpAddr(), ADDR_TYPE, 8));
    }

    @ParameterizedTest
    @ValueSource(longs = {0x1000, 0x0808_8000L, 0x10, 0xFFFF})
    void addressNot64KAlignedIsEinval(long addr) throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.EINVAL, () -> its.setAttr(grpAddr(), ADDR_TYPE, addr, 8));
        assertEquals(ItsRegisters.ADDR_UNDEF, its.baseAddress());
    }

    @Test
    void addressWrappingTheAddressSpaceIsEinval() throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.EINVAL, () -> its.setAttr(grpAddr(), ADDR_TYPE, 0xFFFF_FFFF_FFFF_0000L, 8));
        assertErrno(Errno.EINVAL, () -> its.setAttr(grpAddr(), ADDR_TYPE, 0xFFFF_FFFF_FFFE_0000L, 8));
        assertErrno(Errno.E2BIG, () -> its.setAttr(grpAddr(), ADDR_TYPE, 0xFFFF_FFFF_FFFD_0000L, 8));
    }

    @Test
    void addressBeyondTheIpaSpaceIsE2big() throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.E2BIG, () -> its.setAttr(grpAddr(), ADDR_TYPE, 1L << 40, 8));
        assertErrno(Errno.E2BIG, () -> its.setAttr(grpAddr(), ADDR_TYPE, (1L << 40) - 0x1_0000, 8));
        its.setAttr(grpAddr(), ADDR_TYPE, (1L << 40) - 0x2_0000, 8);
        assertEquals((1L << 40) - 0x2_0000, its.baseAddress());
    }

    @Test
    void addressBoundFollowsTheVmsIpaSize() throws ErrnoException {
        Vgic small = new Vgic(ram, new int[] {0}, 32);
        ItsDevice its = small.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
        assertErrno(Errno.E2BIG, () -> its.setAttr(grpAddr(), ADDR_TYPE, 0xFFFF_0000L, 8));
        its.setAttr(grpAddr(), ADDR_TYPE, 0xFFFE_0000L, 8);
    }

    @Test
    void placingTheFrameTellsTheListener() throws ErrnoException {
        List<long[]> seen = new ArrayList<>();
        vgic.onFrameMapped((its, base, size) -> seen.add(new long[] {base, size}));
        fresh().setAttr(grpAddr(), ADDR_TYPE, 0x0808_0000L, 8);
        assertEquals(1, seen.size());
        assertEquals(0x0808_0000L, seen.get(0)[0]);
        assertEquals(0x2_0000L, seen.get(0)[1]);
    }

    // ---- KVM_DEV_ARM_VGIC_GRP_CTRL -----------------------------------------------------------------------

    @Test
    void initSucceedsEvenWhileAVcpuRuns() throws ErrnoException {
        ItsDevice its = fresh();
        vgic.redistributors().load(1);
        its.setAttr(grpCtrl(), INIT);
        its.setAttr(grpCtrl(), INIT, 0, 8);
    }

    @Test
    void resetSaveRestoreWhileAVcpuRunsAreEbusy() throws ErrnoException {
        ItsDevice its = fresh();
        vgic.redistributors().load(0);
        for (long attr : new long[] {RESET, SAVE, RESTORE, 3, 5}) {
            assertErrno(Errno.EBUSY, () -> its.setAttr(grpCtrl(), attr));
        }
        vgic.redistributors().put(0);
        its.setAttr(grpCtrl(), RESET);
        its.setAttr(grpCtrl(), SAVE);
        its.setAttr(grpCtrl(), RESTORE);
    }

    @ParameterizedTest
    @ValueSource(longs = {3, 5, 6, 100})
    void unknownControlIsEnxio(long attr) throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.ENXIO, () -> its.setAttr(grpCtrl(), attr));
    }

    @Test
    void controlCannotBeRead() throws ErrnoException {
        ItsDevice its = fresh();
        for (long attr : new long[] {INIT, SAVE, RESTORE, RESET}) {
            assertErrno(Errno.ENXIO, () -> its.getAttr(grpCtrl(), attr, 8));
        }
    }

    @Test
    void unknownGroupsAreEnxio() throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.ENXIO, () -> its.setAttr(1, 0, 0, 8));
        assertErrno(Errno.ENXIO, () -> its.setAttr(5, 0));
        assertErrno(Errno.ENXIO, () -> its.getAttr(2, 0, 8));
    }

    // ---- KVM_DEV_ARM_VGIC_GRP_ITS_REGS -------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(longs = {0x2, 0xC, 0x84, 0x94, 0x10C, 0xFFD1})
    void registerOffsetsMustBeAligned(long offset) {
        ItsRig r = new ItsRig();
        r.vgic.redistributors().load(0);
        assertErrno(Errno.EINVAL, () -> r.regGet(offset));
        assertErrno(Errno.EINVAL, () -> r.regSet(offset, 0));
    }

    @Test
    void registersWhileAVcpuRunsAreEbusy() {
        ItsRig r = new ItsRig();
        r.vgic.redistributors().load(1);
        assertErrno(Errno.EBUSY, () -> r.regGet(ItsRegisters.GITS_CTLR));
        assertErrno(Errno.EBUSY, () -> r.regSet(ItsRegisters.GITS_CBASER, 0));
        assertErrno(Errno.EBUSY, () -> r.regGet(0x10));
    }

    @Test
    void registersBeforeTheAddressIsSetAreEnxio() throws ErrnoException {
        ItsDevice its = fresh();
        assertErrno(Errno.ENXIO, () -> its.getAttr(grpRegs(), ItsRegisters.GITS_IIDR, 8));
        assertErrno(Errno.ENXIO, () -> its.setAttr(grpRegs(), ItsRegisters.GITS_CBASER, 0, 8));
    }

    @ParameterizedTest
    @ValueSource(longs = {0x10, 0x18, 0x98, 0x140, 0x8000, 0xFFC8, 0x10040, 0x1FFD0})
    void registersWithNoRegionAreEnxio(long offset) {
        ItsRig r = new ItsRig();
        assertErrno(Errno.ENXIO, () -> r.regGet(offset));
        assertErrno(Errno.ENXIO, () -> r.regSet(offset, 0));
    }

    @Test
    void registersWithoutPayloadAreEfault() {
        ItsRig r = new ItsRig();
        assertErrno(Errno.EFAULT, () -> r.its.setAttr(grpRegs(), ItsRegisters.GITS_CBASER));
    }

    @Test
    void registerReadsUseTheFullRegisterWidth() throws ErrnoException {
        ItsRig r = new ItsRig();
        assertEquals(0x8000_0000L, r.regGet(ItsRegisters.GITS_CTLR));
        assertEquals(0x4B00_043BL, r.regGet(ItsRegisters.GITS_IIDR));
        assertEquals(0x1EF71L, r.regGet(ItsRegisters.GITS_TYPER));
        assertEquals(0x1907_0000_0000_0600L, r.regGet(ItsRegisters.baser(0)));
        assertEquals(0x1C07_0000_0000_0600L, r.regGet(ItsRegisters.baser(1)));
        assertEquals(0, r.regGet(ItsRegisters.baser(7)));
        assertEquals(0x3B, r.regGet(ItsRegisters.GITS_PIDR2));
        assertEquals(0, r.regGet(ItsRegisters.GITS_PIDR3));
    }

    @Test
    void sixtyFourBitRegistersAreWrittenWhole() throws ErrnoException {
        ItsRig r = new ItsRig();
        r.regSet(ItsRegisters.GITS_CBASER, ItsRig.CBASER);
        assertEquals(ItsRig.CBASER, r.read64(ItsRegisters.GITS_CBASER));
        r.regSet(ItsRegisters.baser(0), ItsRig.BASER0 | ItsRegisters.BASER_INDIRECT);
        assertEquals(ItsRegisters.sanitiseBaser(0, ItsRig.BASER0 | ItsRegisters.BASER_INDIRECT),
                r.read64(ItsRegisters.baser(0)));
    }

    @Test
    void iidrWriteSelectsRevisionZeroOnly() throws ErrnoException {
        ItsRig r = new ItsRig();
        r.regSet(ItsRegisters.GITS_IIDR, 0);
        r.regSet(ItsRegisters.GITS_IIDR, 0xFFFF_0FFFL);
        assertEquals(0x4B00_043BL, r.regGet(ItsRegisters.GITS_IIDR));
        assertErrno(Errno.EINVAL, () -> r.regSet(ItsRegisters.GITS_IIDR, 1L << 12));
        assertErrno(Errno.EINVAL, () -> r.regSet(ItsRegisters.GITS_IIDR, 0xFL << 12));
        assertEquals(ItsRegisters.INITIAL_BASER_DEVICE, r.regGet(ItsRegisters.baser(0)), "ABI commit keeps 8-byte entries");
    }

    @Test
    void creadrWriteWhileEnabledIsEbusy() {
        ItsRig r = ItsRig.ready();
        assertErrno(Errno.EBUSY, () -> r.regSet(ItsRegisters.GITS_CREADR, 0));
    }

    @Test
    void creadrWriteBeyondTheQueueIsEinval() throws ErrnoException {
        ItsRig r = new ItsRig();
        r.regSet(ItsRegisters.GITS_CBASER, ItsRig.CBASER); // 64 KiB
        assertErrno(Errno.EINVAL, () -> r.regSet(ItsRegisters.GITS_CREADR, 0x1_0000));
        r.regSet(ItsRegisters.GITS_CREADR, 0xFFFF);
        assertEquals(0xFFE0, r.regGet(ItsRegisters.GITS_CREADR), "masked to bits 19:5");
        r.regSet(ItsRegisters.GITS_CREADR, 1L << 20 | 0x40);
        assertEquals(0x40, r.regGet(ItsRegisters.GITS_CREADR));
    }

    @Test
    void readOnlyRegisterWritesAreSilentlyIgnored() throws ErrnoException {
        ItsRig r = new ItsRig();
        r.regSet(ItsRegisters.GITS_TYPER, 0);
        r.regSet(ItsRegisters.GITS_PIDR0, 0);
        r.regSet(ItsRegisters.baser(5), -1L);
        assertEquals(0x1EF71L, r.regGet(ItsRegisters.GITS_TYPER));
        assertEquals(0x92, r.regGet(ItsRegisters.GITS_PIDR0));
    }

    @Test
    void ctlrAndCwriterWritesFromUserspaceProcessCommands() throws ErrnoException {
        ItsRig r = new ItsRig().redistributors();
        r.regSet(ItsRegisters.GITS_CBASER, ItsRig.CBASER);
        r.regSet(ItsRegisters.baser(0), ItsRig.BASER0);
        r.regSet(ItsRegisters.baser(1), ItsRig.BASER1);
        long[] c = ItsCommand.mapc(9, 1, true);
        for (int i = 0; i < 4; i++) {
            r.poke(ItsRig.QUEUE + 8L * i, c[i]);
        }
        r.regSet(ItsRegisters.GITS_CWRITER, 32);
        assertEquals(0, r.regGet(ItsRegisters.GITS_CREADR), "disabled: queued only");
        r.regSet(ItsRegisters.GITS_CTLR, 1);
        assertEquals(32, r.regGet(ItsRegisters.GITS_CREADR));
        assertEquals(List.of(new ItsDevice.CollectionMapping(9, 1)), r.its.collections());
        c = ItsCommand.mapc(10, 0, true);
        for (int i = 0; i < 4; i++) {
            r.poke(ItsRig.QUEUE + 32 + 8L * i, c[i]);
        }
        r.regSet(ItsRegisters.GITS_CWRITER, 64);
        assertEquals(64, r.regGet(ItsRegisters.GITS_CREADR));
        assertEquals(2, r.its.collections().size());
    }

    @Test
    void payloadSizeMustBeFourOrEight() {
        ItsRig r = new ItsRig();
        assertThrows(IllegalArgumentException.class, () -> r.its.getAttr(grpRegs(), 0, 2));
        assertThrows(IllegalArgumentException.class, () -> r.its.setAttr(grpRegs(), 0, 0, 16));
    }

    @Test
    void closedDeviceRefusesAttributesButKeepsWorking() throws ErrnoException {
        ItsRig r = ItsRig.ready();
        r.its.close();
        r.its.close();
        assertThrows(IllegalStateException.class, () -> r.its.getAttr(grpAddr(), ADDR_TYPE, 8));
        assertThrows(IllegalStateException.class, () -> r.its.hasAttr(grpCtrl(), INIT));
        assertNotEquals(0, r.read32(ItsRegisters.GITS_CTLR) & 1);
        r.mapDevice(1, 2);
        r.map(1, 0, 8200, 0);
        assertEquals(1, r.vgic.signalMsi(ItsRig.ITS_BASE, 0, kvm_h.KVM_MSI_VALID_DEVID(), 1));
    }
}
