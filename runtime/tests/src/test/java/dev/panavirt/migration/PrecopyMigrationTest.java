package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.KvmFlavour;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.testsupport.EduModelDma;
import dev.panavirt.testsupport.KvmHwTest;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vfio.EduModelDevice;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.ModelIommu;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.lang.foreign.ValueLayout;
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
 * the moved guest runs on to the result an unmigrated run gives; the edu model's state moves as a section, into
 * a model of the destination's (in the second process too). A harvest that drops one page is caught.
 */
@KvmTest
class PrecopyMigrationTest {
    static final long RAM = 64L << 20;
    static final int PAGES = 4096;                 // 16 MiB of data pages
    /** The source guest's limit: more writes than any migration lets it make. */
    static final long ENDLESS = 1L << 60;
    /** Writes the moved guest makes after the stop, and so the unmigrated run's length: the stop point's + MORE. */
    static final long MORE = 20_000;
    static final long DEVICE = 0x3000000;          // the edu device's DMA window: 1 MiB at 48 MiB
    static final long DEVICE_SIZE = 1L << 20;
    static final int RING = 1 << 18;               // 16384 entries
    static final ConvergencePolicy POLICY = new ConvergencePolicy(8, Duration.ofMillis(20), 3);

    static final GuestImage IMAGE = DirtyingGuest.image(PAGES);
    /** Whether this host's KVM keeps a dirty ring within its limit (see dirtyRingMigrationLosesNoPage). */
    static final boolean RING_HOLDS = KvmFlavour.detect() != KvmFlavour.PARAVIRTUAL;

    /** The ring size for {@link #tracked()}: the ring where it holds, none (the dirty log) elsewhere. */
    static int trackedRing() {
        return RING_HOLDS ? RING : 0;
    }

    /** The KVM dirty source of the tests that are not about the ring itself. */
    static Function<dev.panavirt.testkit.TestGuest, DirtySource> tracked() {
        return RING_HOLDS ? src -> new DirtyRingSource(src.vm(), src.memory().regions())
                : src -> new DirtyLogSource(src.vm(), src.memory().regions());
    }
    /** The result of an unmigrated run of {@code writes} writes. */
    static long unmigrated(long writes) throws Exception {
        try (DirtyingGuest g = new DirtyingGuest(IMAGE, RAM, 0, writes)) {
            g.start();
            return g.await();
        }
    }

    /**
     * The paravirtual KVM (kvm_pvm) fills a dirty ring past its soft limit (the kernel's "should never get full"
     * warning) and loses entries; DirtyRingSource then stops the migration with DirtyPagesLostException, as it
     * must. The ring's own test therefore runs where KVM keeps its limit (the nested host's kvm_amd); the tests of
     * the harness and of the two-process path use the ring there and the dirty log on the paravirtual KVM.
     */
    @Test
    @KvmHwTest
    void dirtyRingMigrationLosesNoPage() throws Exception {
        Outcome o = migrate(RING, src -> new DirtyRingSource(src.vm(), src.memory().regions()), null);
        assertEquals(List.of(), o.differing, "pages that differ at the stop point");
        assertEquals(unmigrated(o.stoppedAt + MORE), o.resumed, "the migrated guest's result against the unmigrated run's");
    }

    @Test
    void dirtyLogMigrationLosesNoPage() throws Exception {
        Outcome o = migrate(0, src -> new DirtyLogSource(src.vm(), src.memory().regions()), null);
        assertEquals(List.of(), o.differing, "pages that differ at the stop point");
        assertArrayEquals(o.deviceAtStop(), o.deviceAtDestination(), "the edu device's state, moved");
        assertEquals(unmigrated(o.stoppedAt + MORE), o.resumed, "the migrated guest's result against the unmigrated run's");
    }

    @Test
    void aHarvestThatDropsTheCounterPageIsCaught() throws Exception {
        // The write counter's page is written on every step: dropped from every harvest, the destination keeps
        // the full copy's version, and the comparison must name exactly that page.
        Outcome o = migrate(trackedRing(), tracked(),
                (paused, pending) -> DirtyingGuest.PROGRESS);
        assertEquals(List.of(DirtyingGuest.PROGRESS), o.differing);
    }

