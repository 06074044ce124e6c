package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vfio.EduModelDevice;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.ModelIommu;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Two VMs in one JVM: a guest that dirties memory, with the VFIO edu model writing guest memory by DMA at the
 * same time, moves from one to the other; at the stop point the RAM of both is compared page by page, and
 * the moved guest runs on to the result an unmigrated run gives. A harvest that drops one page is caught.
 */
@KvmTest
class PrecopyMigrationTest {
    static final long RAM = 64L << 20;
    static final int PAGES = 4096;                 // 16 MiB of data pages
    static final long WRITES = 120_000L;           // about 4 s here: every guest loop iteration costs an exit on this PVM host
    static final long DEVICE = 0x3000000;          // the edu device's DMA window: 1 MiB at 48 MiB
    static final long DEVICE_SIZE = 1L << 20;
    static final int RING = 1 << 18;               // 16384 entries
    static final ConvergencePolicy POLICY = new ConvergencePolicy(8, Duration.ofMillis(20), 3);

    static final GuestImage IMAGE = DirtyingGuest.image(PAGES, WRITES);
    private static volatile Long expected;

    /** The unmigrated run's result, once per JVM. */
    static long expected() throws Exception {
        if (expected == null) {
            try (DirtyingGuest g = new DirtyingGuest(IMAGE, RAM, 0, WRITES)) {
                g.start();
                expected = g.await();
            }
        }
        return expected;
    }

    @Test
    void dirtyRingMigrationLosesNoPage() throws Exception {
        Outcome o = migrate(RING, src -> new DirtyRingSource(src.vm(), src.memory().regions()), null);
        assertEquals(List.of(), o.differing, "pages that differ at the stop point");
        assertEquals(expected(), o.resumed, "the migrated guest's result against the unmigrated run's");
    }

    @Test
    void dirtyLogMigrationLosesNoPage() throws Exception {
        Outcome o = migrate(0, src -> new DirtyLogSource(src.vm(), src.memory().regions()), null);
        assertEquals(List.of(), o.differing, "pages that differ at the stop point");
        assertEquals(expected(), o.resumed, "the migrated guest's result against the unmigrated run's");
    }

    @Test
    void aHarvestThatDropsTheCounterPageIsCaught() throws Exception {
        // The write counter's page is written on every step: dropped from every harvest, the destination keeps
        // the full copy's version, and the comparison must name exactly that page.
        Outcome o = migrate(RING, src -> new DirtyRingSource(src.vm(), src.memory().regions()),
                (paused, pending) -> DirtyingGuest.PROGRESS);
        assertEquals(List.of(DirtyingGuest.PROGRESS), o.differing);
    }

    @Test
    void aDataPageDroppedAtTheStopIsCaughtByTheComparisonAndByTheGuest() throws Exception {
        // Dropped from the harvest after the stop only: every page pending then was written after its last copy
        // (the previous harvest followed the last send), and nothing is sent after this harvest's pages. The
        // comparison names the page, and the moved guest's check of its pages fails.
        long[] dropped = {-1};
        Outcome o = migrate(RING, src -> new DirtyRingSource(src.vm(), src.memory().regions()), (paused, pending) -> {
            if (!paused || dropped[0] >= 0) {
                return -1;
            }
            long first = pending.next(pending.indexOf(DirtyingGuest.DATA));
            if (first < 0 || first >= pending.indexOf(DirtyingGuest.DATA + (PAGES - 1) * 4096L)) {
                return -1;
            }
            dropped[0] = pending.addressOf(first);
            return dropped[0];
        });
        assertTrue(dropped[0] >= 0, "a data page was pending at the stop");
        assertEquals(List.of(dropped[0]), o.differing);
        AssertionError e = assertInstanceOf(AssertionError.class, o.resumed, "the moved guest must fail its check");
        assertTrue(String.valueOf(e.getCause()).contains("guest assertion failed"), e.getCause().toString());
    }

    /** Which page a harvest drops, given the source guest and whether it is stopped; -1 for none. */
    interface Dropper {
        long page(boolean paused, DirtyPages pending);
    }

    /**
     * @param differing the pages that differ at the stop point
     * @param resumed   the moved guest's result (a Long) or what it failed with
     */
    record Outcome(List<Long> differing, Object resumed, MigrationReport report, long dmaTransfers) {}

