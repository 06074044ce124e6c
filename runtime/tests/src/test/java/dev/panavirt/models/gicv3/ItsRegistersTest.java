package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRegisters.GITS_BASER;
import static dev.panavirt.models.gicv3.ItsRegisters.GITS_CBASER;
import static dev.panavirt.models.gicv3.ItsRegisters.GITS_CREADR;
import static dev.panavirt.models.gicv3.ItsRegisters.GITS_CTLR;
import static dev.panavirt.models.gicv3.ItsRegisters.GITS_CWRITER;
import static dev.panavirt.models.gicv3.ItsRegisters.GITS_IIDR;
import static dev.panavirt.models.gicv3.ItsRegisters.GITS_TYPER;
import static dev.panavirt.models.gicv3.ItsRegisters.baser;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The GITS frame as a guest sees it (arch/arm64/kvm/vgic/vgic-its.c {@code its_registers[]} and
 * {@code vgic_mmio_read/write_its_*()}; vgic-mmio.c {@code check_region()}).
 */
class ItsRegistersTest {

    private final ItsRig rig = new ItsRig();

    // ---- Reset / creation values -------------------------------------------------------------------

    @Test
    void ctlrAtCreationIsDisabledAndQuiescent() {
        assertEquals(0x8000_0000L, rig.read32(GITS_CTLR));
    }

    @Test
    void iidrReportsKvmArmAndAbiRevision0() {
        assertEquals(0x4B00_043BL, rig.read32(GITS_IIDR));
    }

    @Test
    void typerIsTheConstant0x1EF71() {
        assertEquals(0x1EF71L, rig.read64(GITS_TYPER));
        assertEquals(0x1EF71L, ItsRegisters.TYPER);
        assertEquals(0x1EF71L, rig.read32(GITS_TYPER));
        assertEquals(0L, rig.read32(GITS_TYPER + 4), "upper half");
    }

    @Test
    void cbaserCwriterCreadrStartAtZero() {
        assertEquals(0, rig.read64(GITS_CBASER));
        assertEquals(0, rig.read64(GITS_CWRITER));
        assertEquals(0, rig.read64(GITS_CREADR));
    }

    @Test
    void baser0And1AtCreationDescribeDeviceAndCollectionTables() {
        assertEquals(0x1907_0000_0000_0600L, rig.read64(baser(0)));
        assertEquals(0x1C07_0000_0000_0600L, rig.read64(baser(1)));
        assertEquals(ItsRegisters.INITIAL_BASER_DEVICE, rig.read64(baser(0)));
        assertEquals(ItsRegisters.INITIAL_BASER_COLLECTION, rig.read64(baser(1)));
    }

    @Test
    void baser2To7ReadZeroAndIgnoreWrites() {
        for (int n = 2; n < 8; n++) {
            rig.write64(baser(n), -1L);
            assertEquals(0, rig.read64(baser(n)), "BASER" + n);
        }
    }

    @ParameterizedTest
    @CsvSource({"0xFFD0,0x40", "0xFFE0,0x92", "0xFFE4,0xB4", "0xFFE8,0x3B", "0xFFF0,0x0D", "0xFFF4,0xF0",
            "0xFFF8,0x05", "0xFFFC,0xB1", "0xFFEC,0", "0xFFD4,0", "0xFFD8,0", "0xFFDC,0"})
    void idRegistersReadTheirValuesAndIgnoreWrites(String offset, String value) {
        long off = Long.decode(offset);
        rig.write32(off, 0xFFFF_FFFFL);
        assertEquals((long) Long.decode(value), rig.read32(off));
    }

    @Test
    void idRegistersAre32BitOnly() {
        assertEquals(0, rig.read64(ItsRegisters.GITS_PIDR0));
    }

    // ---- Widths, alignment and undecoded offsets (check_region) -------------------------------------

    @ParameterizedTest
    @ValueSource(longs = {0x0C + 4, 0x10, 0x18, 0x20, 0x98, 0xA0, 0x140, 0x1000, 0xFFC0, 0x10000, 0x10040, 0x1FFFC})
    void undecodedOffsetsReadZeroAndDropWrites(long offset) {
        rig.write32(offset, 0xFFFF_FFFFL);
        rig.write64(offset & ~7, -1L);
        assertEquals(0, rig.read32(offset));
        assertEquals(0x8000_0000L, rig.read32(GITS_CTLR), "nothing else changed");
    }

