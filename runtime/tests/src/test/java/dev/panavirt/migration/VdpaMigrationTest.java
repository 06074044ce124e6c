package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.models.vdpa.TestRings;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.testsupport.KvmTest;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The vDPA net simulator's loopback writes guest memory (RX buffers, both used rings) while the guest dirties its
 * own pages and both move to a second VM. The model's writes are tracked by {@link VdpaWriteTracker}; at the stop
 * the model is suspended and its {@link VdpaModelState} goes as a section. On the destination a fresh model is
 * restored from it, and the queues continue: the used indexes go on from where the source left them and new frames
 * arrive in the destination's RAM. Without the tracker pages differ; without the section the queues do not move.
 *
 * <p>A host thread stands in for the guest's virtio-net driver: it writes descriptors, the available rings and TX
 * frames into guest RAM. KVM would log a guest driver's writes; this thread's are reported by {@link DriverPages},
 * a test-only source that reports its few pages in every harvest.
 */
@KvmTest
class VdpaMigrationTest {
    static final String SECTION = "vdpa.net";
    static final long WINDOW = 0x3800000, WINDOW_SIZE = 1L << 20;     // IOVA = guest-physical address
    static final int NUM = 16;
    static final long RXQ = 0, TXQ = 0x2000, CVQ = 0x4000, TXBUF = 0x10000, RXBUF = 0x40000;
    static final int RX_PAGES = 64;
    static final byte[] MAC = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    static final int HEADER = 12, FRAME = HEADER + 6 + 50;
    static final long MORE_FRAMES = 10;

    @Test
    void theQueuesWritesAndStateMoveAndTheQueuesContinue() throws Exception {
        Moved m = migrate(true, true);
        assertEquals(List.of(), m.differing, "pages that differ at the stop point");
        assertTrue(m.framesAtStop > 0, "the device wrote guest memory before the stop");
        assertEquals(m.framesAtStop & 0xffff, m.rxUsedAfterRestore, "RX used index on the destination after restore and kick");
        assertEquals(m.framesAtStop & 0xffff, m.txUsedAfterRestore, "TX used index on the destination after restore and kick");
        assertEquals((m.framesAtStop + MORE_FRAMES) & 0xffff, m.rxUsedAtEnd, "the RX queue continued on the destination");
        assertTrue(m.newFramesArrived, "the frames sent on the destination arrived in its RAM");
        assertEquals(PrecopyMigrationTest.unmigrated(m.stoppedAt + PrecopyMigrationTest.MORE), m.resumed,
                "the migrated guest's result against the unmigrated run's");
    }

    @Test
    void withoutTheTrackerTheDevicesPagesDiffer() throws Exception {
        Moved m = migrate(false, true);
        assertFalse(m.differing.isEmpty(), "the device's writes are lost without the tracker");
        for (long gpa : m.differing) {
            assertTrue(gpa >= WINDOW && gpa < WINDOW + WINDOW_SIZE, "differs outside the device's pages: 0x"
                    + Long.toHexString(gpa));
        }
    }

    @Test
    void withoutTheSectionTheQueuesDoNotContinue() throws Exception {
        Moved m = migrate(true, false);
        assertEquals(List.of(), m.differing, "RAM alone still arrives whole");
        assertEquals(m.framesAtStop & 0xffff, m.rxUsedAtEnd, "a fresh device serves nothing: the RX used index stays");
        assertFalse(m.newFramesArrived);
    }

    @Test
    void theStateIsTakenOnlyFromASuspendedDeviceAndDecodedStrictly() throws Exception {
        TestRings r = new TestRings(java.lang.foreign.Arena.ofAuto().allocate(WINDOW_SIZE, 4096), 0x100000);
        VdpaSim sim = VdpaSim.net(MAC, VdpaSim.Options.defaults(), r);
        bringUp(sim, r, 0x100000, r.uaddr());
        assertThrows(IllegalStateException.class, () -> VdpaModelState.capture(sim));
        sim.suspend();
        byte[] good = VdpaModelState.capture(sim).encode();
        assertEquals(VdpaModelState.capture(sim), VdpaModelState.decode(good));
        byte[] badMagic = good.clone();
        badMagic[0] ^= 1;
        byte[] longer = java.util.Arrays.copyOf(good, good.length + 1);
        byte[] shorter = java.util.Arrays.copyOf(good, good.length - 1);
        for (byte[] bad : List.of(badMagic, longer, shorter)) {
            assertThrows(IOException.class, () -> VdpaModelState.decode(bad));
        }
    }