    /**
     * Migrates a running guest with an edu device writing its memory, compares the RAM at the stop point,
     * and runs the moved guest to its end. {@code dropper}: null for a faithful harvest.
     */
    private Outcome migrate(int ring, Function<dev.panavirt.testkit.TestGuest, DirtySource> kvmSource, Dropper dropper)
            throws Exception {
        try (DirtyingGuest src = new DirtyingGuest(IMAGE, RAM, ring, WRITES);
                DirtyingGuest dst = new DirtyingGuest(IMAGE, RAM, 0, WRITES);
                ModelIommu iommu = ModelIommu.open();
                EduModelDevice edu = EduModelDevice.create(iommu, true, EduDevice.Timing.IMMEDIATE)) {
            List<MemoryRegion> ram = src.guest().memory().regions();
            iommu.map(DEVICE, src.guest().memory().slice(DEVICE, DEVICE_SIZE), Iommu.READ | Iommu.WRITE);
            AtomicBoolean paused = new AtomicBoolean();
            DirtySource kvm = kvmSource.apply(src.guest());
            if (dropper != null) {
                kvm = new DroppingSource(kvm, pending -> dropper.page(paused.get(), pending));
            }
            List<DirtySource> sources = List.of(kvm, new IommuDirtySource(iommu, DEVICE, DEVICE_SIZE, DEVICE));

            src.start();
            AtomicBoolean dmaStop = new AtomicBoolean();
            AtomicLong transfers = new AtomicLong();
            Thread dma = Thread.ofPlatform().name("edu-dma").start(() -> {
                try {
                    for (long k = 0; !dmaStop.get(); k++) {
                        // guest data page -> the device's buffer -> a page of the device window
                        runDma(edu, DirtyingGuest.DATA + (k * 7 % PAGES) * 4096, EduDevice.DMA_BUFFER, 4096, 0);
                        runDma(edu, EduDevice.DMA_BUFFER, DEVICE + (k % (DEVICE_SIZE / 4096)) * 4096, 4096,
                                EduDevice.DMA_TO_RAM);
                        transfers.incrementAndGet();
                    }
                } catch (ErrnoException e) {
                    throw new IllegalStateException(e);
                }
            });
            // the guest and the device are mid-run when the migration starts
            for (long deadline = System.nanoTime() + 10_000_000_000L; src.progress() == 0 || transfers.get() == 0; ) {
                assertTrue(System.nanoTime() - deadline < 0, "the guest or the device did not start within 10 s");
                Thread.sleep(1);
            }

            Pipe pipe = Pipe.open();
            CompletableFuture<PrecopyDestination.Incoming> incoming = CompletableFuture.supplyAsync(() -> {
                try (InputStream in = new BufferedInputStream(Channels.newInputStream(pipe.source()), 1 << 16)) {
                    return new PrecopyDestination(dst.guest().memory().regions()).receive(in);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            List<RoundReport> log = new ArrayList<>();
            MigrationReport report;
            try (OutputStream out = new BufferedOutputStream(Channels.newOutputStream(pipe.sink()), 1 << 16)) {
                report = new PrecopySource(ram, sources, POLICY, log::add).migrate(out, new PrecopySource.Switchover() {
                    @Override
                    public void pause() throws InterruptedException {
                        dmaStop.set(true);
                        dma.join();
                        src.pause();
                        paused.set(true);
                    }

                    @Override
                    public Map<String, byte[]> state() throws ErrnoException {
                        return src.machineState();
                    }
                });
            }
            PrecopyDestination.Incoming in = incoming.get();
            for (DirtySource s : sources) {
                s.close();
            }
            log.forEach(r -> System.out.println("[precopy] " + r));
            System.out.println("[precopy] " + report + "; " + transfers.get() + " DMA transfers");

            assertFalse(src.finished(), "the guest finished before the stop: make WRITES larger");
            assertTrue(src.progress() > 0 && src.progress() < WRITES, "stopped mid-run at " + src.progress());
            assertTrue(transfers.get() > 0, "the device wrote guest memory");
            assertEquals(report.totalPages(), in.pages());
            assertEquals(report.rounds().size(), in.rounds());

            List<Long> differing = new ArrayList<>();
            RamCompare.differingPages(ram, dst.guest().memory().regions(), differing::add);
            for (long gpa : differing.subList(0, Math.min(differing.size(), 8))) {
                System.out.printf("[precopy] differs: 0x%x seq source %d destination %d%n", gpa,
                        src.guest().memory().readLong(gpa), dst.guest().memory().readLong(gpa));
            }
            dst.restoreMachineState(in.state());
            dst.start();
            Object resumed;
            try {
                resumed = dst.await();
            } catch (AssertionError e) {
                resumed = e;
            }
            return new Outcome(differing, resumed, report, transfers.get());
        }
    }

    /** A harvest with one page removed: the broken tracker the checks must catch (test only). */
    private static final class DroppingSource implements DirtySource {
        private final DirtySource real;
        private final java.util.function.ToLongFunction<DirtyPages> drop;

        DroppingSource(DirtySource real, java.util.function.ToLongFunction<DirtyPages> drop) {
            this.real = real;
            this.drop = drop;
        }

        @Override
        public String name() {
            return real.name() + "-dropping";
        }

        @Override
        public void start() throws ErrnoException {
            real.start();
        }

        @Override
        public long harvest(DirtyPages into) throws ErrnoException {
            long n = real.harvest(into);
            long page = drop.applyAsLong(into);
            if (page >= 0) {
                into.unmark(into.indexOf(page));
            }
            return n;
        }

        @Override
        public void close() throws ErrnoException {
            real.close();
        }
    }

    private static void runDma(EduModelDevice edu, long src, long dst, long count, long cmd) throws ErrnoException {
        edu.write(0, EduDevice.DMA_SRC, 8, src);
        edu.write(0, EduDevice.DMA_DST, 8, dst);
        edu.write(0, EduDevice.DMA_COUNT, 8, count);
        edu.write(0, EduDevice.DMA_CMD, 8, cmd | EduDevice.DMA_RUN);
        while ((edu.read(0, EduDevice.DMA_CMD, 8) & EduDevice.DMA_RUN) != 0) {
            Thread.onSpinWait();
        }
    }
}
