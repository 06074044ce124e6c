package dev.panavirt.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.Allocations;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

class BusTest {

    private static final long HIGH = 0xFFFF_FFFF_FFFF_F000L;

    private static MemorySegment window(int width) {
        return MemorySegment.ofArray(new byte[width]);
    }

    private static MemorySegment garbage(int width) {
        MemorySegment s = window(width);
        s.fill((byte) 0xAA);
        return s;
    }

    private static long read(Bus bus, long addr, int width) {
        MemorySegment data = garbage(width);
        assertTrue(bus.read(addr, data), () -> "read at 0x" + Long.toHexString(addr) + " was unmapped");
        return BusData.get(data);
    }

    // ---- insert ----

    @Test
    void insertRejectsEveryKindOfOverlapAndLeavesLayoutUnchanged() {
        Bus bus = new Bus("mmio");
        bus.insert(new RecordingDevice(), 0x1000, 0x100);
        List<BusRange> before = bus.ranges();
        long[][] overlapping = {
                {0x1000, 0x100},  // exact
                {0x0F80, 0x100},  // partial, left
                {0x10FF, 0x100},  // partial, right
                {0x0800, 0x1000}, // containing
                {0x1010, 0x10},   // contained
                {0x10FF, 1},      // last byte only
        };
        for (long[] r : overlapping) {
            BusException e = assertThrows(BusException.class, () -> bus.insert(new RecordingDevice(), r[0], r[1]));
            assertEquals(BusException.Kind.OVERLAP, e.kind());
            assertTrue(e.getMessage().contains("mmio"), e.getMessage());
        }
        assertEquals(before, bus.ranges());
    }

    @Test
    void adjacentRangesAreAllowedOnBothSides() {
        Bus bus = new Bus("pio");
        bus.insert(new RecordingDevice(), 0x100, 0x10);
        bus.insert(new RecordingDevice(), 0x0F0, 0x10);
        bus.insert(new RecordingDevice(), 0x110, 0x10);
        assertEquals(List.of(new BusRange(0x0F0, 0x10), new BusRange(0x100, 0x10), new BusRange(0x110, 0x10)),
                bus.ranges());
    }

    @Test
    void insertRejectsZeroSizeAndOverflow() {
        Bus bus = new Bus("mmio");
        assertEquals(BusException.Kind.ZERO_SIZED_RANGE,
                assertThrows(BusException.class, () -> bus.insert(new RecordingDevice(), 0x1000, 0)).kind());
        assertEquals(BusException.Kind.INVALID_RANGE,
                assertThrows(BusException.class, () -> bus.insert(new RecordingDevice(), HIGH, 0x2000)).kind());
        assertTrue(bus.ranges().isEmpty());
    }

    @Test
    void rangesAreOrderedUnsigned() {
        Bus bus = new Bus("mmio");
        bus.insert(new RecordingDevice(), HIGH, 0x1000);
        bus.insert(new RecordingDevice(), 0x8000_0000_0000_0000L, 0x1000);
        bus.insert(new RecordingDevice(), 0x1000, 0x1000);
        assertEquals(List.of(new BusRange(0x1000, 0x1000), new BusRange(0x8000_0000_0000_0000L, 0x1000),
                new BusRange(HIGH, 0x1000)), bus.ranges());
        assertEquals(BusException.Kind.OVERLAP,
                assertThrows(BusException.class,
                        () -> bus.insert(new RecordingDevice(), 0x7FFF_FFFF_FFFF_F800L, 0x1000)).kind());
    }

    // ---- lookup ----

    @Test
    void lookupAtFirstAndLastByteAndOnePast() {
        Bus bus = new Bus("pio");
        RecordingDevice dev = new RecordingDevice();
        bus.insert(dev, 0x3F8, 8);
        assertTrue(bus.read(0x3F8, window(1)));
        assertTrue(bus.read(0x3FF, window(1)));
        assertFalse(bus.read(0x400, window(1)));
        assertFalse(bus.read(0x3F7, window(1)));
        assertEquals(Optional.of(dev), bus.deviceAt(0x3FF));
        assertEquals(Optional.empty(), bus.deviceAt(0x400));
        assertEquals(2, bus.unmappedReads());
    }

