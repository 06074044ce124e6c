package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.state.X86MachineState;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testkit.TestGuest.Stop;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testsupport.Guests;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A guest that keeps dirtying memory in a pattern it verifies, and the thread that runs it so a migration
 * can stop it at any point.
 *
 * <p>The guest makes as many writes as the word at {@link #LIMIT} says, each to a pseudo-random page of a data area: it bumps the
 * page's sequence number (word 0), stores its index (word 1), folds the sequence into the page's running
 * checksum (word 2) and writes a value derived from page and sequence into one word chosen by the sequence.
 * At the end it checks every page against its sequence number (the checksum recomputed from 1..seq, the
 * last word written) and the sum of the sequence numbers against the limit, then reports a checksum of
 * the whole run. A page restored stale or torn fails those checks or changes the result. The write counter
 * lives at {@link #PROGRESS}, a page written on every step.
 */
final class DirtyingGuest implements AutoCloseable {
    /** Guest-physical address of the write counter. */
    static final long PROGRESS = 0xf00000;
    /** Guest-physical address of the number of writes to make, which the guest reads before each one. */
    static final long LIMIT = 0xf01000;
    /** Guest-physical base of the data area. */
    static final long DATA = 0x1000000;

    static String source(int pages) {
        return source(pages, 0);
    }

    /** The guest with {@code delay} empty loop iterations after each write (a lower dirty rate). */
    static String source(int pages, int delay) {
        return """
                #define DATA 0x%xull
                #define NPAGES %dull
                #define LIMIT ((volatile u64 *)0x%xull)
                #define PROGRESS ((volatile u64 *)0x%xull)
                #define DELAY %du
                static u64 fold(u64 c, u64 seq, u64 p) { return c * 31 + (seq ^ (p << 20)); }
                static u64 value(u64 seq, u64 p) { return (seq * 0x9e3779b97f4a7c15ull) ^ p; }
                int main(void) {
                    u64 x = 0x2545f4914f6cdd1dull, sum = 0;
                    for (u64 i = 0; i < *LIMIT; i++) {
                        x = x * 6364136223846793005ull + 1442695040888963407ull;
                        u64 p = (x >> 33) %% NPAGES;
                        volatile u64 *pg = (volatile u64 *)(DATA + p * 4096);
                        u64 seq = pg[0] + 1;
                        pg[0] = seq;
                        pg[1] = p;
                        pg[2] = fold(pg[2], seq, p);
                        pg[3 + seq %% 509] = value(seq, p);
                        sum = sum * 0x100000001b3ull + (seq ^ p);
                        *PROGRESS = i + 1;
                        for (volatile u32 d = 0; d < DELAY; d++) { }
                    }
                    u64 total = 0;
                    for (u64 p = 0; p < NPAGES; p++) {
                        volatile u64 *pg = (volatile u64 *)(DATA + p * 4096);
                        u64 seq = pg[0], c = 0;
                        total += seq;
                        if (seq == 0) { GUEST_ASSERT_EQ(pg[2], 0); continue; }
                        GUEST_ASSERT_EQ(pg[1], p);
                        for (u64 s = 1; s <= seq; s++) c = fold(c, s, p);
                        GUEST_ASSERT_EQ(pg[2], c);
                        GUEST_ASSERT_EQ(pg[3 + seq %% 509], value(seq, p));
                    }
                    GUEST_ASSERT_EQ(total, *LIMIT);
                    GUEST_DONE(sum);
                    return 0;
                }
                """.formatted(DATA, pages, LIMIT, PROGRESS, delay);
    }

    static GuestImage image(int pages) {
        return Guests.c(source(pages));
    }

    private final TestGuest guest;
    private volatile boolean pauseRequested;
    private final AtomicReference<Object> outcome = new AtomicReference<>();
    private Thread runner;

    /**
     * A VM for the guest with {@code ram} bytes, to make {@code writes} writes; {@code dirtyRingBytes} > 0 gives
     * each vCPU a dirty ring.
     */
    DirtyingGuest(GuestImage image, long ram, int dirtyRingBytes, long writes) throws ErrnoException {
        Options o = Options.defaults().withRam(ram);
        if (dirtyRingBytes > 0) {
            o = o.withDirtyRing(dirtyRingBytes);
        }
        this.guest = TestGuest.create(image, true, o);
        setLimit(writes);
    }

    /** Sets the number of writes the guest makes in all (it reads the limit before each write). */
    void setLimit(long writes) {
        guest.memory().writeLong(LIMIT, writes);
    }

    TestGuest guest() {
        return guest;
    }

    /** Writes made so far. */
    long progress() {
        return guest.memory().readLong(PROGRESS);
    }

    /** Starts running the guest on a thread of its own; it runs until it finishes or {@link #pause()}. */
    void start() {
        runner = Thread.ofPlatform().name("dirtying-guest").start(() -> {
            try {
                while (true) {
                    Stop s = guest.next(0, Duration.ofSeconds(120));
                    if (s.kind() == StopKind.DONE) {
                        outcome.set(s.value());
                        return;
                    }
                    if (pauseRequested) {
                        outcome.set(s);
                        return;
                    }
                    if (s.kind() == StopKind.DIRTY_RING_FULL) {
                        // the migration thread harvests and resets the ring; re-entering before that exits again
                        Thread.sleep(0, 50_000);
                    } else if (s.kind() != StopKind.INTERRUPTED) {
                        throw new AssertionError("guest stopped with " + s);
                    }
                }
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
    }

    /** Stops the guest (kicks the vCPU out of KVM_RUN) and waits until its thread is done. */
    void pause() throws InterruptedException {
        pauseRequested = true;
        guest.vcpu(0).kick();
        runner.join();
    }

    /** Whether the guest ran to its end before it was paused. */
    boolean finished() {
        return outcome.get() instanceof Long;
    }

    /** Waits for the guest to finish and returns its checksum; rethrows what its thread failed with. */
    long await() throws Exception {
        runner.join();
        Object o = outcome.get();
        if (o instanceof Long v) {
            return v;
        }
        if (o instanceof Throwable t) {
            throw new AssertionError("guest thread failed", t);
        }
        throw new AssertionError("guest did not finish: " + o);
    }

    /** The name of the state section with the machine's KVM state. */
    static final String MACHINE_STATE = "x86.machine";

    /** The VM's and vCPUs' KVM state ({@link X86MachineState}) as a state section; the vCPU must be paused. */
    Map<String, byte[]> machineState() throws ErrnoException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put(MACHINE_STATE, X86MachineState.capture(guest.vm(), guest.vm().vcpus()).encode());
        return m;
    }

    /** Restores what {@link #machineState()} saved into this guest's VM. */
    void restoreMachineState(Map<String, byte[]> state) throws ErrnoException {
        X86MachineState.decode(state.get(MACHINE_STATE)).restore(guest.vm(), guest.vm().vcpus());
    }

    @Override
    public void close() throws InterruptedException {
        if (runner != null && runner.isAlive()) {
            pause();
        }
        guest.close();
    }
}
