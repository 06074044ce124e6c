package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPC_COLLECTION_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPC_PROCNUM_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPD_DEVICE_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPD_ITTSIZE_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPTI_ID_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPTI_PHYSICALID_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPTI_UNMAPPED_DEVICE;
import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static dev.panavirt.models.gicv3.ItsRig.itt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.models.gicv3.ItsDevice.CollectionMapping;
import dev.panavirt.models.gicv3.ItsDevice.DeviceMapping;
import dev.panavirt.models.gicv3.ItsDevice.Translation;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * MAPD, MAPC, MAPTI and MAPI, and the table checks behind them (arch/arm64/kvm/vgic/vgic-its.c
 * {@code vgic_its_cmd_handle_mapd/mapc/mapi()}, {@code vgic_its_check_id()}, {@code vgic_its_check_event_id()}).
 */
class ItsMappingCommandsTest {

    private final ItsRig rig = ItsRig.ready();

    /** Disables the ITS, rewrites one base register, enables again. */
    private void rebase(int n, long value) {
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write64(ItsRegisters.baser(n), value);
        rig.write32(ItsRegisters.GITS_CTLR, 1);
        assertTrue(rig.its.isEnabled());
    }

    private String unchanged() {
        return rig.its.state().replaceAll("creadr=0x[0-9a-f]+ cwriter=0x[0-9a-f]+ ", "");
    }

    // ---- Table-ID checks (vgic_its_check_id) --------------------------------------------------------