    @Test
    void lookupPicksTheRightDeviceAmongMany() {
        Bus bus = new Bus("mmio");
        RecordingDevice[] devs = new RecordingDevice[50];
        for (int i = 0; i < devs.length; i++) {
            // Insert in a scrambled order; the bus keeps them sorted.
            int slot = (i * 17) % devs.length;
            devs[i] = new RecordingDevice((long) slot << 16);
            bus.insert(devs[i], 0x1000L * slot, 0x800);
        }
        for (int slot = 0; slot < devs.length; slot++) {
            assertEquals(((long) slot << 16) + 0x7FC, read(bus, 0x1000L * slot + 0x7FC, 4));
            assertFalse(bus.read(0x1000L * slot + 0x800, window(1)), "gap after slot " + slot);
        }
    }

    @Test
    void highUnsignedAddressesResolve() {
        Bus bus = new Bus("mmio");
        RecordingDevice low = new RecordingDevice(0x10);
        RecordingDevice high = new RecordingDevice(0x20);
        bus.insert(high, HIGH, 0x1000);
        bus.insert(low, 0x1000, 0x1000);
        assertEquals(0x20 + 0xFF8, read(bus, -8L, 8));
        assertEquals(HIGH, high.last().base());
        assertEquals(0xFF8, high.last().offset());
        assertEquals(0x10, read(bus, 0x1000, 1));
        assertFalse(bus.read(HIGH - 1, window(1)));
    }

    @Test
    void deviceSeesBaseAndOffsetNotTheAbsoluteAddress() {
        Bus bus = new Bus("mmio");
        RecordingDevice dev = new RecordingDevice();
        bus.insert(dev, 0xD000_0000L, 0x1000);
        MemorySegment data = window(4);
        BusData.set(data, 0xCAFE_F00DL);
        assertTrue(bus.write(0xD000_0010L, data));
        assertEquals(new RecordingDevice.Access(true, 0xD000_0000L, 0x10, 4, 0xCAFE_F00DL), dev.last());
        assertEquals(0x1000 + 0x20, read(bus, 0xD000_0020L, 2));
        assertEquals(new RecordingDevice.Access(false, 0xD000_0000L, 0x20, 2, 0x1020), dev.last());
    }

    // ---- remove and move ----

    @Test
    void removeReturnsDeviceAndUnmapsIt() {
        Bus bus = new Bus("pio");
        RecordingDevice dev = new RecordingDevice();
        bus.insert(dev, 0x60, 1);
        bus.insert(new RecordingDevice(), 0x64, 1);
        assertSame(dev, bus.remove(0x60));
        assertFalse(bus.read(0x60, window(1)));
        assertTrue(bus.read(0x64, window(1)));
        // Slot is free again.
        bus.insert(new RecordingDevice(), 0x60, 1);
    }

    @Test
    void removeNeedsTheExactBase() {
        Bus bus = new Bus("pio");
        bus.insert(new RecordingDevice(), 0x3F8, 8);
        assertEquals(BusException.Kind.MISSING_ADDRESS_RANGE,
                assertThrows(BusException.class, () -> bus.remove(0x3F9)).kind());
        assertEquals(BusException.Kind.MISSING_ADDRESS_RANGE,
                assertThrows(BusException.class, () -> new Bus("empty").remove(0)).kind());
        assertEquals(1, bus.ranges().size());
    }

    @Test
    void moveRelocatesLikeABarAndOffsetsFollow() {
        Bus bus = new Bus("mmio");
        RecordingDevice bar = new RecordingDevice();
        bus.insert(bar, 0xE000_0000L, 0x1000);
        bus.move(0xE000_0000L, 0xF000_0000L);
        assertFalse(bus.read(0xE000_0000L, window(4)));
        assertEquals(0x1000 + 0x40, read(bus, 0xF000_0040L, 4));
        assertEquals(new RecordingDevice.Access(false, 0xF000_0000L, 0x40, 4, 0x1040), bar.last());
        assertEquals(List.of(new BusRange(0xF000_0000L, 0x1000)), bus.ranges());
    }

    @Test
    void moveMayOverlapItsOwnOldPosition() {
        Bus bus = new Bus("mmio");
        bus.insert(new RecordingDevice(), 0x1000, 0x1000);
        bus.move(0x1000, 0x1800);
        assertEquals(List.of(new BusRange(0x1800, 0x1000)), bus.ranges());
        bus.move(0x1800, 0x1800); // no-op
        assertEquals(List.of(new BusRange(0x1800, 0x1000)), bus.ranges());
    }

