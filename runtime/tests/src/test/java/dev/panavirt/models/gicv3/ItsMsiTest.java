package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.ITS_BASE;
import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static dev.panavirt.models.gicv3.ItsRig.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * KVM_SIGNAL_MSI into the ITS: return values, errnos and the translation cache (arch/arm64/kvm/vgic/vgic-its.c
 * {@code vgic_its_inject_msi()}, {@code vgic_its_resolve_lpi()}, {@code vgic_its_cache_translation()}).
 */
class ItsMsiTest {

    private static final int VALID_DEVID = kvm_h.KVM_MSI_VALID_DEVID();

    private final ItsRig rig = ItsRig.ready();

    ItsMsiTest() {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 0);
        rig.map(1, 1, LPI + 1, 1);
        rig.map(1, 2, LPI + 2, 77); // unmapped collection
    }

    private int msi(long address, int data, int flags, int devid) throws ErrnoException {
        return rig.vgic.signalMsi(address, data, flags, devid);
    }

    private boolean cached(long dev, long ev) {
        return rig.its.translation(dev, ev).orElseThrow().cached();
    }

    @Test
    void mappedMsiReturnsOneAndMakesTheLpiPending() throws ErrnoException {
        assertEquals(1, msi(ITS_BASE + ItsRegisters.GITS_TRANSLATER, 1, VALID_DEVID, 1));
        assertArrayEquals(new long[] {LPI + 1}, rig.vgic.pendingLpis(1));
        assertTrue(cached(1, 1));
    }

    @Test
    void unmappedMsiReturnsZero() throws ErrnoException {
        assertEquals(0, msi(ITS_BASE, 9, VALID_DEVID, 1), "no ITE");
        assertEquals(0, msi(ITS_BASE, 0, VALID_DEVID, 2), "no device");
        assertEquals(0, msi(ITS_BASE, 2, VALID_DEVID, 1), "collection unmapped");
        assertEquals(0, msi(ITS_BASE, 0, VALID_DEVID, 0x1_0001), "DeviceID beyond 16 bits");
        assertEquals(0, msi(ITS_BASE, -1, VALID_DEVID, 1), "EventID 0xFFFFFFFF");
        assertEquals(0, rig.vgic.pendingLpis(0).length + rig.vgic.pendingLpis(1).length);
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 0x40, 0x1_0000, 0x1_0040, 0x1_FFFF})
    void anyAddressInsideTheFrameIsTheDoorbell(long offset) throws ErrnoException {
        assertEquals(1, msi(ITS_BASE + offset, 0, VALID_DEVID, 1));
    }

    @ParameterizedTest
    @ValueSource(longs = {-1, 0x2_0000, 0x10_0000})
    void aDoorbellOutsideEveryItsFrameIsEinval(long offset) {
        assertErrno(Errno.EINVAL, () -> msi(ITS_BASE + offset, 0, VALID_DEVID, 1));
    }

    @Test
    void addressHighBitsCount() {
        assertErrno(Errno.EINVAL, () -> msi(1L << 32 | ITS_BASE, 0, VALID_DEVID, 1));
    }

    @Test
    void withoutValidDevidIsEinval() {
        assertErrno(Errno.EINVAL, () -> msi(ITS_BASE, 0, 0, 1));
    }

    @Test
    void unknownFlagsAreEinvalEvenForACachedTranslation() throws ErrnoException {
        msi(ITS_BASE, 0, VALID_DEVID, 1);
        assertErrno(Errno.EINVAL, () -> msi(ITS_BASE, 0, 2 | VALID_DEVID, 1));
        assertErrno(Errno.EINVAL, () -> msi(ITS_BASE, 0, 0x8000_0000, 1));
    }

    @Test
    void aVmWithoutAnItsIsEnodev() {
        Vgic bare = new Vgic(new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE), 1);
        assertErrno(Errno.ENODEV, () -> bare.signalMsi(ITS_BASE, 0, VALID_DEVID, 1));
        assertErrno(Errno.ENODEV, () -> bare.signalMsi(ITS_BASE, 0, 0, 1));
    }

    @Test
    void anItsWithoutAnAddressReceivesNothing() throws ErrnoException {
        Vgic vgic = new Vgic(new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE), 1);
        vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
        assertErrno(Errno.EINVAL, () -> vgic.signalMsi(ITS_BASE, 0, VALID_DEVID, 1));
    }

    @Test
    void aDisabledItsIsEbusy() {
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        assertErrno(Errno.EBUSY, () -> msi(ITS_BASE, 0, VALID_DEVID, 1));
        assertErrno(Errno.EBUSY, () -> msi(ITS_BASE, 9, VALID_DEVID, 9));
    }

    @Test
    void aTargetWithLpisDisabledIsEbusy() throws ErrnoException {
        rig.vgic.redistributors().writeCtlr(1, 0);
        assertErrno(Errno.EBUSY, () -> msi(ITS_BASE, 1, VALID_DEVID, 1));
        assertFalse(rig.vgic.lpi(LPI + 1).orElseThrow().pending());
        assertEquals(1, msi(ITS_BASE, 0, VALID_DEVID, 1), "the other vCPU still takes LPIs");
    }

    // ---- Translation cache -----------------------------------------------------------------------------

    @Test
    void aCachedTranslationDoesNotNeedTheDeviceIdFlag() throws ErrnoException {
        assertEquals(1, msi(ITS_BASE, 0, VALID_DEVID, 1));
        rig.run(ItsCommand.event(ItsCommand.CLEAR, 1, 0));
        assertEquals(1, msi(ITS_BASE + 0x100, 0, 0, 1));
        assertTrue(rig.vgic.lpi(LPI).orElseThrow().pending());
    }

    @Test
    void intCommandsFillTheCacheToo() throws ErrnoException {
        rig.run(ItsCommand.event(ItsCommand.INT, 1, 1));
        assertTrue(cached(1, 1));
        assertEquals(1, msi(ITS_BASE, 1, 0, 1));
    }

    @Test
    void aCachedTranslationSkipsTheTargetChecks() throws ErrnoException {
        rig.vgic.redistributors().writeCtlr(1, 0);
        assertEquals(1, msi(ITS_BASE, 0, VALID_DEVID, 1)); // cached, targets vCPU 0
        rig.run(ItsCommand.mapc(0, 1, true));               // retarget: the cache is not flushed
        assertTrue(cached(1, 0));
        assertEquals(1, msi(ITS_BASE, 0, VALID_DEVID, 1), "cache hit although vCPU 1 has LPIs disabled");
        assertArrayEquals(new long[] {LPI}, rig.vgic.pendingLpis(1));
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write32(ItsRegisters.GITS_CTLR, 1);
        assertErrno(Errno.EBUSY, () -> msi(ITS_BASE, 0, VALID_DEVID, 1));
    }

    @Test
    void disablingTheItsFlushesItsCache() throws ErrnoException {
        msi(ITS_BASE, 0, VALID_DEVID, 1);
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        assertFalse(cached(1, 0));
        assertErrno(Errno.EBUSY, () -> msi(ITS_BASE, 0, VALID_DEVID, 1));
    }

    @Test
    void disablingLpisOnAnyRedistributorFlushesEveryItsCache() throws ErrnoException {
        msi(ITS_BASE, 0, VALID_DEVID, 1);
        rig.vgic.redistributors().writeCtlr(1, 0);
        assertFalse(cached(1, 0), "vCPU 0's translation flushed by vCPU 1's change");
    }

    @Test
    void resetFlushesTheCache() throws ErrnoException {
        msi(ITS_BASE, 0, VALID_DEVID, 1);
        rig.reset();
        assertEquals(0, rig.its.translations().size());
        assertErrno(Errno.EBUSY, () -> msi(ITS_BASE, 0, VALID_DEVID, 1));
    }

    @Test
    void eachItsTranslatesThroughItsOwnFrame() throws ErrnoException {
        ItsDevice second = rig.vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
        rig.vgic.redistributors().writeCtlr(0, 0);
        rig.vgic.redistributors().writeCtlr(1, 0);
        rig.redistributors(); // creating an ITS reset PROPBASER
        long base2 = 0x0820_0000L;
        second.setAttr(ItsRig.grpAddr(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), base2, 8);
        long queue2 = 0x4020_0000L;
        second.mmioWrite(ItsRegisters.GITS_CBASER, 8, ItsRegisters.VALID | queue2);
        second.mmioWrite(ItsRegisters.baser(0), 8, ItsRegisters.VALID | 0x4021_0000L);
        second.mmioWrite(ItsRegisters.baser(1), 8, ItsRegisters.VALID | 0x4022_0000L);
        second.mmioWrite(ItsRegisters.GITS_CTLR, 4, 1);
        long[][] cmds = {ItsCommand.mapc(0, 1, true), ItsCommand.mapd(1, 4, 0x4023_0000L, true),
                ItsCommand.mapti(1, 0, LPI + 50, 0)};
        rig.prop(LPI + 50, 0xA1);
        for (int i = 0; i < cmds.length; i++) {
            for (int w = 0; w < 4; w++) {
                rig.poke(queue2 + 32L * i + 8L * w, cmds[i][w]);
            }
        }
        second.mmioWrite(ItsRegisters.GITS_CWRITER, 8, 32L * cmds.length);
        assertEquals(1, msi(base2, 0, VALID_DEVID, 1));
        assertArrayEquals(new long[] {LPI + 50}, rig.vgic.pendingLpis(1));
        assertFalse(rig.vgic.lpi(LPI).orElseThrow().pending(), "the first ITS's mapping of (1, 0) untouched");
        assertEquals(1, msi(ITS_BASE, 0, VALID_DEVID, 1));
        assertTrue(rig.vgic.lpi(LPI).orElseThrow().pending());
    }

    @Test
    void errorsNameTheIoctlAndTheMessage() {
        try {
            msi(0x1234, 5, VALID_DEVID, 6);
        } catch (ErrnoException e) {
            assertEquals("KVM_SIGNAL_MSI", e.operation());
            assertTrue(e.getMessage().contains("address 0x1234 data 0x5 flags 0x1 devid 0x6"), e.getMessage());
            return;
        }
        throw new AssertionError("expected EINVAL");
    }
}