    record Moved(List<Long> differing, long framesAtStop, int rxUsedAfterRestore,
            int txUsedAfterRestore, int rxUsedAtEnd, boolean newFramesArrived, Object resumed, long stoppedAt) {}

    /** The driver's bring-up of the net simulator over rings at {@code iova} (mapped to {@code uaddr}). */
    static void bringUp(VdpaSim sim, TestRings r, long iova, long uaddr) throws ErrnoException {
        sim.setOwner();
        sim.setFeatures(VdpaSim.NET_FEATURES);
        sim.setStatus(VdpaSim.ACKNOWLEDGE | VdpaSim.DRIVER | VdpaSim.FEATURES_OK);
        long[] at = {RXQ, TXQ, CVQ};
        for (int i = 0; i < sim.vqsCount(); i++) {
            TestRings.Q q = r.queue(at[i], NUM);
            sim.setVringNum(i, NUM);
            sim.setVringAddr(i, 0, q.descIova(), q.availIova(), q.usedIova(), 0);
            sim.setVringEnable(i, true);
        }
        sim.iotlb(0, VdpaSim.IOTLB_UPDATE, iova, WINDOW_SIZE, uaddr, 3);
        sim.setStatus(VdpaSim.ACKNOWLEDGE | VdpaSim.DRIVER | VdpaSim.FEATURES_OK | VdpaSim.DRIVER_OK);
    }

    /** Frame {@code k}: the virtio-net header, our MAC, then {@code k} and a pattern. */
    static byte[] frame(long k) {
        byte[] f = new byte[FRAME];
        System.arraycopy(MAC, 0, f, HEADER, 6);
        for (int i = HEADER + 6; i < f.length; i++) {
            f[i] = (byte) (k >>> (8 * ((i - HEADER - 6) % 8)) ^ i);
        }
        return f;
    }

    /** Sends frame {@code k}: an RX buffer posted for it, the frame on TX, TX kicked. */
    static void send(VdpaSim sim, TestRings r, TestRings.Q rx, TestRings.Q tx, long k) {
        int slot = (int) (k % NUM);
        rx.desc(slot, r.iovaOf(RXBUF + (k % RX_PAGES) * 4096), 2048, 2, 0).post(slot);
        byte[] f = frame(k);
        r.put(TXBUF + slot * 0x100L, f);
        tx.desc(slot, r.iovaOf(TXBUF + slot * 0x100L), f.length, 0, 0).post(slot);
        sim.kick(1);
    }

    private static int u16(MemorySegment window, long off) {
        return Short.toUnsignedInt(window.get(ValueLayout.JAVA_SHORT_UNALIGNED, off));
    }