    @Test
    void translaterWritesDoNotDeliverMsis() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.map(1, 0, ItsRig.LPI, 0);
        r.write32(ItsRegisters.GITS_TRANSLATER, 0);
        r.its.mmioWrite(ItsRegisters.GITS_TRANSLATER, 2, 0);
        assertFalse(r.vgic.lpi(ItsRig.LPI).orElseThrow().pending());
    }

    @Test
    void byteAccessesReadZeroAndAreDropped() {
        assertEquals(0, rig.its.mmioRead(GITS_CTLR + 3, 1));
        assertEquals(0, rig.its.mmioRead(GITS_TYPER, 1));
        assertEquals(0, rig.its.mmioRead(ItsRegisters.GITS_PIDR2, 1));
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.its.mmioWrite(GITS_CBASER, 1, 0);
        assertEquals(ItsRig.CBASER, rig.read64(GITS_CBASER));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5, 6, 7})
    void otherWidthsReadZero(int width) {
        assertEquals(0, rig.its.mmioRead(GITS_TYPER, width));
        assertEquals(0, rig.its.mmioRead(GITS_IIDR, width));
    }

    @Test
    void thirtyTwoBitRegistersRejectSixtyFourBitAccesses() {
        assertEquals(0, rig.read64(GITS_CTLR));
        rig.write64(GITS_CTLR, 1);
        assertEquals(0x8000_0000L, rig.read32(GITS_CTLR));
    }

    @Test
    void misalignedAccessesReadZero() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        assertEquals(0, rig.read32(GITS_CBASER + 2));
        assertEquals(0, rig.read64(GITS_TYPER + 4));
        assertEquals(0, rig.read32(GITS_CTLR + 2));
    }

    @Test
    void upperAndLowerHalvesOf64BitRegisters() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        assertEquals(ItsRig.CBASER & 0xFFFF_FFFFL, rig.read32(GITS_CBASER));
        assertEquals(ItsRig.CBASER >>> 32, rig.read32(GITS_CBASER + 4));
        rig.write32(GITS_CBASER + 4, 0);
        // Upper half replaced by 0; inner cacheability 0 (nCnB) is then sanitised to RaWb.
        assertEquals(0x1800_0000_0000_0000L | (ItsRig.CBASER & 0xFFFF_FFFFL), rig.read64(GITS_CBASER));
        rig.write32(GITS_CBASER, 0x0500_0007L);
        assertEquals(0x1800_0000_0500_0007L, rig.read64(GITS_CBASER), "lower half replaced, upper kept");
    }

    @Test
    void busDeviceAdapterUsesTheWindowWidth() {
        MemorySegment four = MemorySegment.ofArray(new byte[4]);
        BusDevice.of(rig.its).read(ItsRig.ITS_BASE, GITS_IIDR, four);
        assertEquals(0x4B00_043BL, BusData.get(four));
        MemorySegment eight = MemorySegment.ofArray(new byte[8]);
        BusData.set(eight, ItsRig.CBASER);
        BusDevice.of(rig.its).write(ItsRig.ITS_BASE, GITS_CBASER, eight);
        assertEquals(ItsRig.CBASER, rig.read64(GITS_CBASER));
        MemorySegment two = MemorySegment.ofArray(new byte[] {1, 1});
        BusDevice.of(rig.its).read(ItsRig.ITS_BASE, GITS_IIDR, two);
        assertEquals(0, BusData.get(two));
        assertTrue(rig.its.ignoredAccesses() > 0);
    }

    // ---- GITS_CTLR ----------------------------------------------------------------------------------------

    @Test
    void ctlrEnableIgnoredWhileCbaserInvalid() {
        rig.write64(baser(0), ItsRig.BASER0);
        rig.write64(baser(1), ItsRig.BASER1);
        rig.write32(GITS_CTLR, 1);
        assertFalse(rig.its.isEnabled());
    }

    @Test
    void ctlrEnableIgnoredWhileBaser0Invalid() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(baser(1), ItsRig.BASER1);
        rig.write32(GITS_CTLR, 1);
        assertFalse(rig.its.isEnabled());
    }

    @Test
    void ctlrEnableIgnoredWhileBaser1Invalid() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(baser(0), ItsRig.BASER0);
        rig.write32(GITS_CTLR, 1);
        assertFalse(rig.its.isEnabled());
    }

    @Test
    void ctlrEnableWithAllBasesValidAndDisableAgain() {
        rig.enable();
        assertEquals(0x8000_0001L, rig.read32(GITS_CTLR));
        rig.write32(GITS_CTLR, 0);
        assertEquals(0x8000_0000L, rig.read32(GITS_CTLR));
    }

    @Test
    void ctlrImDeIsNotModelled() {
        rig.enable();
        rig.write32(GITS_CTLR, ItsRegisters.CTLR_ENABLED | ItsRegisters.CTLR_IMDE);
        assertEquals(0x8000_0001L, rig.read32(GITS_CTLR));
    }

    @Test
    void ctlrQuiescentOnlyWhileCreadrEqualsCwriter() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(GITS_CWRITER, 0x40);
        assertEquals(0, rig.read32(GITS_CTLR), "commands waiting: not quiescent");
    }

    @Test
    void enablingProcessesCommandsQueuedWhileDisabled() {
        rig.redistributors();
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(baser(0), ItsRig.BASER0);
        rig.write64(baser(1), ItsRig.BASER1);
        rig.command(ItsCommand.mapc(3, 1, true), ItsCommand.sync(1));
        assertEquals(0, rig.read64(GITS_CREADR), "not processed while disabled");
        assertEquals(0x40, rig.read64(GITS_CWRITER));
        rig.write32(GITS_CTLR, 1);
        assertEquals(0x40, rig.read64(GITS_CREADR));
        assertEquals(java.util.List.of(new ItsDevice.CollectionMapping(3, 1)), rig.its.collections());
    }

    // ---- GITS_CBASER ---------------------------------------------------------------------------------------

    @Test
    void cbaserIgnoredWhileEnabled() {
        rig.enable();
        rig.write64(GITS_CBASER, 0);
        assertEquals(ItsRig.CBASER, rig.read64(GITS_CBASER));
    }

    @ParameterizedTest
    @CsvSource({
        // shareability 11:10: outer (2) -> inner (1); non (0), inner (1) and reserved (3) kept
        "1800000000000800, 1800000000000400", "1800000000000000, 1800000000000000",
        "1800000000000400, 1800000000000400", "1800000000000C00, 1800000000000C00",
        // inner cacheability 61:59: nCnB (0) and nC (1) -> RaWb (3); others kept
        "0000000000000000, 1800000000000000", "0800000000000000, 1800000000000000",
        "1000000000000000, 1000000000000000", "3800000000000000, 3800000000000000",
        // outer cacheability 55:53: same-as-inner (0) and nC (1) kept, anything else -> 0
        "1820000000000000, 1820000000000000", "1860000000000000, 1800000000000000",
        "18E0000000000000, 1800000000000000",
        // PA bits 15:12 cleared; other bits kept as written
        "180000004000F000, 1800000040000000", "1C10000000000301, 1C10000000000301"})
    void cbaserSanitisation(String written, String stored) {
        rig.write64(GITS_CBASER, Long.parseUnsignedLong(written, 16));
        assertEquals(Long.parseUnsignedLong(stored, 16), rig.read64(GITS_CBASER));
    }

    @Test
    void cbaserWriteEmptiesTheQueue() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(GITS_CWRITER, 0x60);
        assertDoesNotThrow(() -> rig.regSet(GITS_CREADR, 0x40));
        assertEquals(0x40, rig.read64(GITS_CREADR));
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        assertEquals(0, rig.read64(GITS_CWRITER));
        assertEquals(0, rig.read64(GITS_CREADR));
    }

    // ---- GITS_CWRITER / GITS_CREADR -----------------------------------------------------------------------

    @Test
    void cwriterKeepsOnlyBits19To5() {
        rig.write64(GITS_CBASER, ItsRig.CBASER | 0xFF); // 1 MiB queue
        rig.write64(GITS_CWRITER, 0x1F);
        assertEquals(0, rig.read64(GITS_CWRITER));
        rig.write64(GITS_CWRITER, 0xF_FFFF);
        assertEquals(0xF_FFE0L, rig.read64(GITS_CWRITER));
        rig.write64(GITS_CWRITER, 1L << 20 | 0x40);
        assertEquals(0x40, rig.read64(GITS_CWRITER), "bit 20 and above dropped");
    }

    @Test
    void cwriterBeyondTheQueueIsDropped() {
        rig.write64(GITS_CBASER, ItsRig.CBASER); // 64 KiB queue
        rig.write64(GITS_CWRITER, 0x20);
        rig.write64(GITS_CWRITER, 0x1_0000);
        assertEquals(0x20, rig.read64(GITS_CWRITER));
        rig.write64(GITS_CWRITER, 0xFFE0);
        assertEquals(0xFFE0, rig.read64(GITS_CWRITER));
    }

    @Test
    void cwriterWithoutCbaserAllowsOnlyTheFirstPage() {
        rig.write64(GITS_CWRITER, 0x1000);
        assertEquals(0, rig.read64(GITS_CWRITER));
        rig.write64(GITS_CWRITER, 0xFE0);
        assertEquals(0xFE0, rig.read64(GITS_CWRITER));
    }

    @Test
    void cwriterAcceptedWhileDisabledWithoutProcessing() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(GITS_CWRITER, 0x80);
        assertEquals(0x80, rig.read64(GITS_CWRITER));
        assertEquals(0, rig.read64(GITS_CREADR));
        assertEquals(0, rig.its.commandsExecuted());
    }

    @Test
    void creadrIsReadOnlyToTheGuest() {
        rig.write64(GITS_CBASER, ItsRig.CBASER);
        rig.write64(GITS_CREADR, 0x40);
        rig.write32(GITS_CREADR, 0x40);
        assertEquals(0, rig.read64(GITS_CREADR));
    }

    @Test
    void creadrWrapsAtTheEndOfTheQueue() {
        ItsRig r = new ItsRig().redistributors();
        r.write64(GITS_CBASER, ItsRegisters.VALID | ItsRig.QUEUE); // one 4 KiB page: 128 commands
        r.write64(baser(0), ItsRig.BASER0);
        r.write64(baser(1), ItsRig.BASER1);
        r.write32(GITS_CTLR, 1);
        for (int i = 0; i < 200; i++) {
            r.command(ItsCommand.sync(0));
        }
        assertEquals((200 * 32) % 4096, r.read64(GITS_CREADR));
        assertEquals(200, r.its.commandsExecuted());
    }

    // ---- GITS_BASERn ---------------------------------------------------------------------------------------

    @Test
    void baserIgnoredWhileEnabled() {
        rig.enable();
        rig.write64(baser(0), 0);
        rig.write64(baser(1), 0);
        assertEquals(ItsRegisters.sanitiseBaser(0, ItsRig.BASER0), rig.read64(baser(0)));
        assertTrue((rig.read64(baser(1)) & ItsRegisters.VALID) != 0);
    }

    @Test
    void baserEntrySizeTypePageSizeForcedAndBaser1NotIndirect() {
        rig.write64(baser(0), -1L);
        rig.write64(baser(1), -1L);
        long b0 = rig.read64(baser(0));
        long b1 = rig.read64(baser(1));
        assertEquals(7, (b0 >>> 48) & 0x1F, "entry size 8");
        assertEquals(1, (b0 >>> 56) & 7, "device type");
        assertEquals(4, (b1 >>> 56) & 7, "collection type");
        assertEquals(2, (b0 >>> 8) & 3, "64K pages");
        assertEquals(2, (b1 >>> 8) & 3, "64K pages");
        assertTrue((b0 & ItsRegisters.BASER_INDIRECT) != 0, "BASER0 may be indirect");
        assertEquals(0, b1 & ItsRegisters.BASER_INDIRECT, "BASER1 is never indirect");
        assertEquals(0, (b0 >>> 53) & 7, "outer 7 -> same as inner");
        assertEquals(3, (b0 >>> 10) & 3, "reserved shareability kept");
        assertEquals(0xFFL, b0 & 0xFF, "size kept");
    }

    @Test
    void baserCacheabilityAndShareabilitySanitisedAsCbaser() {
        long written = ItsRig.BASER0 | 2L << 10 | 1L << 59 | 5L << 53;
        rig.write64(baser(0), written);
        long b0 = rig.read64(baser(0));
        assertEquals(1, (b0 >>> 10) & 3);
        assertEquals(3, (b0 >>> 59) & 7);
        assertEquals(0, (b0 >>> 53) & 7);
    }

    @Test
    void baserHalfWritesMergeWithTheStoredValue() {
        rig.write64(baser(0), ItsRig.BASER0);
        rig.write32(baser(0) + 4, (ItsRig.BASER0 >>> 32) & 0x7FFF_FFFFL); // clear Valid only
        assertEquals(0, rig.read64(baser(0)) & ItsRegisters.VALID);
        assertEquals(ItsRig.DEVICE_TABLE, rig.read64(baser(0)) & ItsRegisters.BASER_ADDRESS_MASK);
    }

    @Test
    void clearingBaser0ValidDiscardsEveryDevice() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.mapDevice(2, 4);
        r.map(1, 0, ItsRig.LPI, 0);
        r.write32(GITS_CTLR, 0);
        r.write64(baser(0), ItsRig.BASER0 & ~ItsRegisters.VALID);
        assertTrue(r.its.devices().isEmpty());
        assertTrue(r.its.translations().isEmpty());
        assertTrue(r.vgic.lpiStates().isEmpty(), "LPI reference dropped");
        assertEquals(2, r.its.collections().size(), "collections untouched");
    }

    @Test
    void clearingBaser1ValidDiscardsEveryCollection() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.map(1, 0, ItsRig.LPI, 0);
        r.write32(GITS_CTLR, 0);
        r.write64(baser(1), ItsRig.BASER1 & ~ItsRegisters.VALID);
        assertTrue(r.its.collections().isEmpty());
        assertEquals(-1, r.its.translation(1, 0).orElseThrow().icid(), "ITE kept without collection");
    }

    @Test
    void validBaserRewriteKeepsMappings() {
        ItsRig r = ItsRig.ready();
        r.mapDevice(1, 4);
        r.write32(GITS_CTLR, 0);
        r.write64(baser(0), ItsRig.BASER0);
        assertEquals(1, r.its.devices().size());
    }

    // ---- Command queue ----------------------------------------------------------------------------------

    @Test
    void unreadableCommandsAreSkipped() {
        ItsRig r = new ItsRig().redistributors();
        r.write64(GITS_CBASER, ItsRegisters.VALID | 0x1_0000_0000L); // outside RAM
        r.write64(baser(0), ItsRig.BASER0);
        r.write64(baser(1), ItsRig.BASER1);
        r.write32(GITS_CTLR, 1);
        r.write64(GITS_CWRITER, 0x60);
        assertEquals(0x60, r.read64(GITS_CREADR), "CREADR advanced over three commands");
        assertEquals(3, r.its.commandsUnreadable());
        assertEquals(0, r.its.commandsExecuted());
        assertEquals(0x8000_0001L, r.read32(GITS_CTLR), "no error state, quiescent");
    }

    @ParameterizedTest
    @ValueSource(ints = {0x00, 0x02, 0x06, 0x07, 0x10, 0x20, 0x22, 0x26, 0xFF})
    void unknownAndGicV4OpcodesAreSkipped(int opcode) {
        ItsRig r = ItsRig.ready();
        long before = r.read64(GITS_CREADR);
        assertEquals(-dev.panavirt.base.Errno.ENODEV, r.run(ItsCommand.encode(opcode, 1, 0, 0, 0)));
        assertEquals(before + 32, r.read64(GITS_CREADR));
    }

    @Test
    void syncIsANoOp() {
        ItsRig r = ItsRig.ready();
        String before = r.its.state();
        assertEquals(0, r.run(ItsCommand.sync(0)));
        assertEquals(0, r.run(ItsCommand.sync(77)), "even for a vCPU that does not exist");
        assertEquals(before.replace("creadr=0x40 cwriter=0x40", "creadr=0x80 cwriter=0x80"), r.its.state());
    }
}
