package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.kvm.KvmFlavour;
import dev.panavirt.migration.ConvergencePolicy;
import dev.panavirt.migration.RamCompare;
import dev.panavirt.migration.RoundReport;
import dev.panavirt.testsupport.KvmTest;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A {@link Machine} running {@link MigrationDemoGuest} moves, while it writes every page of its RAM, to a second
 * machine in this JVM ({@link MachineMigration}): at the stop point both RAMs are equal page for page, and the
 * guest's output across the two machines, and its status, are those of an unmoved run. A page left stale is caught
 * by the guest's own check; a switchover that fails leaves the guest running at the source, to the same result.
 */
@KvmTest
class MachineMigrationTest {
    /** 3,056 pages written per round: ~17 ms a round on the paravirtual KVM, where a page-strided write costs ~5 µs. */
    static final long MEM = 16L << 20;
    /**
     * The guest's rounds, so that a move always lands mid-run. On the paravirtual KVM a round costs ~17 ms (~5 µs per
     * page-strided write: 200 rounds run 3.4 s). In the nested host guest code runs fast and the migration slowly (a
     * move takes ~4 s there: the JVM under emulation copies 3,000-5,000 pages/s); the guest's exit per round paces it
     * at ~0.9 ms a round (20,000 rounds ran 18.5 s), so 15,000 rounds run ~14 s. Without that pacing, 25,000 rounds
     * ran in 1.4 s and guests ended before the switchover.
     */
    static final long ROUNDS = KvmFlavour.detect() == KvmFlavour.PARAVIRTUAL ? 200 : 15_000;
    static final Duration LIMIT = Duration.ofSeconds(120);
    static final ConvergencePolicy POLICY = new ConvergencePolicy(10, Duration.ofMillis(20), 3);
    /** The dirty ring where this host's KVM keeps its limit, else the dirty log (see PrecopyMigrationTest). */
    static final int RING = KvmFlavour.detect() == KvmFlavour.PARAVIRTUAL ? 0 : 1 << 16;

    static Machine machine(OutputStream console, int ring) throws Exception {
        Machine m = new Machine(new Machine.Config(MEM, 1, false, LIMIT).withDirtyRing(ring), console);
        m.load(MigrationDemoGuest.image(MEM, ROUNDS), Machine.Mode.LONG);
        return m;
    }