    private static Moved migrate(boolean track, boolean sendSection) throws Exception {
        try (DirtyingGuest src = new DirtyingGuest(PrecopyMigrationTest.IMAGE, PrecopyMigrationTest.RAM, 0,
                PrecopyMigrationTest.ENDLESS);
                PrecopyMigrationTest.InProcess destination = new PrecopyMigrationTest.InProcess()) {
            List<MemoryRegion> ram = src.guest().memory().regions();
            MemorySegment window = src.guest().memory().slice(WINDOW, WINDOW_SIZE);
            TestRings r = new TestRings(window, WINDOW);
            VdpaWriteTracker tracker = new VdpaWriteTracker(r, ram);
            VdpaSim sim = VdpaSim.net(MAC, VdpaSim.Options.defaults(), tracker);
            bringUp(sim, r, WINDOW, window.address());
            TestRings.Q rx = r.queue(RXQ, NUM), tx = r.queue(TXQ, NUM);

            List<DirtySource> sources = new ArrayList<>(List.of(new DirtyLogSource(src.guest().vm(), ram),
                    new DriverPages(WINDOW + RXQ, WINDOW + TXQ, WINDOW + CVQ, WINDOW + TXBUF)));
            if (track) {
                sources.add(tracker);
            }
            src.start();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong sent = new AtomicLong();
            Thread driver = Thread.ofPlatform().name("virtio-net-driver").start(() -> {
                for (long k = 0; !stop.get(); k++) {
                    send(sim, r, rx, tx, k);
                    sent.incrementAndGet();
                    LockSupport.parkNanos(50_000);
                }
            });
            for (long deadline = System.nanoTime() + 10_000_000_000L; src.progress() == 0 || sent.get() == 0; ) {
                assertTrue(System.nanoTime() - deadline < 0, "the guest or the driver did not start within 10 s");
                Thread.sleep(1);
            }
            try (OutputStream out = destination.stream()) {
                new PrecopySource(ram, sources, PrecopyMigrationTest.POLICY, rr -> System.out.println("[vdpa] " + rr))
                        .migrate(out, new PrecopySource.Switchover() {
                            @Override
                            public void pause() throws InterruptedException {
                                sim.suspend();                 // the device first: no write after this
                                stop.set(true);
                                driver.join();
                                src.pause();
                            }

                            @Override
                            public Map<String, byte[]> state() throws ErrnoException {
                                Map<String, byte[]> m = src.machineState();
                                if (sendSection) {
                                    m.put(SECTION, VdpaModelState.capture(sim).encode());
                                }
                                return m;
                            }
                        });
            }
            PrecopyMigrationTest.Arrived in = destination.arrived();
            assertEquals(0, tracker.harvest(new DirtyPages(ram)), "the suspended device wrote nothing");
            for (DirtySource s : sources) {
                s.close();
            }
            List<Long> differing = new ArrayList<>();
            RamCompare.differingPages(ram, in.ram(), differing::add);
            long framesAtStop = sent.get();
            System.out.println("[vdpa] " + framesAtStop + " frames before the stop; RX used " + u16(window, rx.used + 2)
                    + ", base " + sim.vringBase(0) + "; differing " + differing.size());

            // the destination: its own model over its own RAM at the same IOVAs
            MemorySegment dstWindow = destination.dst.guest().memory().slice(WINDOW, WINDOW_SIZE);
            TestRings dr = new TestRings(dstWindow, WINDOW);
            VdpaSim dst = VdpaSim.net(MAC, VdpaSim.Options.defaults(), dr);
            dst.setOwner();
            dst.iotlb(0, VdpaSim.IOTLB_UPDATE, WINDOW, WINDOW_SIZE, dstWindow.address(), 3);
            Map<String, byte[]> state = destination.incoming.get().state();
            if (state.containsKey(SECTION)) {
                VdpaModelState.decode(state.get(SECTION)).restore(dst);
            }
            for (int i = 0; i < dst.vqsCount(); i++) {
                dst.kick(i);
            }
            TestRings.Q drx = dr.queue(RXQ, NUM), dtx = dr.queue(TXQ, NUM);
            int rxAfter = drx.usedIdx(), txAfter = dtx.usedIdx();
            drx.availIdx = u16(dstWindow, drx.avail + 2);     // the driver's state is in guest RAM
            dtx.availIdx = u16(dstWindow, dtx.avail + 2);
            boolean arrived = true;
            for (long k = framesAtStop; k < framesAtStop + MORE_FRAMES; k++) {
                send(dst, dr, drx, dtx, k);
                byte[] got = dr.get(RXBUF + (k % RX_PAGES) * 4096, FRAME);
                arrived &= java.util.Arrays.equals(frame(k), got);
            }
            int rxEnd = drx.usedIdx();
            return new Moved(differing, framesAtStop, rxAfter, txAfter, rxEnd, arrived, destination.resume(), src.progress());
        }
    }

    /** The pages the stand-in driver writes, reported by every harvest (test only; KVM logs a real driver's). */
    static final class DriverPages implements DirtySource {
        private final long[] pages;

        DriverPages(long... pages) {
            this.pages = pages;
        }

        @Override
        public String name() {
            return "driver-pages";
        }

        @Override
        public void start() {
        }

        @Override
        public long harvest(DirtyPages into) {
            for (long p : pages) {
                into.markAddress(p);
            }
            return pages.length;
        }
    }
}