    @Test
    void aDataPageDroppedAtTheStopIsCaughtByTheComparisonAndByTheGuest() throws Exception {
        // Dropped from the harvest after the stop only: every page pending then was written after its last copy
        // (the previous harvest followed the last send), and nothing is sent after this harvest's pages. The
        // comparison names the page, and the moved guest's check of its pages fails.
        long[] dropped = {-1};
        Outcome o = migrate(trackedRing(), tracked(), (paused, pending) -> {
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

    @Test
    void twoProcessesOverLoopbackTcpLoseNoPage() throws Exception {
        try (TwoProcesses dst = new TwoProcesses()) {
            Outcome o = migrate(trackedRing(), tracked(), null, dst);
            assertEquals(List.of(), o.differing, "pages that differ at the stop point");
            assertArrayEquals(o.deviceAtStop(), o.deviceAtDestination(),
                    "the edu device's state, loaded into the destination process's model and saved again");
            assertEquals(unmigrated(o.stoppedAt + MORE), o.resumed, "the migrated guest's result against the unmigrated run's");
        }
    }

    /** Which page a harvest drops, given the source guest and whether it is stopped; -1 for none. */
    interface Dropper {
        long page(boolean paused, DirtyPages pending);
    }

    /**
     * @param differing the pages that differ at the stop point
     * @param resumed   the moved guest's result (a Long) or what it failed with
     * @param stoppedAt writes the guest had made at the stop
     * @param deviceAtStop        the edu model's section as the source sent it
     * @param deviceAtDestination the destination's edu model's state after it loaded that section, saved again
     */
    record Outcome(List<Long> differing, Object resumed, long stoppedAt, MigrationReport report, long dmaTransfers,
            byte[] deviceAtStop, byte[] deviceAtDestination) {}

    /**
     * Migrates a running guest with an edu device writing its memory, compares the RAM at the stop point,
     * and runs the moved guest to its end. {@code dropper}: null for a faithful harvest.
     */
    private Outcome migrate(int ring, Function<dev.panavirt.testkit.TestGuest, DirtySource> kvmSource, Dropper dropper)
            throws Exception {
        try (InProcess dst = new InProcess()) {
            return migrate(ring, kvmSource, dropper, dst);
        }
    }

    /** Where the stream goes, and what came of it there. */
    interface Destination extends AutoCloseable {
        /** The stream to the destination, opened once. */
        OutputStream stream() throws Exception;

        /** After the END record: what arrived, and the destination's RAM at the stop point (before it resumes). */
        Arrived arrived() throws Exception;

        /** Resumes the guest at the destination: its result (a Long) or what it failed with. */
        Object resume() throws Exception;
    }

    /** What arrived: pages, rounds, the destination's RAM at the stop point, its edu model's state as loaded. */
    record Arrived(long pages, int rounds, List<MemoryRegion> ram, byte[] device) {}

    /**
     * A fresh edu model loaded from the stream's section, then saved again: what the destination's device holds; null
     * for a stream without the section (the other migration tests use this destination for other devices).
     */
    static byte[] loadEdu(Map<String, byte[]> state) throws Exception {
        if (!state.containsKey(EduStateMigrationTest.SECTION)) {
            return null;
        }
        try (ModelIommu iommu = ModelIommu.open();
                EduModelDevice edu = EduModelDevice.create(iommu, true, EduDevice.Timing.IMMEDIATE)) {
            DeviceSection.load(state, EduStateMigrationTest.SECTION, EduStateMigrationTest.asDeviceState(edu.model()));
            return DeviceSection.save(EduStateMigrationTest.asDeviceState(edu.model()));
        }
    }

    /** A second VM in this JVM, fed through a pipe. */
    static final class InProcess implements Destination {
        final DirtyingGuest dst = new DirtyingGuest(IMAGE, RAM, 0, 0);
        final Pipe pipe = Pipe.open();
        final CompletableFuture<PrecopyDestination.Incoming> incoming = CompletableFuture.supplyAsync(() -> {
            try (InputStream in = new BufferedInputStream(Channels.newInputStream(pipe.source()), 1 << 16)) {
                return new PrecopyDestination(dst.guest().memory().regions()).receive(in);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });

        InProcess() throws Exception {
        }

        @Override
        public OutputStream stream() {
            return new BufferedOutputStream(Channels.newOutputStream(pipe.sink()), 1 << 16);
        }

        @Override
        public Arrived arrived() throws Exception {
            PrecopyDestination.Incoming in = incoming.get();
            return new Arrived(in.pages(), in.rounds(), dst.guest().memory().regions(), loadEdu(in.state()));
        }

        @Override
        public Object resume() throws Exception {
            dst.setLimit(dst.progress() + MORE);
            dst.restoreMachineState(incoming.get().state());
            dst.start();
            try {
                return dst.await();
            } catch (AssertionError e) {
                return e;
            }
        }

        @Override
        public void close() throws Exception {
            dst.close();
        }
    }

    /** A destination JVM ({@link TcpDestinationMain}) reached over a loopback TCP socket. */
    static final class TwoProcesses implements Destination {
        final Path dump = Files.createTempFile("precopy-destination", ".ram");
        final Process process;
        final BufferedReader lines;
        final Socket socket;

        TwoProcesses() throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            process = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", classPath(),
                    TcpDestinationMain.class.getName(), dump.toString()))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            int port = Integer.parseInt(expectLine("port ").trim());
            socket = new Socket(InetAddress.getLoopbackAddress(), port);
        }

        private String expectLine(String prefix) throws IOException {
            String line = lines.readLine();
            assertTrue(line != null && line.startsWith(prefix), "destination said " + line + ", expected " + prefix);
            return line.substring(prefix.length());
        }

        @Override
        public OutputStream stream() throws IOException {
            return new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
        }

        @Override
        public Arrived arrived() throws Exception {
            String[] got = expectLine("received ").split(" ");
            String d = expectLine("device ");
            byte[] device = d.equals("none") ? null : java.util.Base64.getDecoder().decode(d);
            MemorySegment ram = MemorySegment.ofArray(Files.readAllBytes(dump));
            return new Arrived(Long.parseLong(got[0]), Integer.parseInt(got[1]),
                    List.of(new MemoryRegion(0, 0, ram.byteSize(), 0, ram)), device);
        }

        @Override
        public Object resume() throws Exception {
            String line = lines.readLine();
            assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the destination process ended");
            assertEquals(0, process.exitValue(), "the destination's status");
            if (line != null && line.startsWith("result ")) {
                return Long.parseLong(line.substring(7));
            }
            return new AssertionError("destination: " + line);
        }

        @Override
        public void close() throws Exception {
            socket.close();
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            Files.deleteIfExists(dump);
        }

        /** The second JVM's class path: where this JVM loaded the runtime's modules and this test from, then the rest. */
        static String classPath() throws Exception {
            java.util.LinkedHashSet<String> entries = new java.util.LinkedHashSet<>();
            for (Class<?> c : List.of(TcpDestinationMain.class, dev.panavirt.testkit.TestGuest.class,
                    dev.panavirt.machine.Machine.class, dev.panavirt.kvm.Kvm.class, dev.panavirt.sys.Ioctl.class,
                    dev.panavirt.base.Errno.class, dev.panavirt.bindings.kvm.kvm_h.class, dev.panavirt.vhost.VdpaDevice.class,
                    dev.panavirt.vfio.VfioDevice.class, dev.panavirt.models.vdpa.VdpaSim.class)) {
                entries.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
            }
            entries.addAll(List.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)));
            return String.join(java.io.File.pathSeparator, entries);
        }
    }

    /**
     * Migrates a running guest with an edu device writing its memory to {@code destination}, compares the RAM at
     * the stop point, and runs the moved guest to its end. {@code dropper}: null for a faithful harvest.
     */
    static Outcome migrate(int ring, Function<dev.panavirt.testkit.TestGuest, DirtySource> kvmSource, Dropper dropper,
            Destination destination) throws Exception {
        try (DirtyingGuest src = new DirtyingGuest(IMAGE, RAM, ring, ENDLESS);
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
                        EduModelDma.run(edu, DirtyingGuest.DATA + (k * 7 % PAGES) * 4096, EduDevice.DMA_BUFFER, 4096, 0);
                        EduModelDma.run(edu, EduDevice.DMA_BUFFER, DEVICE + (k % (DEVICE_SIZE / 4096)) * 4096, 4096,
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

            List<RoundReport> log = new ArrayList<>();
            byte[][] deviceAtStop = {null};
            MigrationReport report;
            try (OutputStream out = destination.stream()) {
                report = new PrecopySource(ram, sources, POLICY, log::add).migrate(out, new PrecopySource.Switchover() {
                    @Override
                    public void pause() throws InterruptedException {
                        // a few more guest writes after the last harvest, so the stop always has data pages to copy
                        long seen = src.progress();
                        for (long end = System.nanoTime() + 10_000_000_000L; src.progress() < seen + 3
                                && System.nanoTime() - end < 0; ) {
                            Thread.sleep(0, 100_000);
                        }
                        dmaStop.set(true);
                        dma.join();
                        src.pause();
                        paused.set(true);
                    }

                    @Override
                    public Map<String, byte[]> state() throws ErrnoException {
                        Map<String, byte[]> state = new java.util.LinkedHashMap<>(src.machineState());
                        try {
                            deviceAtStop[0] = DeviceSection.save(EduStateMigrationTest.asDeviceState(edu.model()));
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                        state.put(EduStateMigrationTest.SECTION, deviceAtStop[0]);
                        return state;
                    }
                });
            }
            Arrived in = destination.arrived();
            for (DirtySource s : sources) {
                s.close();
            }
            log.forEach(r -> System.out.println("[precopy] " + r));
            System.out.println("[precopy] " + report + "; " + transfers.get() + " DMA transfers");

            assertFalse(src.finished(), "the source guest cannot finish");
            assertTrue(src.progress() > 0, "stopped mid-run at " + src.progress());
            assertTrue(transfers.get() > 0, "the device wrote guest memory");
            assertEquals(report.totalPages(), in.pages());
            assertEquals(report.rounds().size(), in.rounds());

            List<Long> differing = new ArrayList<>();
            RamCompare.differingPages(ram, in.ram(), differing::add);
            for (long gpa : differing.subList(0, Math.min(differing.size(), 8))) {
                System.out.printf("[precopy] differs: 0x%x seq source %d destination %d%n", gpa,
                        src.guest().memory().readLong(gpa),
                        in.ram().getFirst().memory().get(ValueLayout.JAVA_LONG_UNALIGNED, gpa));
            }
            return new Outcome(differing, destination.resume(), src.progress(), report, transfers.get(), deviceAtStop[0],
                    in.device());
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
}
