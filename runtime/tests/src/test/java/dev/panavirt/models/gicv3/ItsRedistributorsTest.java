package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.HeapGuestRam;
import org.junit.jupiter.api.Test;

/** The redistributor state the ITS depends on: property table, pending tables, EnableLPIs, running vCPUs. */
class ItsRedistributorsTest {

    private final ItsRig rig = new ItsRig();
    private final Redistributors rds = rig.vgic.redistributors();

    @Test
    void vcpuIdsAreSortedAndDistinct() {
        Vgic vgic = new Vgic(new HeapGuestRam(0, 0x1000), new int[] {9, 2, 4}, 40);
        assertArrayEquals(new int[] {2, 4, 9}, vgic.redistributors().vcpuIds());
        assertTrue(vgic.redistributors().hasVcpu(4));
        assertFalse(vgic.redistributors().hasVcpu(3));
        assertFalse(vgic.redistributors().hasVcpu(-1));
        assertFalse(vgic.redistributors().hasVcpu(0x1_0000_0004L));
        assertThrows(IllegalArgumentException.class, () -> new Vgic(new HeapGuestRam(), new int[] {1, 1}, 40));
        assertThrows(IllegalArgumentException.class, () -> new Vgic(new HeapGuestRam(), new int[] {-1}, 40));
        assertThrows(IllegalArgumentException.class, () -> new Vgic(new HeapGuestRam(), 0));
        assertThrows(IllegalArgumentException.class, () -> new Vgic(new HeapGuestRam(), new int[] {0}, 53));
    }

    @Test
    void unknownVcpusAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> rds.writeCtlr(2, 1));
        assertThrows(IllegalArgumentException.class, () -> rds.load(5));
        assertThrows(IllegalArgumentException.class, () -> rig.vgic.pendingLpis(3));
    }

    @Test
    void propbaserIsSanitisedAndVmWide() {
        rds.writePropbaser(1, 0xFFFF_FFFF_FFFF_FFFFL);
        long v = rds.propbaser();
        assertEquals(0, v & Redistributors.PROPBASER_RES0_MASK);
        assertEquals(0, (v >>> 56) & 7, "outer cacheability 7 -> same as inner");
        assertEquals(3, (v >>> 10) & 3, "reserved shareability kept");
        assertEquals(0x1F, v & 0x1F);
        rds.writePropbaser(0, ItsRig.PROP_TABLE | 2L << 10 | 1L << 7 | 15);
        assertEquals(ItsRig.PROP_TABLE | 1L << 10 | 3L << 7 | 15, rds.propbaser(), "outer-shareable and nC fixed");
    }

    @Test
    void propbaserIsIgnoredThroughAVcpuWithLpisEnabled() {
        rds.writePropbaser(0, ItsRig.PROPBASER);
        rds.writeCtlr(0, Redistributors.CTLR_ENABLE_LPIS);
        long before = rds.propbaser();
        rds.writePropbaser(0, 0);
        assertEquals(before, rds.propbaser());
        rds.writePropbaser(1, 0);
        assertEquals(0x180, rds.propbaser(), "vCPU 1 may still write it (sanitising makes inner RaWb)");
    }

    @Test
    void pendbaserReadsWithoutPtzAndIsSanitised() {
        rds.writePendbaser(0, Redistributors.PENDBASER_PTZ | 0x000F_0000_4006_F07FL);
        assertEquals(0x4006_0000L | 3L << 7, rds.pendbaser(0), "PTZ hidden; RES0, 51:48 and 15:12 cleared");
        rds.writeCtlr(0, 1);
        rds.writePendbaser(0, 0);
        assertEquals(0x4006_0000L | 3L << 7, rds.pendbaser(0), "ignored while LPIs are enabled");
    }

    @Test
    void enableLpisNeedsAnIts() {
        Vgic bare = new Vgic(new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE), 1);
        bare.redistributors().writeCtlr(0, 1);
        assertEquals(0, bare.redistributors().ctlr(0));
        assertFalse(bare.redistributors().lpisEnabled(0));
    }

    @Test
    void enablingLpisLoadsThePendingLatchesFromThePendingTable() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.map(1, 0, LPI, 0);
        r.map(1, 1, LPI + 1, 0);
        r.vgic.redistributors().writeCtlr(0, 0);
        r.poke(ItsRig.PEND_TABLE_0 + LPI / 8, 0b10); // LPI + 1 pending, LPI not
        r.run(ItsCommand.event(ItsCommand.INT, 1, 0)); // refused: LPIs off
        r.vgic.redistributors().writeCtlr(0, 1);
        assertArrayEquals(new long[] {LPI + 1}, r.vgic.pendingLpis(0));
        assertEquals(0b10, r.mem(ItsRig.PEND_TABLE_0 + LPI / 8) & 0xFF, "the table is not consumed here");
    }

    @Test
    void ptzSkipsThePendingTableSync() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.map(1, 0, LPI, 0);
        r.vgic.redistributors().writeCtlr(0, 0);
        r.vgic.redistributors().writePendbaser(0, ItsRig.PEND_TABLE_0 | Redistributors.PENDBASER_PTZ);
        r.poke(ItsRig.PEND_TABLE_0 + LPI / 8, 0xFF);
        r.vgic.redistributors().writeCtlr(0, 1);
        assertEquals(0, r.vgic.pendingLpis(0).length);
    }

    @Test
    void disablingLpisKeepsPendingLatches() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.map(1, 0, LPI, 0);
        r.run(ItsCommand.event(ItsCommand.INT, 1, 0));
        r.vgic.redistributors().writeCtlr(0, 0);
        assertTrue(r.vgic.lpi(LPI).orElseThrow().pending());
    }

    @Test
    void runningVcpus() {
        rds.load(1);
        assertTrue(rds.isRunning(1));
        assertFalse(rds.isRunning(0));
        rds.put(1);
        assertFalse(rds.isRunning(1));
    }

    @Test
    void pendingLpisAreSortedPerTarget() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.map(1, 0, LPI + 9, 0);
        r.map(1, 1, LPI + 2, 0);
        r.map(1, 2, LPI + 5, 1);
        for (int ev = 0; ev < 3; ev++) {
            r.run(ItsCommand.event(ItsCommand.INT, 1, ev));
        }
        assertArrayEquals(new long[] {LPI + 2, LPI + 9}, r.vgic.pendingLpis(0));
        assertArrayEquals(new long[] {LPI + 5}, r.vgic.pendingLpis(1));
        assertEquals(3, r.vgic.lpiStates().size());
        assertEquals(LPI + 2, r.vgic.lpiStates().get(0).intid());
    }
}
