package dev.panavirt.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.Allocations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Feeds made-up exits to the dispatcher, as the KVM run loop would after decoding kvm_run. */
class ExitDispatcherTest {

    private final Bus pio = new Bus("pio", 0);
    private final Bus mmio = new Bus("mmio", 0);
    private final ExitDispatcher dispatcher = new ExitDispatcher(pio, mmio);

    private static MemorySegment bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) values[i];
        }
        return MemorySegment.ofArray(b);
    }

    private static MemorySegment garbage(int size) {
        MemorySegment s = MemorySegment.ofArray(new byte[size]);
        s.fill((byte) 0xEE);
        return s;
    }

    // ---- port I/O ----

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void pioOutDeliversValueOfEachWidth(int size) {
        RecordingDevice dev = new RecordingDevice();
        pio.insert(dev, 0x3F8, 8);
        MemorySegment data = bytes(0x11, 0x22, 0x33, 0x44);
        assertEquals(Emulation.HANDLED, dispatcher.pio(0x3F8 + 2, size, false, data.asSlice(0, size), 1));
        long expected = BusData.get(data.asSlice(0, size));
        assertEquals(new RecordingDevice.Access(true, 0x3F8, 2, size, expected), dev.last());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void pioInFillsExactlyTheAccessWidth(int size) {
        pio.insert(new RecordingDevice(0x0A0B_0C00L), 0x60, 8);
        MemorySegment data = garbage(4);
        assertEquals(Emulation.HANDLED, dispatcher.pio(0x64, size, true, data.asSlice(0, size), 1));
        long full = 0x0A0B_0C04L;
        assertEquals(size == 4 ? full : full & ((1L << (8 * size)) - 1), BusData.get(data.asSlice(0, size)));
        // Bytes past the access width are the caller's and stay untouched.
        for (int i = size; i < 4; i++) {
            assertEquals((byte) 0xEE, data.get(ValueLayout.JAVA_BYTE, i));
        }
    }

    @Test
    void pioUsesOnlyTheLow16BitsOfThePort() {
        RecordingDevice dev = new RecordingDevice();
        pio.insert(dev, 0x8000, 1);
        int signExtended = (short) 0x8000; // what reading a u16 with JAVA_SHORT gives
        assertEquals(Emulation.HANDLED, dispatcher.pio(signExtended, 1, false, bytes(7), 1));
        assertEquals(0x8000, dev.last().base());
    }

    @Test
    void stringOutSendsEachElementToTheSamePortInOrder() {
        RecordingDevice dev = new RecordingDevice();
        pio.insert(dev, 0x1F0, 8);
        MemorySegment data = bytes(0x01, 0x02, 0x03, 0x04, 0x05, 0x06);
        assertEquals(Emulation.HANDLED, dispatcher.pio(0x1F0, 2, false, data, 3));
        assertEquals(List.of(
                new RecordingDevice.Access(true, 0x1F0, 0, 2, 0x0201),
                new RecordingDevice.Access(true, 0x1F0, 0, 2, 0x0403),
                new RecordingDevice.Access(true, 0x1F0, 0, 2, 0x0605)), dev.accesses);
    }

    @Test
    void stringInFillsEachElementFromItsOwnAccess() {
        BusDevice counter = new BusDevice() {
            private int next = 0x10;

            @Override
            public void read(long base, long offset, MemorySegment data) {
                BusData.set(data, next++);
            }
        };
        pio.insert(counter, 0x1F0, 4);
        MemorySegment data = garbage(16);
        assertEquals(Emulation.HANDLED, dispatcher.pio(0x1F0, 4, true, data, 4));
        for (int i = 0; i < 4; i++) {
            assertEquals(0x10 + i, BusData.get(data.asSlice(4L * i, 4)));
        }
    }

    @Test
    void stringIoMayUseALargerBuffer() {
        RecordingDevice dev = new RecordingDevice();
        pio.insert(dev, 0x80, 1);
        // kvm_run hands over a whole page; only count * size bytes belong to this exit.
        assertEquals(Emulation.HANDLED, dispatcher.pio(0x80, 1, false, garbage(4096), 5));
        assertEquals(5, dev.accesses.size());
    }

    @Test
    void unmappedPioInReadsZerosAndIsCounted() {
        MemorySegment data = garbage(8);
        assertEquals(Emulation.UNMAPPED, dispatcher.pio(0x70, 4, true, data, 2));
        assertArrayEquals(new byte[8], data.toArray(ValueLayout.JAVA_BYTE));
        assertEquals(Emulation.UNMAPPED, dispatcher.pio(0x80, 1, false, bytes(0), 1));
        assertEquals(2, pio.unmappedReads());
        assertEquals(1, pio.unmappedWrites());
        assertEquals(0, mmio.unmappedReads() + mmio.unmappedWrites());
    }

    @Test
    void pioStraddlingADeviceEndIsUnmapped() {
        pio.insert(new RecordingDevice(), 0x3F8, 8);
        assertEquals(Emulation.UNMAPPED, dispatcher.pio(0x3FE, 4, true, garbage(4), 1));
        assertEquals(Emulation.HANDLED, dispatcher.pio(0x3FC, 4, true, garbage(4), 1));
    }

    @Test
    void malformedPioExitsAreRunLoopBugs() {
        assertThrows(IllegalArgumentException.class, () -> dispatcher.pio(0x80, 3, false, garbage(4), 1));
        assertThrows(IllegalArgumentException.class, () -> dispatcher.pio(0x80, 8, false, garbage(8), 1));
        assertThrows(IllegalArgumentException.class, () -> dispatcher.pio(0x80, 1, false, garbage(4), 0));
        assertThrows(IllegalArgumentException.class, () -> dispatcher.pio(0x80, 2, true, garbage(5), 3));
    }

    // ---- MMIO ----

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8})
    void mmioWriteDeliversValueOfEachWidth(int len) {
        RecordingDevice dev = new RecordingDevice();
        mmio.insert(dev, 0xFEB0_0000L, 0x1000);
        MemorySegment data = bytes(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11);
        assertEquals(Emulation.HANDLED, dispatcher.mmio(0xFEB0_0010L, len, true, data));
        long expected = len == 8 ? 0x1122_3344_5566_7788L : 0x1122_3344_5566_7788L & ((1L << (8 * len)) - 1);
        assertEquals(new RecordingDevice.Access(true, 0xFEB0_0000L, 0x10, len, expected), dev.last());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8})
    void mmioReadFillsTheFirstLenBytesOfTheDataField(int len) {
        mmio.insert(new RecordingDevice(0x0102_0304_0506_0700L), 0xFEB0_0000L, 0x1000);
        MemorySegment data = garbage(8); // kvm_run.mmio.data is always 8 bytes
        assertEquals(Emulation.HANDLED, dispatcher.mmio(0xFEB0_0008L, len, false, data));
        long value = 0x0102_0304_0506_0708L;
        assertEquals(len == 8 ? value : value & ((1L << (8 * len)) - 1), BusData.get(data.asSlice(0, len)));
        for (int i = len; i < 8; i++) {
            assertEquals((byte) 0xEE, data.get(ValueLayout.JAVA_BYTE, i));
        }
    }

    @Test
    void mmioReadLeavesZerosWhereTheDeviceStoresNothing() {
        mmio.insert(new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment data) {
                data.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x5A); // only the low byte
            }
        }, 0x1000, 0x100);
        MemorySegment data = garbage(8);
        assertEquals(Emulation.HANDLED, dispatcher.mmio(0x1000, 4, false, data));
        assertEquals(0x5A, BusData.get(data.asSlice(0, 4)));
    }

    @Test
    void mmioAcceptsOddWidthsFromPageSplits() {
        RecordingDevice dev = new RecordingDevice();
        mmio.insert(dev, 0x2000, 0x1000);
        MemorySegment data = bytes(1, 2, 3, 4, 5, 6, 7, 8);
        assertEquals(Emulation.HANDLED, dispatcher.mmio(0x2FFD, 3, true, data));
        assertEquals(new RecordingDevice.Access(true, 0x2000, 0xFFD, 3, 0x030201), dev.last());
        assertEquals(Emulation.HANDLED, dispatcher.mmio(0x2000, 5, false, data));
        assertEquals(0x00_0000_1000L, BusData.get(data.asSlice(0, 5)));
    }

    @Test
    void unmappedMmioReadReturnsZerosAndIsCounted() {
        MemorySegment data = garbage(8);
        assertEquals(Emulation.UNMAPPED, dispatcher.mmio(0xDEAD_0000L, 8, false, data));
        assertEquals(0, BusData.get(data));
        assertEquals(Emulation.UNMAPPED, dispatcher.mmio(0xDEAD_0000L, 4, true, data));
        assertEquals(1, mmio.unmappedReads());
        assertEquals(1, mmio.unmappedWrites());
        assertEquals(0, pio.unmappedReads() + pio.unmappedWrites());
    }

    @Test
    void malformedMmioExitsAreRunLoopBugs() {
        assertThrows(IllegalArgumentException.class, () -> dispatcher.mmio(0x1000, 0, false, garbage(8)));
        assertThrows(IllegalArgumentException.class, () -> dispatcher.mmio(0x1000, 9, false, garbage(16)));
        assertThrows(IllegalArgumentException.class, () -> dispatcher.mmio(0x1000, 4, true, garbage(2)));
    }

    @Test
    void devicesCanUseAlignedLayoutsOnTheWindow() {
        // The scratch window is 8-byte aligned even when the caller's data is a byte[] heap segment.
        mmio.insert(new BusDevice() {
            @Override
            public void write(long base, long offset, MemorySegment data) {
                assertEquals(0x1234_5678, data.get(ValueLayout.JAVA_INT, 0));
            }
        }, 0x1000, 0x10);
        MemorySegment data = MemorySegment.ofArray(new byte[9]).asSlice(1, 8);
        data.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x1234_5678);
        assertEquals(Emulation.HANDLED, dispatcher.mmio(0x1000, 4, true, data));
    }

    @Test
    void worksOnNativeMemoryLikeKvmRun() {
        mmio.insert(new RecordingDevice(0x4200), 0x1000, 0x100);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment run = arena.allocate(4096);
            MemorySegment mmioData = run.asSlice(40, 8);
            assertEquals(Emulation.HANDLED, dispatcher.mmio(0x1010, 2, false, mmioData));
            assertEquals(0x4210, BusData.get(mmioData.asSlice(0, 2)));
        }
    }

    @Test
    void dispatchAllocatesNothing() throws Exception {
        pio.insert(new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment data) {
                BusData.set(data, offset);
            }
        }, 0x3F8, 8);
        mmio.insert(new BusDevice() { }, 0xD000_0000L, 0x1000);
        MemorySegment pioData = MemorySegment.ofArray(new byte[64]);
        MemorySegment mmioData = MemorySegment.ofArray(new byte[8]);
        long allocated = Allocations.fewest(() -> {
            for (int i = 0; i < 100_000; i++) {
                dispatcher.pio(0x3F8 + (i & 3), 1, (i & 1) == 0, pioData, 1);
                dispatcher.pio(0x3F8, 2, true, pioData, 16);
                dispatcher.mmio(0xD000_0000L + (i & 0xFF8), 8, (i & 1) == 0, mmioData);
                dispatcher.mmio(0xE000_0000L, 4, false, mmioData); // unmapped
            }
        });
        assertEquals(0, allocated, "bytes allocated by 400k dispatched exits");
        assertTrue(mmio.unmappedReads() > 0);
    }
}
