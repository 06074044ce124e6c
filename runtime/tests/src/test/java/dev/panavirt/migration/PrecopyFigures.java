package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.testsupport.Guests;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The migration's own figures (not a unit test): a 256 MiB guest dirtying 32 MiB of data pages at a high rate
 * (no delay between writes) and a low one, moved between two VMs in this JVM with the dirty ring and with the
 * dirty log; per round what {@link RoundReport} logs, then downtime (stop to the destination's vCPU state
 * restored, ready to run), total time and the harvest cost: the mean time of one harvest call (collect and
 * re-protect) scaled to one GiB of tracked RAM. Run with {@code java -cp ... dev.panavirt.migration.PrecopyFigures [ROUNDS]}.
 */
public final class PrecopyFigures {
    static final long RAM = 256L << 20;
    static final int PAGES = 8192;
    static final long WRITES = 400_000;
    /** A tight downtime target, so the rounds show how each rate converges (or does not). */
    static final ConvergencePolicy POLICY = new ConvergencePolicy(30, Duration.ofMillis(10), 5);

    private PrecopyFigures() {
    }

    public static void main(String[] args) throws Exception {
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        for (int r = 0; r < repeats; r++) {
            for (int delay : new int[] {0, 40}) {
                for (boolean ring : new boolean[] {true, false}) {
                    run(delay, ring);
                }
            }
        }
    }

    static void run(int delay, boolean ring) throws Exception {
        var image = Guests.c(DirtyingGuest.source(PAGES, delay));
        try (DirtyingGuest src = new DirtyingGuest(image, RAM, ring ? 1 << 18 : 0, WRITES);
                DirtyingGuest dst = new DirtyingGuest(image, RAM, 0, WRITES)) {
            List<MemoryRegion> ram = src.guest().memory().regions();
            DirtySource source = ring ? new DirtyRingSource(src.guest().vm(), ram) : new DirtyLogSource(src.guest().vm(), ram);
            src.start();
            long t0 = System.nanoTime();
            Thread.sleep(500);
            long rate = src.progress() * 1_000_000_000L / (System.nanoTime() - t0);
            Pipe pipe = Pipe.open();
            long[] stop = {0};
            CompletableFuture<PrecopyDestination.Incoming> incoming = CompletableFuture.supplyAsync(() -> {
                try (InputStream in = new BufferedInputStream(Channels.newInputStream(pipe.source()), 1 << 16)) {
                    return new PrecopyDestination(dst.guest().memory().regions()).receive(in);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            MigrationReport report;
            long[] harvestNanos = {0, 0};
            DirtySource timed = new DirtySource() {
                public String name() {
                    return source.name();
                }

                public void start() throws ErrnoException {
                    source.start();
                }

                public long harvest(DirtyPages into) throws ErrnoException {
                    long t = System.nanoTime();
                    long n = source.harvest(into);
                    harvestNanos[0] += System.nanoTime() - t;
                    harvestNanos[1]++;
                    return n;
                }
            };
            try (OutputStream out = new BufferedOutputStream(Channels.newOutputStream(pipe.sink()), 1 << 16)) {
                report = new PrecopySource(ram, List.of(timed), POLICY,
                        rr -> System.out.println("  " + rr)).migrate(out, new PrecopySource.Switchover() {
                            public void pause() throws InterruptedException {
                                stop[0] = System.nanoTime();
                                src.pause();
                            }

                            public Map<String, byte[]> state() throws ErrnoException {
                                return src.machineState();
                            }
                        });
            }
            PrecopyDestination.Incoming in = incoming.get();
            dst.restoreMachineState(in.state());
            long resumed = System.nanoTime();
            source.close();
            long differing = RamCompare.differingPages(ram, dst.guest().memory().regions(), gpa -> { });
            double perGib = harvestNanos[0] / 1e6 / harvestNanos[1] * ((1L << 30) / (double) RAM);
            System.out.printf("%s, %s dirty rate (%d writes/s): %s%n  downtime %.2f ms (stop to state restored),"
                            + " %d pages differ; harvest %.3f ms per call per GiB tracked (%d calls)%n",
                    source.name(), delay == 0 ? "high" : "low", rate, report, (resumed - stop[0]) / 1e6, differing,
                    perGib, harvestNanos[1]);
        }
    }
}
