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
 * The migration's own figures (not a unit test): a 256 MiB guest (or {@code RAM_MIB}) dirtying 32 MiB of data pages at a high rate
 * (no delay between writes) and a low one, moved between two VMs in this JVM with the dirty ring and with the
 * dirty log; per round what {@link RoundReport} logs, then downtime (stop to the destination's vCPU state
 * restored, ready to run), total time and the harvest cost: the mean time of one harvest call (collect and
 * re-protect) scaled to one GiB of tracked RAM. Run with
 * {@code java -cp ... dev.panavirt.migration.PrecopyFigures [ROUNDS [RAM_MIB [ring|log]]]}
 * (without the third argument, both sources). A migration a source stops ({@link DirtyPagesLostException}) is
 * reported and the next one runs.
 */
public final class PrecopyFigures {
    /** The guest's RAM unless the second argument names it in MiB. */
    static final long DEFAULT_RAM = 256L << 20;
    static final int PAGES = 8192;
    static final long WRITES = 400_000;
    /** A tight downtime target, so the rounds show how each rate converges (or does not). */
    static final ConvergencePolicy POLICY = new ConvergencePolicy(30, Duration.ofMillis(10), 5);

    private PrecopyFigures() {
    }

    public static void main(String[] args) throws Exception {
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        long ram = args.length > 1 ? Long.parseLong(args[1]) << 20 : DEFAULT_RAM;
        if (ram < DirtyingGuest.DATA + ((long) PAGES << 12)) {
            throw new IllegalArgumentException("RAM_MIB too small for the guest's data area: " + (ram >> 20));
        }
        String only = args.length > 2 ? args[2] : "";
        for (int r = 0; r < repeats; r++) {
            for (int delay : new int[] {0, 40}) {
                for (boolean ring : new boolean[] {true, false}) {
                    if (!only.isEmpty() && !only.equals(ring ? "ring" : "log")) {
                        continue;
                    }
                    try {
                        run(ram, delay, ring);
                    } catch (DirtyPagesLostException e) {
                        // counted, not hidden: on a host whose rings overflow this is how often a migration stops
                        System.out.printf("%d MiB, %s, %s dirty rate: stopped after %d harvests (at most %d pages in one,"
                                + " at most %.1f ms between two), %s%n", ram >> 20, ring ? "dirty-ring" : "dirty-log",
                                delay == 0 ? "high" : "low", HARVESTS[0], HARVESTS[1], HARVESTS[2] / 1e6, e.getMessage());
                    }
                }
            }
        }
    }

    /** The last run's harvest calls, the most pages one call found, the longest time between two calls (ns). */
    static final long[] HARVESTS = new long[3];

    static void run(long ramBytes, int delay, boolean ring) throws Exception {
        java.util.Arrays.fill(HARVESTS, 0);
        long[] lastHarvest = {System.nanoTime()};
        var image = Guests.c(DirtyingGuest.source(PAGES, delay));
        try (DirtyingGuest src = new DirtyingGuest(image, ramBytes, ring ? 1 << 18 : 0, WRITES);
                DirtyingGuest dst = new DirtyingGuest(image, ramBytes, 0, WRITES)) {
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
                    HARVESTS[2] = Math.max(HARVESTS[2], t - lastHarvest[0]);
                    long n = source.harvest(into);
                    lastHarvest[0] = System.nanoTime();
                    HARVESTS[0]++;
                    HARVESTS[1] = Math.max(HARVESTS[1], n);
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
            double perGib = harvestNanos[0] / 1e6 / harvestNanos[1] * ((1L << 30) / (double) ramBytes);
            System.out.printf("%d MiB, %s, %s dirty rate (%d writes/s): %s%n  downtime %.2f ms (stop to state restored),"
                            + " %d pages differ; harvest %.3f ms per call per GiB tracked (%d calls)%n",
                    ramBytes >> 20, source.name(), delay == 0 ? "high" : "low", rate, report, (resumed - stop[0]) / 1e6, differing,
                    perGib, harvestNanos[1]);
        }
    }
}