    @Test
    void flatDeviceTableHoldsOneEntryPerEightBytes() {
        assertEquals(0, rig.run(ItsCommand.mapd(8191, 4, itt(1), true)));
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(8192, 4, itt(1), true)));
        rebase(0, ItsRig.BASER0 | 1); // two pages
        assertEquals(0, rig.run(ItsCommand.mapd(8192, 4, itt(2), true)));
    }

    @ParameterizedTest
    @ValueSource(longs = {0x1_0000L, 0x1_0001L, 0xFFFF_FFFFL})
    void deviceIdsAboveSixteenBitsAreOutOfRange(long deviceId) {
        rebase(0, ItsRig.BASER0 | 0x1F); // 32 pages: room for 2^18 entries
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(deviceId, 4, itt(1), true)));
        assertEquals(0, rig.run(ItsCommand.mapd(0xFFFF, 4, itt(1), true)));
    }

    @Test
    void deviceEntryOutsideGuestMemoryIsOutOfRange() {
        rebase(0, ItsRegisters.VALID | (ItsRig.RAM + ItsRig.RAM_SIZE - 0x1_0000) | 1); // half outside RAM
        assertEquals(0, rig.run(ItsCommand.mapd(8191, 4, itt(1), true)));
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(8192, 4, itt(1), true)));
        rebase(0, ItsRegisters.VALID | 0x1_0000_0000L);
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(0, 4, itt(1), true)));
    }

    @Test
    void indirectDeviceTableNeedsAValidLevel1Entry() {
        long l1 = ItsRig.DEVICE_TABLE;
        long l2 = 0x4008_0000L;
        rebase(0, ItsRig.BASER0 | ItsRegisters.BASER_INDIRECT);
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(5, 4, itt(5), true)), "L1 entry 0 invalid");
        rig.poke(l1, ItsTables.L1_VALID | l2);
        assertEquals(0, rig.run(ItsCommand.mapd(5, 4, itt(5), true)));
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(8192, 4, itt(6), true)), "L1 entry 1 invalid");
        rig.poke(l1 + 8, ItsTables.L1_VALID | 0x2_0000_0000L); // L2 page outside RAM
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(8192, 4, itt(6), true)));
        rig.poke(l1 + 8, ItsTables.L1_VALID | 0x4009_0000L | 0xFFFF); // low bits ignored
        assertEquals(0, rig.run(ItsCommand.mapd(8193, 4, itt(6), true)));
        rig.poke(0x4009_0008L, -1L);
        rig.run(ItsCommand.mapd(8193, 4, itt(6), false));
        assertEquals(0, rig.mem(0x4009_0008L), "MAPD V=0 cleared the level-2 entry");
    }

    @Test
    void unreadableLevel1TableMeansOutOfRange() {
        rebase(0, ItsRegisters.VALID | ItsRegisters.BASER_INDIRECT | 0x1_0000_0000L);
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(1, 4, itt(1), true)));
    }

    @Test
    void collectionTableHoldsOneEntryPerEightBytes() {
        assertEquals(0, rig.run(ItsCommand.mapc(8191, 0, true)));
        assertEquals(E_ITS_MAPC_COLLECTION_OOR, rig.run(ItsCommand.mapc(8192, 0, true)));
        rebase(1, ItsRegisters.VALID | 0x1_0000_0000L);
        assertEquals(E_ITS_MAPC_COLLECTION_OOR, rig.run(ItsCommand.mapc(2, 0, true)));
    }

    // ---- MAPD ----------------------------------------------------------------------------------------------

    @Test
    void mapdMapsADeviceToItsItt() {
        assertEquals(0, rig.run(ItsCommand.mapd(3, 5, itt(3), true)));
        assertEquals(List.of(new DeviceMapping(3, itt(3), 5)), rig.its.devices());
    }

    @Test
    void mapdIttAddressIsUsedAsIsFromBits51To8() {
        rig.run(ItsCommand.encode(ItsCommand.MAPD, 3, 4, 1L << 63 | 0x000F_FFFF_FFFF_FF00L | 0x7F, 0));
        assertEquals(0x000F_FFFF_FFFF_FF00L, rig.its.devices().get(0).itt());
    }

    @Test
    void mapdMoreThanSixteenEventIdBitsIsIttSizeOutOfRange() {
        assertEquals(0, rig.run(ItsCommand.mapd(3, 16, itt(3), true)));
        assertEquals(E_ITS_MAPD_ITTSIZE_OOR, rig.run(ItsCommand.mapd(4, 17, itt(4), true)));
        assertEquals(E_ITS_MAPD_ITTSIZE_OOR, rig.run(ItsCommand.mapd(3, 32, itt(3), true)));
        assertEquals(List.of(new DeviceMapping(3, itt(3), 16)), rig.its.devices(), "failed MAPD changed nothing");
        assertEquals(0, rig.run(ItsCommand.mapd(3, 32, itt(3), false)), "size not checked when unmapping");
        assertTrue(rig.its.devices().isEmpty());
    }

    @Test
    void mapdOfAMappedDeviceStartsAfresh() throws ErrnoException {
        rig.mapDevice(3, 4);
        rig.map(3, 1, LPI, 0);
        rig.map(3, 2, LPI + 1, 1);
        assertEquals(1, rig.vgic.signalMsi(ItsRig.ITS_BASE, 1, 1, 3));
        assertEquals(0, rig.run(ItsCommand.mapd(3, 8, itt(9), true)));
        assertEquals(List.of(new DeviceMapping(3, itt(9), 8)), rig.its.devices());
        assertTrue(rig.its.translations().isEmpty(), "old ITEs freed");
        assertTrue(rig.vgic.lpiStates().isEmpty(), "their LPIs released");
        assertEquals(0, rig.vgic.signalMsi(ItsRig.ITS_BASE, 1, 1, 3), "cached translation gone");
    }

    @Test
    void mapdUnmapClearsTheDeviceTableEntryInGuestMemory() {
        long dte = ItsRig.DEVICE_TABLE + 3 * 8;
        rig.poke(dte, -1L);
        rig.mapDevice(3, 4);
        rig.map(3, 0, LPI, 0);
        assertEquals(0, rig.run(ItsCommand.mapd(3, 4, 0, false)));
        assertEquals(0, rig.mem(dte));
        assertTrue(rig.its.devices().isEmpty());
        assertTrue(rig.vgic.lpiStates().isEmpty());
        rig.poke(dte + 8, -1L);
        assertEquals(0, rig.run(ItsCommand.mapd(4, 1, 0, false)), "unmapping an unknown device is fine");
        assertEquals(0, rig.mem(dte + 8), "and still clears its entry");
    }

    @Test
    void mapdOutOfRangeChangesNothing() {
        rig.mapDevice(3, 4);
        String before = unchanged();
        assertEquals(E_ITS_MAPD_DEVICE_OOR, rig.run(ItsCommand.mapd(9000, 4, 0, false)));
        assertEquals(before, unchanged());
    }

    // ---- MAPC ----------------------------------------------------------------------------------------------

    @Test
    void mapcMapsACollectionToAVcpu() {
        assertEquals(List.of(new CollectionMapping(0, 0), new CollectionMapping(1, 1)), rig.its.collections());
    }

    @ParameterizedTest
    @ValueSource(longs = {2, 3, 0x7FFF_FFFFL, 0xFFFF_FFFFL})
    void mapcToAMissingVcpuIsProcnumOutOfRange(long vcpu) {
        assertEquals(E_ITS_MAPC_PROCNUM_OOR, rig.run(ItsCommand.mapc(5, vcpu, true)));
        assertEquals(E_ITS_MAPC_PROCNUM_OOR, rig.run(ItsCommand.mapc(0, vcpu, true)), "also for a known ICID");
        assertEquals(2, rig.its.collections().size());
        assertEquals(0, rig.its.collections().get(0).targetVcpu());
    }

    @Test
    void mapcTargetsAreVcpuIdsNotIndexes() throws ErrnoException {
        HeapGuestRam ram = new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE);
        Vgic vgic = new Vgic(ram, new int[] {4, 9}, 40);
        ItsDevice its = vgic.createDevice(dev.panavirt.bindings.kvm.arm64.kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
        its.setAttr(ItsRig.grpAddr(), dev.panavirt.bindings.kvm.arm64.kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), ItsRig.ITS_BASE, 8);
        its.mmioWrite(ItsRegisters.GITS_CBASER, 8, ItsRig.CBASER);
        its.mmioWrite(ItsRegisters.baser(0), 8, ItsRig.BASER0);
        its.mmioWrite(ItsRegisters.baser(1), 8, ItsRig.BASER1);
        its.mmioWrite(ItsRegisters.GITS_CTLR, 4, 1);
        long[][] cmds = {ItsCommand.mapc(0, 1, true), ItsCommand.mapc(1, 9, true)};
        for (int i = 0; i < cmds.length; i++) {
            for (int w = 0; w < 4; w++) {
                ram.writeLong(ItsRig.QUEUE + 32L * i + 8L * w, cmds[i][w]);
            }
        }
        its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, 64);
        assertEquals(List.of(new CollectionMapping(1, 9)), its.collections());
    }

    @Test
    void mapcUnmapRemovesTheCollectionAndOrphansItsInterrupts() throws ErrnoException {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 0);
        rig.vgic.signalMsi(ItsRig.ITS_BASE, 0, 1, 1);
        assertTrue(rig.its.translation(1, 0).orElseThrow().cached());
        assertEquals(0, rig.run(ItsCommand.mapc(0, 0, false)));
        assertEquals(List.of(new CollectionMapping(1, 1)), rig.its.collections());
        Translation t = rig.its.translation(1, 0).orElseThrow();
        assertEquals(-1, t.icid(), "ITE kept with no collection");
        assertFalse(t.cached(), "cache flushed");
        assertEquals(0, rig.run(ItsCommand.mapc(0, 0, true)), "a new collection 0");
        assertEquals(-1, rig.its.translation(1, 0).orElseThrow().icid(), "the old ITE stays orphaned");
        assertEquals(ItsCommand.E_ITS_INT_UNMAPPED_INTERRUPT, rig.run(ItsCommand.event(ItsCommand.INT, 1, 0)));
    }

    @Test
    void mapcUnmapIgnoresTargetAndUnknownCollections() {
        assertEquals(0, rig.run(ItsCommand.mapc(77, 0xFFFF_FFFFL, false)));
        assertEquals(0, rig.run(ItsCommand.mapc(1, 0xFFFF_FFFFL, false)));
        assertEquals(List.of(new CollectionMapping(0, 0)), rig.its.collections());
    }

    @Test
    void mapcRemapRetargetsTheCollectionsLpis() {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 0);
        rig.map(1, 1, LPI + 1, 1);
        rig.run(ItsCommand.event(ItsCommand.INT, 1, 0));
        assertEquals(0, rig.run(ItsCommand.mapc(0, 1, true)));
        assertEquals(1, rig.vgic.lpi(LPI).orElseThrow().targetVcpu());
        assertEquals(1, rig.vgic.lpi(LPI + 1).orElseThrow().targetVcpu());
        assertEquals(0, rig.vgic.pendingLpis(0).length);
        assertEquals(LPI, rig.vgic.pendingLpis(1)[0], "pending state moved with the LPI");
        assertEquals(List.of(new CollectionMapping(0, 1), new CollectionMapping(1, 1)), rig.its.collections());
    }

    // ---- MAPTI / MAPI --------------------------------------------------------------------------------------

    @Test
    void maptiMapsAnEventToAnLpiWithItsConfiguration() {
        rig.mapDevice(1, 4);
        rig.prop(LPI + 5, 0xA1);
        assertEquals(0, rig.run(ItsCommand.mapti(1, 3, LPI + 5, 1)));
        assertEquals(new Translation(1, 3, LPI + 5, 1, 1, false), rig.its.translation(1, 3).orElseThrow());
        assertEquals(new LpiState(LPI + 5, 0xA0, true, false, 1, 1), rig.vgic.lpi(LPI + 5).orElseThrow());
        rig.prop(LPI + 6, 0x52);
        rig.run(ItsCommand.mapti(1, 4, LPI + 6, 1));
        assertEquals(new LpiState(LPI + 6, 0x50, false, false, 1, 1), rig.vgic.lpi(LPI + 6).orElseThrow(),
                "group bit ignored, priority masked to 0xFC");
    }

    @Test
    void mapiUsesTheEventIdAsTheLpi() {
        rig.mapDevice(1, 16);
        rig.prop(LPI + 9, 0x11);
        assertEquals(0, rig.run(ItsCommand.mapi(1, LPI + 9, 0)));
        assertEquals(LPI + 9, rig.its.translation(1, LPI + 9).orElseThrow().intid());
        assertEquals(E_ITS_MAPTI_PHYSICALID_OOR, rig.run(ItsCommand.mapi(1, 5, 0)));
    }

    @Test
    void maptiOnAnUnmappedDevice() {
        assertEquals(E_ITS_MAPTI_UNMAPPED_DEVICE, rig.run(ItsCommand.mapti(1, 0, LPI, 0)));
        assertEquals(E_ITS_MAPTI_UNMAPPED_DEVICE, rig.run(ItsCommand.mapi(1, LPI, 0)));
    }

    @Test
    void maptiEventIdBeyondTheIttIsOutOfRange() {
        rig.mapDevice(1, 2);
        assertEquals(0, rig.run(ItsCommand.mapti(1, 3, LPI, 0)));
        assertEquals(E_ITS_MAPTI_ID_OOR, rig.run(ItsCommand.mapti(1, 4, LPI, 0)));
        assertEquals(E_ITS_MAPTI_ID_OOR, rig.run(ItsCommand.mapti(1, 0xFFFF_FFFFL, LPI, 0)));
    }

    @Test
    void maptiIttEntryOutsideGuestMemoryIsOutOfRange() {
        long itt = ItsRig.RAM + ItsRig.RAM_SIZE - 0x100; // room for events 0 to 31
        assertEquals(0, rig.run(ItsCommand.mapd(1, 8, itt, true)));
        assertEquals(0, rig.run(ItsCommand.mapti(1, 31, LPI, 0)));
        assertEquals(E_ITS_MAPTI_ID_OOR, rig.run(ItsCommand.mapti(1, 32, LPI, 0)));
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 8191, 1L << 16, 1L << 31, 0xFFFF_FFFFL})
    void maptiLpiOutsideTheLpiRangeIsPhysicalIdOutOfRange(long intid) {
        rig.mapDevice(1, 4);
        assertEquals(E_ITS_MAPTI_PHYSICALID_OOR, rig.run(ItsCommand.mapti(1, 0, intid, 0)));
        assertTrue(rig.its.translations().isEmpty());
    }

    @Test
    void maptiLpiBoundComesFromPropbaserIdBits() {
        rig.mapDevice(1, 4);
        rig.vgic.redistributors().writeCtlr(1, 0);
        rig.vgic.redistributors().writePropbaser(1, ItsRig.PROP_TABLE | 13); // 14 bits
        assertEquals(E_ITS_MAPTI_PHYSICALID_OOR, rig.run(ItsCommand.mapti(1, 0, 1 << 14, 0)));
        assertEquals(0, rig.run(ItsCommand.mapti(1, 0, (1 << 14) - 1, 0)));
        rig.vgic.redistributors().writePropbaser(1, ItsRig.PROP_TABLE | 23); // capped at 16 bits
        assertEquals(E_ITS_MAPTI_PHYSICALID_OOR, rig.run(ItsCommand.mapti(1, 1, 1 << 16, 0)));
        assertEquals(0, rig.run(ItsCommand.mapti(1, 1, (1 << 16) - 1, 0)));
    }

    @Test
    void maptiBeforePropbaserIsProgrammedIsOutOfRange() throws ErrnoException {
        ItsRig r = new ItsRig();
        r.vgic.redistributors().writePendbaser(0, ItsRig.PEND_TABLE_0);
        r.vgic.redistributors().writeCtlr(0, 1);
        r.enable();
        r.command(ItsCommand.mapc(0, 0, true));
        r.mapDevice(1, 4);
        assertEquals(E_ITS_MAPTI_PHYSICALID_OOR, r.run(ItsCommand.mapti(1, 0, LPI, 0)), "IDbits 0: 2 INTIDs");
    }

    @Test
    void maptiOfAnExistingMappingChangesNothing() {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 0);
        String before = unchanged();
        assertEquals(0, rig.run(ItsCommand.mapti(1, 0, LPI + 7, 1)));
        assertEquals(0, rig.run(ItsCommand.mapti(1, 0, LPI, 4000)));
        assertEquals(before, unchanged());
    }

    @Test
    void maptiToAnUnknownCollectionCreatesItUnmapped() {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 42);
        assertEquals(new CollectionMapping(42, -1), rig.its.collections().get(2));
        assertEquals(new Translation(1, 0, LPI, 42, -1, false), rig.its.translation(1, 0).orElseThrow());
        assertEquals(-1, rig.vgic.lpi(LPI).orElseThrow().targetVcpu());
        assertEquals(0, rig.run(ItsCommand.mapc(42, 1, true)), "mapping it later targets the LPI");
        assertEquals(1, rig.vgic.lpi(LPI).orElseThrow().targetVcpu());
    }

    @Test
    void maptiToAnUnknownCollectionBeyondTheTableIsMapcCollectionOutOfRange() {
        rig.mapDevice(1, 4);
        assertEquals(E_ITS_MAPC_COLLECTION_OOR, rig.run(ItsCommand.mapti(1, 0, LPI, 8192)));
        assertTrue(rig.its.translations().isEmpty());
        assertEquals(2, rig.its.collections().size());
    }

    @Test
    void theSameLpiIsSharedBetweenEventsAndItses() throws ErrnoException {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 0);
        rig.map(1, 1, LPI, 1);
        LpiState shared = rig.vgic.lpi(LPI).orElseThrow();
        assertEquals(2, shared.references());
        assertEquals(0, shared.targetVcpu(), "the existing LPI keeps its target");
        rig.run(ItsCommand.event(ItsCommand.DISCARD, 1, 0));
        assertEquals(1, rig.vgic.lpi(LPI).orElseThrow().references());
        rig.run(ItsCommand.event(ItsCommand.DISCARD, 1, 1));
        assertTrue(rig.vgic.lpi(LPI).isEmpty());
    }

    @Test
    void maptiRollsBackWhenThePropertyByteIsUnreadable() {
        rig.mapDevice(1, 4);
        rig.vgic.redistributors().writeCtlr(1, 0);
        rig.vgic.redistributors().writePropbaser(1, 0x1_0000_0000L | 15);
        assertEquals(-Errno.EFAULT, rig.run(ItsCommand.mapti(1, 0, LPI, 99)));
        assertTrue(rig.its.translations().isEmpty());
        assertTrue(rig.vgic.lpiStates().isEmpty());
        assertEquals(2, rig.its.collections().size(), "the implicit collection was rolled back too");
    }

    @Test
    void maptiLoadsAndConsumesThePendingBit() {
        rig.mapDevice(1, 4);
        long pendByte = ItsRig.PEND_TABLE_0 + (LPI + 3) / 8;
        rig.poke(pendByte & ~7, 0xFFL << ((pendByte & 7) * 8));
        rig.map(1, 0, LPI + 3, 0);
        assertTrue(rig.vgic.lpi(LPI + 3).orElseThrow().pending());
        long remaining = (rig.mem(pendByte & ~7) >>> ((pendByte & 7) * 8)) & 0xFF;
        assertEquals(0xFF & ~(1 << ((LPI + 3) % 8)), remaining, "only this LPI's bit consumed");
        rig.map(1, 1, LPI + 4, 1);
        assertFalse(rig.vgic.lpi(LPI + 4).orElseThrow().pending(), "vCPU 1's table is clear");
    }

    @Test
    void maptiIntoAnUnmappedCollectionReadsNoPendingBit() {
        rig.mapDevice(1, 4);
        rig.poke(ItsRig.PEND_TABLE_0 + LPI / 8, 0xFF);
        rig.map(1, 0, LPI, 50);
        assertFalse(rig.vgic.lpi(LPI).orElseThrow().pending());
    }

    @Test
    void maptiRollsBackWhenThePendingTableIsUnreadable() {
        rig.mapDevice(1, 4);
        rig.vgic.redistributors().writeCtlr(1, 0);
        rig.vgic.redistributors().writePendbaser(1, 0x1_0000_0000L);
        rig.prop(LPI, 0xA1);
        assertEquals(-Errno.EFAULT, rig.run(ItsCommand.mapti(1, 0, LPI, 1)));
        assertTrue(rig.its.translations().isEmpty());
        assertEquals(0, rig.run(ItsCommand.mapti(1, 0, LPI, 0)), "vCPU 0's table is fine");
    }
}
