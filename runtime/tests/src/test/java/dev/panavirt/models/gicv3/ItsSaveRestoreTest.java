package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.COLLECTION_TABLE;
import static dev.panavirt.models.gicv3.ItsRig.DEVICE_TABLE;
import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static dev.panavirt.models.gicv3.ItsRig.assertErrno;
import static dev.panavirt.models.gicv3.ItsRig.itt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsDevice.CollectionMapping;
import dev.panavirt.models.gicv3.ItsDevice.DeviceMapping;
import dev.panavirt.models.gicv3.ItsDevice.Translation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * KVM_DEV_ARM_ITS_SAVE_TABLES / RESTORE_TABLES, table ABI rev 0, and CTRL_RESET (arch/arm64/kvm/vgic/vgic-its.c
 * {@code vgic_its_save_tables_v0()}, {@code vgic_its_restore_tables_v0()}, {@code vgic_its_reset()}; "ITS Table
 * ABI REV0" in Documentation/virt/kvm/devices/arm-vgic-its.rst).
 */
class ItsSaveRestoreTest {

    private static final long V = 1L << 63;
    private static final long UNMAPPED = 0xFFFF_FFFFL;

    private final ItsRig rig = ItsRig.ready();

    /** Devices 1, 3, 10; collections 0, 1 and an unmapped 42; five ITEs, one LPI shared. */
    private void populate() {
        rig.mapDevice(1, 4);
        rig.mapDevice(3, 5);
        rig.mapDevice(10, 2);
        rig.map(1, 0, LPI, 0);
        rig.map(1, 3, LPI + 1, 1);
        rig.map(3, 0, LPI + 2, 42);
        rig.map(3, 31, LPI, 1);
        rig.map(10, 2, LPI + 3, 0);
        rig.prop(LPI + 1, 0x64); // disabled, priority 0x64, cached until INV
        rig.run(ItsCommand.event(ItsCommand.INV, 1, 3));
    }

    private static List<Translation> uncached(List<Translation> ts) {
        List<Translation> out = new ArrayList<>();
        for (Translation t : ts) {
            out.add(new Translation(t.deviceId(), t.eventId(), t.intid(), t.icid(), t.targetVcpu(), false));
        }
        return out;
    }

    /** What a VMM saves besides guest memory: the ITS registers, read through ITS_REGS. */
    private record Registers(long cbaser, long creadr, long cwriter, long baser0, long baser1, long iidr, long ctlr) {
        static Registers read(ItsRig r) throws ErrnoException {
            return new Registers(r.regGet(ItsRegisters.GITS_CBASER), r.regGet(ItsRegisters.GITS_CREADR),
                    r.regGet(ItsRegisters.GITS_CWRITER), r.regGet(ItsRegisters.baser(0)),
                    r.regGet(ItsRegisters.baser(1)), r.regGet(ItsRegisters.GITS_IIDR), r.regGet(ItsRegisters.GITS_CTLR));
        }

        /** The documented order: CBASER, the other registers except CTLR, RESTORE_TABLES, CTLR. */
        void restoreInto(ItsRig r) throws ErrnoException {
            r.regSet(ItsRegisters.GITS_CBASER, cbaser);
            r.regSet(ItsRegisters.GITS_CREADR, creadr);
            r.regSet(ItsRegisters.GITS_CWRITER, cwriter);
            r.regSet(ItsRegisters.GITS_IIDR, iidr);
            r.regSet(ItsRegisters.baser(0), baser0);
            r.regSet(ItsRegisters.baser(1), baser1);
            r.restore();
            r.regSet(ItsRegisters.GITS_CTLR, ctlr);
        }
    }

    // ---- Round trips -----------------------------------------------------------------------------------

    @Test
    void saveResetRestoreGivesTheSameTranslations() throws ErrnoException {
        populate();
        List<Translation> translations = uncached(rig.its.translations());
        List<CollectionMapping> collections = rig.its.collections();
        List<DeviceMapping> devices = rig.its.devices();
        List<LpiState> lpis = rig.vgic.lpiStates();
        Registers regs = Registers.read(rig);
        rig.save();

        rig.reset();
        assertTrue(rig.its.translations().isEmpty());
        assertTrue(rig.its.collections().isEmpty());
        assertTrue(rig.vgic.lpiStates().isEmpty());

        regs.restoreInto(rig);
        assertEquals(translations, rig.its.translations());
        assertEquals(collections, rig.its.collections());
        assertEquals(devices, rig.its.devices());
        assertEquals(lpis, rig.vgic.lpiStates());
        assertEquals(regs, Registers.read(rig));
        assertEquals(1, rig.vgic.signalMsi(ItsRig.ITS_BASE, 3, kvm_h.KVM_MSI_VALID_DEVID(), 1));
    }

    @Test
    void restoreIntoAFreshVmOverTheSameMemory() throws ErrnoException {
        populate();
        List<Translation> translations = uncached(rig.its.translations());
        Registers regs = Registers.read(rig);
        rig.save();

        ItsRig target = new ItsRig(new Vgic(rig.ram, 2));
        target.redistributors();
        regs.restoreInto(target);
        assertEquals(translations, target.its.translations());
        assertEquals(rig.its.collections(), target.its.collections());
        assertEquals(rig.vgic.lpiStates(), target.vgic.lpiStates());
        assertEquals(rig.its.state().replace("cached", "").replace(",,", ","),
                target.its.state().replace("cached", "").replace(",,", ","));
    }

    @Test
    void indirectDeviceTableRoundTrip() throws ErrnoException {
        long l2 = 0x4008_0000L;
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write64(ItsRegisters.baser(0), ItsRig.BASER0 | ItsRegisters.BASER_INDIRECT);
        rig.write32(ItsRegisters.GITS_CTLR, 1);
        rig.poke(DEVICE_TABLE, ItsTables.L1_VALID | l2);
        rig.poke(DEVICE_TABLE + 8, ItsTables.L1_VALID | (l2 + 0x1_0000));
        rig.mapDevice(2, 4);
        rig.mapDevice(8200, 4);
        rig.map(2, 1, LPI, 0);
        rig.map(8200, 7, LPI + 1, 1);
        List<Translation> translations = uncached(rig.its.translations());
        Registers regs = Registers.read(rig);
        rig.save();
        assertEquals(V | (8198L << 49) | (itt(2) >>> 8) << 5 | 3, rig.mem(l2 + 2 * 8), "DTE 2 points at 8200");
        assertEquals(V | (itt(8200) >>> 8) << 5 | 3, rig.mem(l2 + 0x1_0000 + 8 * 8));
        rig.reset();
        regs.restoreInto(rig);
        assertEquals(translations, rig.its.translations());
    }

    // ---- SAVE formats -----------------------------------------------------------------------------------

    @Test
    void saveWritesDteWithValidNextIttAndSize() throws ErrnoException {
        populate();
        rig.save();
        assertEquals(V | 2L << 49 | (itt(1) >>> 8) << 5 | 3, rig.mem(DEVICE_TABLE + 8));
        assertEquals(V | 7L << 49 | (itt(3) >>> 8) << 5 | 4, rig.mem(DEVICE_TABLE + 3 * 8));
        assertEquals(V | (itt(10) >>> 8) << 5 | 1, rig.mem(DEVICE_TABLE + 10 * 8), "last: next 0");
    }

    @Test
    void saveWritesItesSortedWithNextPintidAndIcid() throws ErrnoException {
        populate();
        rig.save();
        assertEquals(3L << 48 | (long) LPI << 16 | 0, rig.mem(itt(1)));
        assertEquals((long) (LPI + 1) << 16 | 1, rig.mem(itt(1) + 3 * 8));
        assertEquals(31L << 48 | (long) (LPI + 2) << 16 | 42, rig.mem(itt(3)));
        assertEquals((long) LPI << 16 | 1, rig.mem(itt(3) + 31 * 8));
        assertEquals((long) (LPI + 3) << 16, rig.mem(itt(10) + 2 * 8));
    }

    @Test
    void saveWritesCollectionsDenselyInListOrderThenATerminator() throws ErrnoException {
        populate();
        rig.run(ItsCommand.mapc(0, 0, false));
        rig.run(ItsCommand.mapc(0, 1, true)); // re-created: now last in the list
        rig.poke(COLLECTION_TABLE + 4 * 8, -1L);
        rig.save();
        assertEquals(V | 1L << 16 | 1, rig.mem(COLLECTION_TABLE));
        assertEquals(V | UNMAPPED << 16 | 42, rig.mem(COLLECTION_TABLE + 8));
        assertEquals(V | 1L << 16 | 0, rig.mem(COLLECTION_TABLE + 16));
        assertEquals(0, rig.mem(COLLECTION_TABLE + 24), "terminator");
        assertEquals(-1L, rig.mem(COLLECTION_TABLE + 32), "nothing after it");
    }

    @Test
    void saveLeavesUnusedSlotsAlone() throws ErrnoException {
        populate();
        rig.poke(DEVICE_TABLE + 5 * 8, 0x1234);
        rig.poke(itt(1) + 8, 0x5678);
        rig.save();
        assertEquals(0x1234, rig.mem(DEVICE_TABLE + 5 * 8));
        assertEquals(0x5678, rig.mem(itt(1) + 8));
    }

    @Test
    void saveCapsTheDeviceDeltaAndRestoreStillFindsTheNextDevice() throws ErrnoException {
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write64(ItsRegisters.baser(0), ItsRig.BASER0 | 2); // 3 pages: 24576 devices
        rig.write32(ItsRegisters.GITS_CTLR, 1);
        rig.mapDevice(0, 1);
        assertEquals(0, rig.run(ItsCommand.mapd(0x5000, 1, itt(7), true)));
        rig.map(0x5000, 1, LPI, 0);
        Registers regs = Registers.read(rig);
        rig.save();
        assertEquals(V | 16383L << 49 | (itt(0) >>> 8) << 5, rig.mem(DEVICE_TABLE));
        rig.reset();
        regs.restoreInto(rig);
        assertEquals(List.of(new DeviceMapping(0, itt(0), 1), new DeviceMapping(0x5000, itt(7), 1)),
                rig.its.devices());
        assertEquals(1, rig.its.translations().size());
    }

    @Test
    void saveOfAnOrphanedIteUsesTheIcidItWasMappedWith() throws ErrnoException {
        rig.mapDevice(1, 4);
        rig.map(1, 0, LPI, 1);
        rig.run(ItsCommand.mapc(1, 0, false));
        rig.save();
        assertEquals((long) LPI << 16 | 1, rig.mem(itt(1)));
    }

    @Test
    void saveAndRestoreDoNothingWithInvalidTables() throws ErrnoException {
        populate();
        rig.reset();
        rig.poke(DEVICE_TABLE, 0x77);
        rig.save();
        assertEquals(0x77, rig.mem(DEVICE_TABLE));
        rig.restore();
        assertTrue(rig.its.devices().isEmpty());
        assertTrue(rig.its.collections().isEmpty());
    }

    @Test
    void resetKeepsBaserFieldsButClearsValidAndTheQueue() throws ErrnoException {
        populate();
        long b0 = rig.read64(ItsRegisters.baser(0));
        rig.reset();
        assertEquals(b0 & ~V, rig.read64(ItsRegisters.baser(0)));
        assertEquals(0, rig.read64(ItsRegisters.GITS_CBASER));
        assertEquals(0, rig.read64(ItsRegisters.GITS_CREADR));
        assertEquals(0, rig.read64(ItsRegisters.GITS_CWRITER));
        assertEquals(0x8000_0000L, rig.read32(ItsRegisters.GITS_CTLR));
        assertEquals(0x4B00_043BL, rig.read32(ItsRegisters.GITS_IIDR));
        assertTrue(rig.its.devices().isEmpty());
    }

    // ---- SAVE errors -----------------------------------------------------------------------------------

    @Test
    void saveOfADeviceTheTableNoLongerHoldsIsEinval() {
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write64(ItsRegisters.baser(0), ItsRig.BASER0 | 1);
        rig.write32(ItsRegisters.GITS_CTLR, 1);
        rig.mapDevice(9000, 2);
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write64(ItsRegisters.baser(0), ItsRig.BASER0); // shrink, still valid: the device stays
        assertErrno(Errno.EINVAL, rig::save);
    }

    @Test
    void saveIntoMemoryThatIsGoneIsEfault() throws ErrnoException {
        long slot = 0x5000_0000L;
        rig.ram.map(slot, 0x1_0000);
        rig.run(ItsCommand.mapd(1, 4, slot, true));
        rig.map(1, 0, LPI, 0);
        rig.ram.unmap(slot);
        assertErrno(Errno.EFAULT, rig::save);
    }

    @Test
    void saveOfTheCollectionTableIntoMemoryThatIsGoneIsEfault() throws ErrnoException {
        long slot = 0x5000_0000L;
        rig.ram.map(slot, 0x1_0000);
        rig.write32(ItsRegisters.GITS_CTLR, 0);
        rig.write64(ItsRegisters.baser(1), V | slot);
        rig.write32(ItsRegisters.GITS_CTLR, 1);
        rig.ram.unmap(slot);
        assertErrno(Errno.EFAULT, rig::save);
    }

    @Test
    void aFullCollectionTableGetsNoTerminator() throws ErrnoException {
        long[][] batch = new long[1024][];
        for (int icid = 2; icid < 8192; icid += batch.length) {
            int n = Math.min(batch.length, 8192 - icid);
            long[][] cmds = new long[n][];
            for (int i = 0; i < n; i++) {
                cmds[i] = ItsCommand.mapc(icid + i, (icid + i) & 1, true);
            }
            rig.command(cmds);
        }
        assertEquals(8192, rig.its.collections().size());
        long after = COLLECTION_TABLE + 0x1_0000;
        rig.poke(after, 0x5A5A);
        rig.save();
        assertEquals(V | 1L << 16 | 8191, rig.mem(after - 8));
        assertEquals(0x5A5A, rig.mem(after));
    }

    // ---- RESTORE: collections --------------------------------------------------------------------------

    private void freshTables() throws ErrnoException {
        rig.reset();
        rig.regSet(ItsRegisters.GITS_CBASER, ItsRig.CBASER);
        rig.regSet(ItsRegisters.baser(0), ItsRig.BASER0);
        rig.regSet(ItsRegisters.baser(1), ItsRig.BASER1);
        for (int i = 0; i < 16; i++) {
            rig.poke(COLLECTION_TABLE + 8L * i, 0);
            rig.poke(DEVICE_TABLE + 8L * i, 0);
        }
    }

    @Test
    void restoreReadsCollectionsUntilTheFirstInvalidEntry() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 1L << 16 | 7);
        rig.poke(COLLECTION_TABLE + 8, V | UNMAPPED << 16 | 3);
        rig.poke(COLLECTION_TABLE + 24, V | 5);
        rig.restore();
        assertEquals(List.of(new CollectionMapping(7, 1), new CollectionMapping(3, -1)), rig.its.collections());
    }

    @Test
    void restoreCollectionTargetingAMissingVcpuIsEinval() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 1L << 16 | 7);
        rig.poke(COLLECTION_TABLE + 8, V | 2L << 16 | 8);
        assertErrno(Errno.EINVAL, rig::restore);
        assertTrue(rig.its.collections().isEmpty(), "collections restored before the error are discarded");
    }

    @Test
    void restoreDuplicateCollectionIsEexist() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 1L << 16 | 7);
        rig.poke(COLLECTION_TABLE + 8, V | 7);
        assertErrno(Errno.EEXIST, rig::restore);
        assertTrue(rig.its.collections().isEmpty());
    }

    @Test
    void restoreCollectionBeyondTheTableIsEinval() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 9000);
        assertErrno(Errno.EINVAL, rig::restore);
    }

    @Test
    void restoreFromAnUnreadableCollectionTableIsEfault() throws ErrnoException {
        freshTables();
        rig.regSet(ItsRegisters.baser(1), V | 0x1_0000_0000L);
        assertErrno(Errno.EFAULT, rig::restore);
    }

    // ---- RESTORE: devices and ITEs ---------------------------------------------------------------------

    private static long dte(long next, long itt, int bits) {
        return V | next << 49 | (itt >>> 8) << 5 | (bits - 1);
    }

    private static long ite(long next, long intid, int icid) {
        return next << 48 | intid << 16 | icid;
    }

    @Test
    void restoreSkipsInvalidSlotsAndFollowsNextDeltas() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 0);
        rig.poke(DEVICE_TABLE + 2 * 8, dte(3, itt(2), 2));
        rig.poke(DEVICE_TABLE + 3 * 8, dte(0, itt(3), 2)); // jumped over
        rig.poke(itt(3), ite(0, 5, 0));                       // would be EINVAL if read
        rig.poke(DEVICE_TABLE + 5 * 8, dte(0, itt(5), 2));
        rig.poke(DEVICE_TABLE + 7 * 8, dte(0, itt(7), 2));    // after the last: not read
        rig.poke(itt(2) + 8, ite(2, LPI, 0));
        rig.poke(itt(2) + 24, ite(0, LPI + 1, 0));
        rig.poke(itt(5), 0);                                   // pINTID 0: skipped
        rig.restore();
        assertEquals(List.of(new DeviceMapping(2, itt(2), 2), new DeviceMapping(5, itt(5), 2)), rig.its.devices());
        assertEquals(List.of(new Translation(2, 1, LPI, 0, 0, false), new Translation(2, 3, LPI + 1, 0, 0, false)),
                rig.its.translations());
    }

    @Test
    void restoredLpisReadPropertyAndPendingTables() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 1L << 16 | 0);
        rig.poke(DEVICE_TABLE, dte(0, itt(0), 2));
        rig.poke(itt(0), ite(0, LPI + 8, 0));
        rig.prop(LPI + 8, 0x31);
        rig.poke(ItsRig.PEND_TABLE_1 + (LPI + 8) / 8, 1);
        rig.restore();
        assertEquals(new LpiState(LPI + 8, 0x30, true, true, 1, 1), rig.vgic.lpi(LPI + 8).orElseThrow());
    }

    @Test
    void restoreIteBelowTheLpiRangeIsEinval() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 0);
        rig.poke(DEVICE_TABLE, dte(1, itt(0), 2));
        rig.poke(DEVICE_TABLE + 8, dte(0, itt(1), 2));
        rig.poke(itt(0), ite(0, LPI, 0));
        rig.poke(itt(1), ite(0, 8191, 0));
        assertErrno(Errno.EINVAL, rig::restore);
        assertTrue(rig.its.devices().isEmpty(), "device 0, restored first, is discarded too");
        assertTrue(rig.its.collections().isEmpty());
        assertTrue(rig.vgic.lpiStates().isEmpty());
    }

    @Test
    void restoreIteWhoseNextLeavesTheIttIsEinval() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 0);
        rig.poke(DEVICE_TABLE, dte(0, itt(0), 2));
        rig.poke(itt(0) + 8, ite(3, LPI, 0)); // event 1 + 3 >= 4
        assertErrno(Errno.EINVAL, rig::restore);
    }

    @Test
    void restoreIteWithAnUnknownCollectionIsEinval() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 0);
        rig.poke(DEVICE_TABLE, dte(0, itt(0), 2));
        rig.poke(itt(0), ite(0, LPI, 4));
        assertErrno(Errno.EINVAL, rig::restore);
    }

    @Test
    void restoreFromAnUnreadableIttIsEfault() throws ErrnoException {
        freshTables();
        rig.poke(COLLECTION_TABLE, V | 0);
        rig.poke(DEVICE_TABLE, dte(0, 0x1_0000_0000L, 2));
        assertErrno(Errno.EFAULT, rig::restore);
    }

    @Test
    void restoreOfADeviceIdTheTableCannotHoldIsEinval() throws ErrnoException {
        freshTables();
        long l2 = 0x4008_0000L;
        rig.regSet(ItsRegisters.baser(0), ItsRig.BASER0 | ItsRegisters.BASER_INDIRECT);
        rig.poke(DEVICE_TABLE + 8 * 8, ItsTables.L1_VALID | l2); // L1 index 8: DeviceIDs from 65536
        rig.poke(l2, dte(0, itt(0), 1));
        assertErrno(Errno.EINVAL, rig::restore);
    }

    @Test
    void restoreOfAnAlreadyMappedDeviceIsEexist() throws ErrnoException {
        rig.mapDevice(4, 2);
        rig.poke(DEVICE_TABLE + 4 * 8, dte(0, itt(4), 2));
        assertErrno(Errno.EEXIST, rig::restore);
        assertTrue(rig.its.devices().isEmpty(), "as on any error, every device is discarded");
    }

    @Test
    void restoreFailsWithEexistForExistingCollections() {
        // RESTORE onto a running configuration: the CTEs SAVE wrote name collections that still exist.
        assertEquals(0, rig.run(ItsCommand.sync(0)));
        try {
            rig.save();
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
        assertErrno(Errno.EEXIST, rig::restore);
        assertTrue(rig.its.collections().isEmpty());
    }
}