    /** {@code work} on a thread of its own (not the common pool, which may have one thread on 2 cores). */
    static <T> CompletableFuture<T> async(java.util.concurrent.Callable<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                f.complete(work.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** The source's run, its console, the stream's far end, and the migration's outcome. */
    record Moved(Machine.Result source, String sourceOut, MachineMigration.Received received,
            ByteArrayOutputStream destinationOut, MachineMigration.Sent sent, List<Long> differing) {}

    /** Runs a source, moves it after {@code after} through a pipe to a machine built here; the destination has not run. */
    static Moved move(Duration after, int ring) throws Exception {
        ByteArrayOutputStream srcOut = new ByteArrayOutputStream(), dstOut = new ByteArrayOutputStream();
        Pipe pipe = Pipe.open();
        CompletableFuture<MachineMigration.Received> received = async(() -> {
            try (InputStream in = new BufferedInputStream(Channels.newInputStream(pipe.source()), 1 << 16)) {
                return MachineMigration.receive(in, dstOut);
            }
        });
        try (Machine src = machine(srcOut, ring)) {
            CompletableFuture<Machine.Result> run = async(src::run);
            Thread.sleep(after.toMillis());
            List<RoundReport> log = new ArrayList<>();
            MachineMigration.Sent sent;
            try (OutputStream out = new BufferedOutputStream(Channels.newOutputStream(pipe.sink()), 1 << 16)) {
                sent = MachineMigration.send(src, out, null, POLICY, log::add);
            }
            Machine.Result r = run.get(60, TimeUnit.SECONDS);
            log.forEach(l -> System.out.println("[machine-migration] " + l));
            System.out.println("[machine-migration] " + sent.report() + "; downtime " + sent.downtime().toMillis() + " ms");
            MachineMigration.Received in = received.get(60, TimeUnit.SECONDS);
            List<Long> differing = new ArrayList<>();
            RamCompare.differingPages(src.memory().regions(), in.machine().memory().regions(), differing::add);
            return new Moved(r, srcOut.toString(StandardCharsets.UTF_8), in, dstOut, sent, differing);
        }
    }

    @Test
    void aRunningGuestMovesWithNoPageLostAndEndsAsAnUnmovedRun() throws Exception {
        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        Machine.Result unmoved;
        try (Machine m = machine(whole, 0)) {
            unmoved = m.run();
        }
        assertEquals(0, unmoved.exitStatus(), unmoved.message());
        String expected = MigrationDemoGuest.expectedOutput(MEM, ROUNDS);
        assertEquals(expected, whole.toString(StandardCharsets.UTF_8));
        System.out.println("[machine-migration] unmoved run " + unmoved.elapsed().toMillis() + " ms");

        Moved m = move(Duration.ofMillis(Math.max(50, unmoved.elapsed().toMillis() / 4)), RING);
        assertEquals(Machine.Outcome.MIGRATED, m.source().outcome(), m.source().message());
        assertEquals(List.of(), m.differing(), "pages that differ at the stop point");
        assertTrue(m.sourceOut().length() < expected.length() - 1, "moved before the guest's end: " + m.sourceOut());
        try (Machine dst = m.received().machine()) {
            Machine.Result r = dst.run();
            assertEquals(0, r.exitStatus(), r.message());
        }
        assertEquals(expected, m.sourceOut() + m.destinationOut().toString(StandardCharsets.UTF_8),
                "the console across both machines");
    }

    @Test
    void aStalePageOnTheDestinationIsCaughtByTheGuest() throws Exception {
        Moved m = move(Duration.ofMillis(300), RING);
        assertEquals(List.of(), m.differing());
        long page = MigrationDemoGuest.DATA + 4096 * 17;
        try (Machine dst = m.received().machine()) {
            var mem = dst.memory().slice(page, 8);
            long count = mem.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
            assertTrue(count > 0, "the page was written before the move");
            mem.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, count - 1);      // one increment lost
            Machine.Result r = dst.run();
            assertEquals(3, r.exitStatus(), r.message());
        }
        assertTrue(m.destinationOut().toString(StandardCharsets.UTF_8)
                .contains("LOST WRITES: the page at 0x" + Long.toHexString(page)), m.destinationOut().toString());
    }

    @Test
    void aSwitchoverTheDestinationDoesNotAcknowledgeLeavesTheGuestRunningAtTheSource() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Machine src = machine(out, RING)) {
            CompletableFuture<Machine.Result> run = async(src::run);
            Thread.sleep(200);
            IOException e = assertThrows(IOException.class, () -> MachineMigration.send(src,
                    OutputStream.nullOutputStream(), new ByteArrayInputStream(new byte[0]), POLICY, r -> { }));
            assertTrue(e.getMessage().contains("runs on here"), e.getMessage());
            Machine.Result r = run.get(100, TimeUnit.SECONDS);
            assertEquals(Machine.Outcome.HALTED, r.outcome(), r.message());
        }
        assertEquals(MigrationDemoGuest.expectedOutput(MEM, ROUNDS), out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aMachineThatIsNotRunningIsRefused() throws Exception {
        try (Machine src = machine(OutputStream.nullOutputStream(), 0)) {
            MachineMigration.RunEndedException e = assertThrows(MachineMigration.RunEndedException.class, () -> MachineMigration.send(src,
                    OutputStream.nullOutputStream(), null, POLICY, r -> { }));
            assertTrue(e.getMessage().contains("not running"), e.getMessage());
        }
    }

    @Test
    void aStreamThatIsNotAMigrationIsRefusedBeforeAMachineIsBuilt() {
        IOException e = assertThrows(IOException.class, () -> MachineMigration.receive(
                new ByteArrayInputStream("PVSNAPSH and more".getBytes(StandardCharsets.US_ASCII)),
                OutputStream.nullOutputStream()));
        assertTrue(e.getMessage().contains("not a panavirt machine migration"), e.getMessage());
        byte[] huge = java.nio.ByteBuffer.allocate(12).put(MachineMigration.MAGIC.getBytes(StandardCharsets.US_ASCII))
                .putInt(Integer.MAX_VALUE).array();
        e = assertThrows(IOException.class, () -> MachineMigration.receive(new ByteArrayInputStream(huge),
                OutputStream.nullOutputStream()));
        assertTrue(e.getMessage().contains("settings claim"), e.getMessage());
    }
}
