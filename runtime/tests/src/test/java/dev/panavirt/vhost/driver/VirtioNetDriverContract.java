package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * {@link VirtioNetDriver} against a vdpa_sim_net device, whatever serves it (the kernel's, the model, the in-test
 * fake): the MAC from config space, frames to the device's own MAC, broadcast and multicast coming back through
 * the simulator's TX to RX loopback byte for byte, frames to a foreign unicast MAC dropped, ring indexes running
 * far past the queue size, and sending and receiving without allocation. Flavours supply the device and the
 * ring features to ask for.
 */
abstract class VirtioNetDriverContract {
    static final int TIMEOUT = 20_000;
    static final int QUEUE = 64;

    /** The device, freshly opened; closed by the test. */
    abstract VdpaDevice openDevice() throws Exception;

    /** The MAC the device is configured with. */
    abstract String expectedMac();

    /** Ring features to ask for (EVENT_IDX, INDIRECT_DESC). */
    long wantedFeatures() {
        return 0;
    }

    VdpaDevice device;
    VirtioNetDriver driver;
    final Arena arena = Arena.ofConfined();

    @BeforeEach
    void open() throws Exception {
        device = openDevice();
        driver = VirtioNetDriver.open(device, QUEUE, wantedFeatures());
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

    static MemorySegment frame(Arena arena, byte[] dst, byte[] src, int length, int seed) {
        MemorySegment f = arena.allocate(length);
        MemorySegment.copy(dst, 0, f, ValueLayout.JAVA_BYTE, 0, 6);
        MemorySegment.copy(src, 0, f, ValueLayout.JAVA_BYTE, 6, 6);
        f.set(ValueLayout.JAVA_SHORT_UNALIGNED, 12, (short) 0xb588); // 0x88b5, local experimental ethertype
        for (int i = 14; i < length; i++) {
            f.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return f;
    }

    @Test
    void macComesFromConfigSpace() {
        assertEquals(expectedMac(), driver.macString());
        assertTrue((driver.features() & (1L << 5)) != 0, "VIRTIO_NET_F_MAC negotiated");
        assertTrue((driver.features() & (1L << 33)) != 0, "ACCESS_PLATFORM negotiated");
    }

    @Test
    void framesToTheDevicesMacBroadcastAndMulticastComeBack() throws Exception {
        byte[] mac = driver.mac();
        byte[] broadcast = {-1, -1, -1, -1, -1, -1};
        byte[] multicast = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
        byte[] src = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
        MemorySegment got = arena.allocate(VirtioNetDriver.MAX_FRAME);
        int[] lengths = {60, 64, 100, 1514, VirtioNetDriver.MAX_FRAME, 14 + 1};
        byte[][] dsts = {mac, broadcast, multicast};
        int n = 0;
        for (byte[] dst : dsts) {
            for (int length : lengths) {
                MemorySegment f = frame(arena, dst, src, length, n++);
                assertTrue(driver.send(f));
                int r = driver.receive(got, TIMEOUT);
                assertEquals(length, r, "frame " + n + " to " + java.util.HexFormat.of().formatHex(dst));
                assertArrayEquals(f.toArray(ValueLayout.JAVA_BYTE), got.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE));
            }
        }
        assertTrue(driver.awaitTxDone(TIMEOUT));
        assertEquals(n, driver.framesReceived());
        assertEquals(driver.bytesSent(), driver.bytesReceived());
    }

    @Test
    void aBatchOfFramesComesBackInOrder() throws Exception {
        byte[] mac = driver.mac();
        MemorySegment got = arena.allocate(VirtioNetDriver.MAX_FRAME);
        int batch = Math.min(16, driver.txQueue().size() / 2);
        MemorySegment[] sent = new MemorySegment[batch];
        for (int i = 0; i < batch; i++) {
            sent[i] = frame(arena, mac, mac, 64 + 37 * i, 100 + i);
            assertTrue(driver.send(sent[i]));
        }
        for (int i = 0; i < batch; i++) {
            int r = driver.receive(got, TIMEOUT);
            assertEquals(sent[i].byteSize(), r, "frame " + i);
            assertArrayEquals(sent[i].toArray(ValueLayout.JAVA_BYTE), got.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE));
        }
        assertTrue(driver.awaitTxDone(TIMEOUT));
    }

    @Test
    void framesToAForeignUnicastMacAreDropped() throws Exception {
        byte[] mac = driver.mac();
        byte[] foreign = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
        MemorySegment got = arena.allocate(VirtioNetDriver.MAX_FRAME);
        assertTrue(driver.send(frame(arena, foreign, mac, 100, 1)));
        assertTrue(driver.awaitTxDone(TIMEOUT), "the dropped frame's TX buffer still comes back");
        assertEquals(0, driver.txQueue().usedLength(), "vdpa_sim completes TX with used length 0");
        assertEquals(-1, driver.receive(got, 300));
        MemorySegment ok = frame(arena, mac, mac, 80, 2);
        assertTrue(driver.send(ok));
        assertEquals(80, driver.receive(got, TIMEOUT), "the next frame to our MAC is not the dropped one");
        assertArrayEquals(ok.toArray(ValueLayout.JAVA_BYTE), got.asSlice(0, 80).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void ringIndexesRunFarPastTheQueueSize() throws Exception {
        byte[] mac = driver.mac();
        MemorySegment got = arena.allocate(VirtioNetDriver.MAX_FRAME);
        MemorySegment f = frame(arena, mac, mac, 128, 7);
        int rounds = QUEUE * 5 + 3;
        for (int i = 0; i < rounds; i++) {
            f.set(ValueLayout.JAVA_INT_UNALIGNED, 14, i);
            assertTrue(driver.send(f));
            assertEquals(128, driver.receive(got, TIMEOUT));
            assertEquals(i, got.get(ValueLayout.JAVA_INT_UNALIGNED, 14));
        }
        assertTrue(driver.awaitTxDone(TIMEOUT));
        assertEquals(rounds & 0xffff, driver.txQueue().availIndex());
        assertEquals(rounds, driver.framesReceived());
    }

    @Test
    void sendingAndReceivingAllocateNothing() throws Exception {
        C2.assume();
        byte[] mac = driver.mac();
        MemorySegment got = arena.allocate(VirtioNetDriver.MAX_FRAME);
        MemorySegment f = frame(arena, mac, mac, 256, 9);
        int[] sink = new int[1];
        Allocations.Body body = () -> {
            for (int i = 0; i < 8; i++) {
                driver.send(f);
                sink[0] += driver.receive(got, TIMEOUT);
            }
        };
        for (int i = 0; i < 200; i++) {
            body.run();
        }
        long bytes = Allocations.untilZero(Duration.ofSeconds(30), body);
        assertEquals(0, bytes, "8 frames sent and received allocated " + bytes + " bytes");
        assertTrue(sink[0] > 0);
    }
}
