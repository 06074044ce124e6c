package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.testsupport.Allocations;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioBlkDriver} against a vdpa_sim_blk device, whatever serves it: capacity and limits from config
 * space, sectors written and read back byte for byte (single sectors, the last sector, transfers split by the
 * device's {@code size_max} and {@code seg_max}), flush, the id, requests without allocation.
 */
abstract class VirtioBlkDriverContract {
    static final int QUEUE = 64;

    /** The device, freshly opened; closed by the test. */
    abstract VdpaDevice openDevice() throws Exception;

    /** Ring features to ask for (EVENT_IDX, INDIRECT_DESC). */
    long wantedFeatures() {
        return 0;
    }

    VdpaDevice device;
    VirtioBlkDriver driver;
    final Arena arena = Arena.ofConfined();

    @BeforeEach
    void open() throws Exception {
        device = openDevice();
        driver = VirtioBlkDriver.open(device, QUEUE, wantedFeatures());
    }

    @AfterEach
    void close() {
        if (driver != null) {
            driver.close();
        }
        if (device != null) {
            device.close();
        }
        arena.close();
    }

    static MemorySegment pattern(Arena arena, int bytes, int seed) {
        MemorySegment s = arena.allocate(bytes, 8);
        for (int i = 0; i < bytes; i += 4) {
            s.set(ValueLayout.JAVA_INT, i, i * 0x9e3779b1 + seed);
        }
        return s;
    }

    @Test
    void capacityAndLimitsComeFromConfigSpace() {
        assertEquals(0x40000, driver.capacity());
        assertEquals(4096, driver.sizeMax());
        assertEquals(32, driver.segMax());
        assertEquals(512, driver.blkSize());
        assertEquals(Math.min(32, QUEUE - 2) * 4096, driver.maxTransfer());
    }

    @Test
    void getIdNamesTheSimulator() throws Exception {
        assertEquals("vdpa_blk_sim", driver.id());
    }

    @Test
    void sectorsWrittenAreReadBack() throws Exception {
        MemorySegment one = pattern(arena, 512, 1);
        driver.write(7, one);
        MemorySegment back = arena.allocate(512);
        driver.read(7, back);
        assertArrayEquals(one.toArray(ValueLayout.JAVA_BYTE), back.toArray(ValueLayout.JAVA_BYTE));
        MemorySegment last = pattern(arena, 1024, 2);
        driver.write(driver.capacity() - 2, last);
        MemorySegment lastBack = arena.allocate(1024);
        driver.read(driver.capacity() - 2, lastBack);
        assertArrayEquals(last.toArray(ValueLayout.JAVA_BYTE), lastBack.toArray(ValueLayout.JAVA_BYTE));
        driver.flush();
        // The neighbours do not hold the sector written.
        MemorySegment neighbour = arena.allocate(512);
        for (long n : new long[] {6, 8}) {
            driver.read(n, neighbour);
            assertNotEquals(-1, neighbour.mismatch(one), "sector " + n);
        }
    }

    @Test
    void largeTransfersAreSplitByTheDevicesLimits() throws Exception {
        int bytes = 3 * driver.maxTransfer() + 4096 + 512; // four requests, the last not a whole segment
        MemorySegment data = pattern(arena, bytes, 3);
        long before = driver.requests();
        driver.write(1000, data);
        assertEquals(4, driver.requests() - before);
        MemorySegment back = arena.allocate(bytes);
        driver.read(1000, back);
        assertArrayEquals(data.toArray(ValueLayout.JAVA_BYTE), back.toArray(ValueLayout.JAVA_BYTE));
        // An overlapping rewrite in the middle shows in the read-back.
        MemorySegment patch = pattern(arena, 8192, 4);
        driver.write(1000 + 100, patch);
        driver.read(1000, back);
        MemorySegment.copy(patch, 0, data, 100 * 512L, 8192);
        assertArrayEquals(data.toArray(ValueLayout.JAVA_BYTE), back.toArray(ValueLayout.JAVA_BYTE));
        driver.flush();
    }

    @Test
    void requestsBeyondTheCapacityAreRefusedBeforeTheDevice() {
        MemorySegment s = arena.allocate(1024);
        assertThrows(IllegalArgumentException.class, () -> driver.read(driver.capacity() - 1, s));
        assertThrows(IllegalArgumentException.class, () -> driver.write(-1, s));
        assertThrows(IllegalArgumentException.class, () -> driver.read(0, arena.allocate(100)));
    }

    @Test
    void requestsAllocateNothing() throws Exception {
        C2.assume();
        MemorySegment data = pattern(arena, 4096, 5);
        MemorySegment back = arena.allocate(4096);
        Allocations.Body body = () -> {
            driver.write(64, data);
            driver.read(64, back);
            driver.flush();
        };
        for (int i = 0; i < 200; i++) {
            body.run();
        }
        long bytes = Allocations.untilZero(Duration.ofSeconds(30), body);
        assertEquals(0, bytes, "write, read and flush allocated " + bytes + " bytes");
        assertArrayEquals(data.toArray(ValueLayout.JAVA_BYTE), back.toArray(ValueLayout.JAVA_BYTE));
    }
}
