package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The sending end of a precopy migration. Round 1 copies every page of the RAM while the guest runs; each
 * later round copies what the dirty sources reported during the previous one; when the
 * {@link ConvergencePolicy} stops iterating, the {@link Switchover} stops the guest and its devices, the
 * last harvest's pages and the state sections follow, and the END record tells the destination it may
 * resume. Each round is logged as a {@link RoundReport}.
 *
 * <p>The RAM must stay mapped and the sources open for the call's duration; the caller owns both.
 */
public final class PrecopySource {
    /** What the source does at the stop point. */
    public interface Switchover {
        /** Stops every vCPU and device model that writes guest memory; returns when none will write again. */
        void pause() throws ErrnoException, InterruptedException;

        /** The state sections to send (name to bytes, in the order the destination should apply them). */
        Map<String, byte[]> state() throws ErrnoException;
    }

    /** While a round sends, the sources are also harvested every this many pages, so dirty rings do not fill. */
    static final int HARVEST_EVERY = 2048;

    private final List<MemoryRegion> ram;
    private final List<DirtySource> sources;
    private final ConvergencePolicy policy;
    private final Consumer<RoundReport> log;
    private final DirtyPages dirty;
    private long zeroPages;

    /**
     * A source for {@code ram}, tracked by {@code sources}, stopping by {@code policy}, logging each round to
     * {@code log}.
     */
    public PrecopySource(List<MemoryRegion> ram, List<DirtySource> sources, ConvergencePolicy policy,
            Consumer<RoundReport> log) {
        if (sources.isEmpty()) {
            throw new IllegalArgumentException("a precopy migration needs at least one dirty source");
        }
        this.ram = List.copyOf(ram);
        this.sources = List.copyOf(sources);
        this.policy = policy;
        this.log = log;
        this.dirty = new DirtyPages(this.ram);
    }

    /**
     * Migrates to {@code out} (which it flushes but does not close).
     *
     * @throws IOException when the stream fails
     * @throws ErrnoException when a dirty source or the switchover fails
     * @throws InterruptedException when the switchover is interrupted
     */
    public MigrationReport migrate(OutputStream out, Switchover switchover)
            throws IOException, ErrnoException, InterruptedException {
        long start = System.nanoTime();
        MigrationStream.Writer w = new MigrationStream.Writer(out);
        w.ram(ram);
        for (DirtySource s : sources) {
            s.start();
        }
        dirty.markAll();
        List<RoundReport> rounds = new ArrayList<>();
        long sentTotal = 0;
        long sendNanos = 0;
        int outpaced = 0;
        for (int round = 1; ; round++) {
            long t0 = System.nanoTime();
            long zeroBefore = zeroPages;
            long sent = send(w, true);
            w.round(round, sent);
            w.flush();
            long t1 = System.nanoTime();
            harvest();
            long t2 = System.nanoTime();
            sentTotal += sent;
            sendNanos += t1 - t0;
            double bandwidth = sendNanos == 0 ? 0 : sentTotal * 1e9 / sendNanos;
            long found = dirty.count();
            double dirtyRate = found * 1e9 / Math.max(1, t2 - t0);
            outpaced = dirtyRate >= bandwidth ? outpaced + 1 : 0;
            Duration estimate = ConvergencePolicy.estimateDowntime(found, bandwidth);
            ConvergencePolicy.Decision d = policy.decide(round, estimate, outpaced);
            RoundReport r = new RoundReport(round, sent, zeroPages - zeroBefore, found, Duration.ofNanos(t1 - t0),
                    Duration.ofNanos(t2 - t1), bandwidth, dirtyRate, estimate, d);
            rounds.add(r);
            log.accept(r);
            if (d != ConvergencePolicy.Decision.CONTINUE) {
                break;
            }
        }
        long stop = System.nanoTime();
        switchover.pause();
        long paused = System.nanoTime();
        harvest();
        long finalPages = send(w, false);
        long stateBytes = 0;
        for (Map.Entry<String, byte[]> e : switchover.state().entrySet()) {
            w.state(e.getKey(), e.getValue());
            stateBytes += e.getValue().length;
        }
        w.end();
        long end = System.nanoTime();
        return new MigrationReport(List.copyOf(rounds), finalPages, sentTotal + finalPages, stateBytes,
                Duration.ofNanos(paused - stop), Duration.ofNanos(end - stop), Duration.ofNanos(end - start));
    }


    private void harvest() throws ErrnoException {
        for (DirtySource s : sources) {
            s.harvest(dirty);
        }
    }

    /** Sends and unmarks every marked page, region by region. */
    private long send(MigrationStream.Writer w, boolean harvestWhileSending) throws IOException, ErrnoException {
        long sent = 0;
        for (int i = 0; i < ram.size(); i++) {
            MemoryRegion r = ram.get(i);
            MemorySegment mem = r.memory();
            long first = dirty.regionStart(i);
            long end = first + r.pages();
            for (long idx = dirty.next(first); idx >= 0 && idx < end; idx = dirty.next(idx + 1)) {
                dirty.unmark(idx);
                long off = (idx - first) * DirtyPages.PAGE_SIZE;
                if (w.page(r.guestPhysAddr() + off, mem, off)) {
                    zeroPages++;
                }
                if (++sent % HARVEST_EVERY == 0 && harvestWhileSending) {
                    harvest();   // pages ahead of idx go out in this round, the others in the next
                }
            }
        }
        return sent;
    }
}
