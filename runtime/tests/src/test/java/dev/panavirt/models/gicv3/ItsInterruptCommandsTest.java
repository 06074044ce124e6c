package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsCommand.CLEAR;
import static dev.panavirt.models.gicv3.ItsCommand.DISCARD;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_CLEAR_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_DISCARD_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_INT_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_INVALL_UNMAPPED_COLLECTION;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_INV_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MOVALL_PROCNUM_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MOVI_UNMAPPED_COLLECTION;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MOVI_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.INT;
import static dev.panavirt.models.gicv3.ItsCommand.INV;
import static dev.panavirt.models.gicv3.ItsCommand.event;
import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import org.junit.jupiter.api.Test;

/**
 * MOVI, DISCARD, CLEAR, INV, INVALL, MOVALL and INT (arch/arm64/kvm/vgic/vgic-its.c
 * {@code vgic_its_cmd_handle_*()}).
 */
class ItsInterruptCommandsTest {

    private static final int VALID_DEVID = kvm_h.KVM_MSI_VALID_DEVID();

    private final ItsRig rig = ItsRig.ready();

    ItsInterruptCommandsTest() {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 0);       // vCPU 0
        rig.map(1, 1, LPI + 1, 1);   // vCPU 1
        rig.map(1, 2, LPI + 2, 77);  // collection 77 exists but is unmapped
    }

    private LpiState lpi(long intid) {
        return rig.vgic.lpi(intid).orElseThrow();
    }

    private boolean cached(long dev, long ev) {
        return rig.its.translation(dev, ev).orElseThrow().cached();
    }

    private String unchanged() {
        return rig.its.state().replaceAll("creadr=0x[0-9a-f]+ cwriter=0x[0-9a-f]+ ", "");
    }

    // ---- INT ---------------------------------------------------------------------------------------------

    @Test
    void intMakesTheLpiPendingOnItsTargetAndCachesTheTranslation() {
        assertEquals(0, rig.run(event(INT, 1, 0)));
        assertTrue(lpi(LPI).pending());
        assertArrayEquals(new long[] {LPI}, rig.vgic.pendingLpis(0));
        assertArrayEquals(new long[0], rig.vgic.pendingLpis(1));
        assertTrue(cached(1, 0));
    }

    @Test
    void intLatchesPendingEvenForADisabledLpi() {
        rig.prop(LPI + 5, 0xA0);
        rig.run(ItsCommand.mapti(1, 5, LPI + 5, 1));
        assertEquals(0, rig.run(event(INT, 1, 5)));
        assertFalse(lpi(LPI + 5).enabled());
        assertTrue(lpi(LPI + 5).pending());
    }

    @Test
    void intWithoutAMappingIsUnmappedInterrupt() {
        assertEquals(E_ITS_INT_UNMAPPED_INTERRUPT, rig.run(event(INT, 1, 9)));
        assertEquals(E_ITS_INT_UNMAPPED_INTERRUPT, rig.run(event(INT, 2, 0)));
        assertEquals(E_ITS_INT_UNMAPPED_INTERRUPT, rig.run(event(INT, 1, 2)), "collection unmapped");
        assertFalse(lpi(LPI + 2).pending());
    }

    @Test
    void intToAVcpuWithLpisDisabledIsEbusy() {
        rig.vgic.redistributors().writeCtlr(1, 0);
        assertEquals(-Errno.EBUSY, rig.run(event(INT, 1, 1)));
        assertFalse(lpi(LPI + 1).pending());
        assertFalse(cached(1, 1), "nothing cached");
    }

    // ---- CLEAR -------------------------------------------------------------------------------------------

    @Test
    void clearDropsThePendingLatch() {
        rig.run(event(INT, 1, 0));
        assertEquals(0, rig.run(event(CLEAR, 1, 0)));
        assertFalse(lpi(LPI).pending());
    }

    @Test
    void clearIgnoresTheCollection() {
        rig.run(ItsCommand.mapc(77, 0, true));
        rig.run(event(INT, 1, 2));
        rig.run(ItsCommand.mapc(77, 0, false));
        assertTrue(lpi(LPI + 2).pending());
        assertEquals(0, rig.run(event(CLEAR, 1, 2)), "collection gone, CLEAR still works");
        assertFalse(lpi(LPI + 2).pending());
    }

    @Test
    void clearWithoutAMappingIsUnmappedInterrupt() {
        assertEquals(E_ITS_CLEAR_UNMAPPED_INTERRUPT, rig.run(event(CLEAR, 1, 9)));
        assertEquals(E_ITS_CLEAR_UNMAPPED_INTERRUPT, rig.run(event(CLEAR, 5, 0)));
    }

    // ---- INV / INVALL ------------------------------------------------------------------------------------

    @Test
    void invRereadsThePropertyByte() {
        rig.prop(LPI, 0x40);
        assertEquals(new LpiState(LPI, 0xA0, true, false, 0, 1), lpi(LPI), "cached until INV");
        assertEquals(0, rig.run(event(INV, 1, 0)));
        assertEquals(new LpiState(LPI, 0x40, false, false, 0, 1), lpi(LPI));
    }

    @Test
    void invWithoutAMappingIsUnmappedInterrupt() {
        assertEquals(E_ITS_INV_UNMAPPED_INTERRUPT, rig.run(event(INV, 1, 9)));
    }

    @Test
    void invWithAnUnreadablePropertyTableFailsWithEfault() {
        rig.vgic.redistributors().writeCtlr(1, 0);
        rig.vgic.redistributors().writePropbaser(1, 0x1_0000_0000L | 15);
        assertEquals(-Errno.EFAULT, rig.run(event(INV, 1, 0)));
        assertEquals(0xA0, lpi(LPI).priority());
    }

    @Test
    void invallRereadsEveryLpiTargetingTheCollectionsVcpu() {
        rig.map(1, 3, LPI + 3, 0); // a second LPI on vCPU 0
        rig.prop(LPI, 0x10);
        rig.prop(LPI + 1, 0x20);
        rig.prop(LPI + 3, 0x31);
        assertEquals(0, rig.run(ItsCommand.invall(0)));
        assertEquals(0x10, lpi(LPI).priority());
        assertFalse(lpi(LPI).enabled());
        assertEquals(0x30, lpi(LPI + 3).priority());
        assertEquals(0xA0, lpi(LPI + 1).priority(), "vCPU 1's LPI untouched");
    }

    @Test
    void invallOfAMissingOrUnmappedCollection() {
        assertEquals(E_ITS_INVALL_UNMAPPED_COLLECTION, rig.run(ItsCommand.invall(5)));
        assertEquals(E_ITS_INVALL_UNMAPPED_COLLECTION, rig.run(ItsCommand.invall(77)));
    }

    // ---- MOVI --------------------------------------------------------------------------------------------

    @Test
    void moviMovesTheInterruptAndRetargetsItsLpi() throws ErrnoException {
        rig.run(event(INT, 1, 0));
        assertTrue(cached(1, 0));
        assertEquals(0, rig.run(ItsCommand.movi(1, 0, 1)));
        assertEquals(1, rig.its.translation(1, 0).orElseThrow().icid());
        assertEquals(1, lpi(LPI).targetVcpu());
        assertArrayEquals(new long[] {LPI}, rig.vgic.pendingLpis(1), "pending state follows");
        assertFalse(cached(1, 0), "cache flushed");
    }

    @Test
    void moviOfAMissingInterrupt() {
        assertEquals(E_ITS_MOVI_UNMAPPED_INTERRUPT, rig.run(ItsCommand.movi(1, 9, 1)));
        assertEquals(E_ITS_MOVI_UNMAPPED_INTERRUPT, rig.run(ItsCommand.movi(3, 0, 1)));
    }

    @Test
    void moviFromAnUnmappedCollection() {
        String before = unchanged();
        assertEquals(E_ITS_MOVI_UNMAPPED_COLLECTION, rig.run(ItsCommand.movi(1, 2, 1)));
        assertEquals(before, unchanged());
        rig.run(ItsCommand.mapc(0, 0, false));
        assertEquals(E_ITS_MOVI_UNMAPPED_COLLECTION, rig.run(ItsCommand.movi(1, 0, 1)), "orphaned ITE");
    }

    @Test
    void moviToAMissingOrUnmappedCollection() {
        String before = unchanged();
        assertEquals(E_ITS_MOVI_UNMAPPED_COLLECTION, rig.run(ItsCommand.movi(1, 0, 5)));
        assertEquals(E_ITS_MOVI_UNMAPPED_COLLECTION, rig.run(ItsCommand.movi(1, 0, 77)));
        assertEquals(before, unchanged());
    }

    // ---- DISCARD -----------------------------------------------------------------------------------------

    @Test
    void discardRemovesTheInterruptAndZeroesItsIttEntry() throws ErrnoException {
        long ite = ItsRig.itt(1) + 1 * 8;
        rig.poke(ite, -1L);
        rig.run(event(INT, 1, 0));
        assertEquals(1, rig.vgic.signalMsi(ItsRig.ITS_BASE, 0, VALID_DEVID, 1));
        assertEquals(0, rig.run(event(DISCARD, 1, 1)));
        assertEquals(0, rig.mem(ite));
        assertTrue(rig.its.translation(1, 1).isEmpty());
        assertTrue(rig.vgic.lpi(LPI + 1).isEmpty(), "last reference dropped");
        assertFalse(cached(1, 0), "the whole cache is flushed");
    }

    @Test
    void discardOfAMissingInterrupt() {
        assertEquals(E_ITS_DISCARD_UNMAPPED_INTERRUPT, rig.run(event(DISCARD, 1, 9)));
        assertEquals(E_ITS_DISCARD_UNMAPPED_INTERRUPT, rig.run(event(DISCARD, 4, 0)));
    }

    @Test
    void discardNeedsAMappedCollection() {
        long ite = ItsRig.itt(1) + 2 * 8;
        rig.poke(ite, 0x1234);
        assertEquals(E_ITS_DISCARD_UNMAPPED_INTERRUPT, rig.run(event(DISCARD, 1, 2)));
        assertTrue(rig.its.translation(1, 2).isPresent());
        assertEquals(0x1234, rig.mem(ite), "guest memory untouched");
    }

    // ---- MOVALL ------------------------------------------------------------------------------------------

    @Test
    void movallRetargetsEveryLpiOfTheVmRegardlessOfSource() throws ErrnoException {
        HeapGuestRam ram = new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE);
        ItsRig three = new ItsRig(new Vgic(ram, 3));
        three.redistributors();
        three.vgic.redistributors().writePendbaser(2, 0x4008_0000L);
        three.vgic.redistributors().writeCtlr(2, 1);
        three.enable();
        three.command(ItsCommand.mapc(0, 0, true), ItsCommand.mapc(2, 2, true));
        three.mapDevice(1, 4);
        three.map(1, 0, LPI, 0);
        three.map(1, 1, LPI + 1, 2);
        three.run(event(INT, 1, 0));
        assertEquals(0, three.run(ItsCommand.movall(0, 1)));
        assertEquals(1, three.vgic.lpi(LPI).orElseThrow().targetVcpu());
        assertEquals(1, three.vgic.lpi(LPI + 1).orElseThrow().targetVcpu(), "vCPU 2's LPI moved too");
        assertArrayEquals(new long[] {LPI}, three.vgic.pendingLpis(1));
        assertEquals(new ItsDevice.CollectionMapping(0, 0), three.its.collections().get(0),
                "collections themselves are not retargeted");
    }

    @Test
    void movallFlushesEveryItsCache() throws ErrnoException {
        rig.run(event(INT, 1, 0));
        assertTrue(cached(1, 0));
        assertEquals(0, rig.run(ItsCommand.movall(1, 0)));
        assertFalse(cached(1, 0));
        assertEquals(0, lpi(LPI + 1).targetVcpu());
    }

    @Test
    void movallWithAMissingVcpuIsProcnumOutOfRange() {
        String before = unchanged();
        assertEquals(E_ITS_MOVALL_PROCNUM_OOR, rig.run(ItsCommand.movall(0, 2)));
        assertEquals(E_ITS_MOVALL_PROCNUM_OOR, rig.run(ItsCommand.movall(5, 1)));
        assertEquals(E_ITS_MOVALL_PROCNUM_OOR, rig.run(ItsCommand.movall(0xFFFF_FFFFL, 0xFFFF_FFFFL)));
        assertEquals(before, unchanged());
    }

    @Test
    void movallToTheSameVcpuDoesNothing() {
        rig.run(event(INT, 1, 0));
        String before = unchanged();
        assertEquals(0, rig.run(ItsCommand.movall(1, 1)));
        assertEquals(before, unchanged());
        assertTrue(cached(1, 0), "cache kept");
    }
}