    @Test
    void rejectedMoveLeavesBusUnchanged() {
        Bus bus = new Bus("mmio");
        RecordingDevice a = new RecordingDevice();
        bus.insert(a, 0x1000, 0x1000);
        bus.insert(new RecordingDevice(), 0x4000, 0x1000);
        List<BusRange> before = bus.ranges();
        assertEquals(BusException.Kind.OVERLAP,
                assertThrows(BusException.class, () -> bus.move(0x1000, 0x3800)).kind());
        assertEquals(BusException.Kind.INVALID_RANGE,
                assertThrows(BusException.class, () -> bus.move(0x1000, -0x800L)).kind());
        assertEquals(BusException.Kind.MISSING_ADDRESS_RANGE,
                assertThrows(BusException.class, () -> bus.move(0x2000, 0x8000)).kind());
        assertEquals(before, bus.ranges());
        assertEquals(Optional.of(a), bus.deviceAt(0x1000));
    }

    // ---- unmapped and straddling accesses ----

    @Test
    void accessStraddlingTheEndOfARangeIsUnmapped() {
        Bus bus = new Bus("pio");
        RecordingDevice dev = new RecordingDevice();
        bus.insert(dev, 0x100, 4);
        MemorySegment data = garbage(4);
        assertFalse(bus.read(0x102, data));
        assertArrayEquals(new byte[4], data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        assertFalse(bus.write(0x103, window(2)));
        assertTrue(dev.accesses.isEmpty());
        assertEquals(1, bus.unmappedReads());
        assertEquals(1, bus.unmappedWrites());
        assertTrue(bus.read(0x102, window(2)));
    }

    @Test
    void accessWrappingPastTheTopOfTheAddressSpaceIsUnmapped() {
        Bus bus = new Bus("mmio");
        bus.insert(new RecordingDevice(), HIGH, 0x1000);
        assertTrue(bus.read(-1L, window(1)));
        assertFalse(bus.read(-1L, window(2)));
        assertFalse(bus.read(-4L, window(8)));
        assertTrue(bus.read(-8L, window(8)));
    }

    @Test
    void emptyAccessIsUnmapped() {
        Bus bus = new Bus("mmio");
        bus.insert(new RecordingDevice(), 0, 0x1000);
        assertFalse(bus.read(0x10, MemorySegment.ofArray(new byte[0])));
    }

    @Test
    void unmappedReadReturnsZerosAndIsCounted() {
        Bus bus = new Bus("mmio");
        for (int width : new int[] {1, 2, 4, 8}) {
            MemorySegment data = garbage(width);
            assertFalse(bus.read(0x1234, data));
            assertEquals(0, BusData.get(data));
        }
        assertFalse(bus.write(0x1234, window(4)));
        assertEquals(4, bus.unmappedReads());
        assertEquals(1, bus.unmappedWrites());
    }

    @Test
    void aPortBusReadsAllOnesWhereNothingIsMapped() {
        Bus bus = new Bus("pio", 0, (byte) 0xff);
        bus.insert(new BusDevice() { }, 0x60, 1);
        for (int width : new int[] {1, 2, 4}) {
            MemorySegment data = garbage(width);
            assertFalse(bus.read(0x61, data));
            assertEquals((1L << (8 * width)) - 1, BusData.get(data) & ((1L << (8 * width)) - 1));
        }
        MemorySegment data = garbage(1);
        assertTrue(bus.read(0x60, data));
        assertEquals(0, BusData.get(data), "a mapped device's unset bytes are still zero");
    }

    @Test
    void mappedReadIsZeroFilledBeforeTheDeviceSeesIt() {
        Bus bus = new Bus("mmio");
        bus.insert(new BusDevice() { }, 0x1000, 0x10); // default no-op read
        MemorySegment data = garbage(8);
        assertTrue(bus.read(0x1000, data));
        assertEquals(0, BusData.get(data));
        assertTrue(bus.write(0x1000, data));
    }

    @Test
    void onlyTheFirstUnmappedAccessesAreLogged() {
        Logger jul = Logger.getLogger(Bus.class.getName());
        ConcurrentLinkedQueue<LogRecord> records = new ConcurrentLinkedQueue<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        jul.addHandler(handler);
        try {
            Bus bus = new Bus("pio", 3);
            for (int i = 0; i < 10; i++) {
                bus.write(0x80, window(1));
            }
            bus.read(0x81, window(2));
            assertEquals(10, bus.unmappedWrites());
            assertEquals(1, bus.unmappedReads());
            assertEquals(3, records.size());
            LogRecord first = records.peek();
            assertEquals(Level.WARNING, first.getLevel());
            assertTrue(first.getMessage().contains("pio bus: unmapped 1-byte write at 0x80"), first.getMessage());
            assertTrue(records.stream().reduce((x, y) -> y).orElseThrow().getMessage().contains("only counted"));

            records.clear();
            new Bus("quiet", 0).read(0, window(1));
            assertTrue(records.isEmpty());
        } finally {
            jul.removeHandler(handler);
        }
    }

    // ---- concurrency and allocation ----

    @Test
    void concurrentReadersSeeConsistentResultsWhileLayoutChanges() throws Exception {
        Bus bus = new Bus("mmio", 0);
        int stable = 16;
        for (int i = 0; i < stable; i++) {
            bus.insert(new RecordingDevice((long) i << 32), 0x10_0000L * i, 0x1000);
        }
        // Churned devices live in their own window and always answer with their own tag.
        long churnBase = 0x1_0000_0000L;
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        int readers = 4;
        CountDownLatch started = new CountDownLatch(readers);
        Thread[] threads = new Thread[readers];
        for (int t = 0; t < readers; t++) {
            int seed = t;
            threads[t] = Thread.ofPlatform().start(() -> {
                MemorySegment data = window(8);
                started.countDown();
                long n = seed;
                try {
                    while (!stop.get()) {
                        int i = (int) (n++ % stable);
                        long off = (n * 8) & 0xFF8;
                        if (!bus.read(0x10_0000L * i + off, data)) {
                            throw new AssertionError("stable device " + i + " vanished");
                        }
                        long expected = ((long) i << 32) + off;
                        if (BusData.get(data) != expected) {
                            throw new AssertionError("stable device " + i + " answered " + BusData.get(data));
                        }
                        long slot = n % 8;
                        boolean hit = bus.read(churnBase + slot * 0x1000, data);
                        long v = BusData.get(data);
                        if (hit ? v >>> 40 != 0xC4 : v != 0) {
                            throw new AssertionError("churn slot " + slot + " hit=" + hit + " value=" + v);
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
        }
        started.await();
        for (int round = 0; round < 3000; round++) {
            long slot = round % 8;
            bus.insert(new RecordingDevice(0xC4L << 40), churnBase + slot * 0x1000, 0x1000);
            if (round % 3 == 0) {
                bus.move(churnBase + slot * 0x1000, churnBase + 0x10_0000 + slot * 0x1000);
                bus.remove(churnBase + 0x10_0000 + slot * 0x1000);
            } else {
                bus.remove(churnBase + slot * 0x1000);
            }
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        assertTrue(failures.isEmpty(), () -> "reader failed: " + failures.peek());
        assertEquals(stable, bus.ranges().size());
    }

    @Test
    void accessPathAllocatesNothing() throws Exception {
        Bus bus = new Bus("mmio", 1);
        bus.insert(new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment data) {
                BusData.set(data, offset);
            }
        }, 0x1000, 0x1000);
        for (int i = 0; i < 32; i++) {
            bus.insert(new BusDevice() { }, 0x10_0000L * (i + 1), 0x100);
        }
        MemorySegment w4 = MemorySegment.ofArray(new byte[4]);
        MemorySegment w8 = MemorySegment.ofArray(new byte[8]);
        bus.read(0x9999, w4); // use up the log budget outside the measurement
        int[] runs = {0};
        long allocated = Allocations.fewest(() -> {
            runs[0]++;
            for (int i = 0; i < 200_000; i++) {
                bus.read(0x1000 + (i & 0xFF8), w8);
                bus.write(0x10_0000L * ((i & 31) + 1) + 4, w4);
                bus.read(0x5000 + i, w4); // unmapped
            }
        });
        assertEquals(0, allocated, "bytes allocated by 600k bus accesses");
        assertEquals(1 + runs[0] * 200_000L, bus.unmappedReads());
    }
}
