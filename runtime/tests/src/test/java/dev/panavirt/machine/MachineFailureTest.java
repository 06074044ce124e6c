package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.BusDevice;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A device model that throws on a guest's access is panavirt's bug, not KVM's: the run ends at once with
 * {@link Machine#EXIT_INTERNAL} and the exception in one line, and its vCPU thread does not die unreported. One that
 * never returns cannot hold {@link Machine#run} beyond the time limit and {@link Machine#STOP_WAIT}.
 */
@KvmTest
class MachineFailureTest {
    /** Real mode at 0x7c00: {@code mov al, 1; out 0x80, al; hlt}. */
    private static final byte[] OUT_0X80 = {(byte) 0xb0, 0x01, (byte) 0xe6, (byte) 0x80, (byte) 0xf4};

    private static Machine.Result runWith(BusDevice device) throws Exception {
        Machine.Config config = new Machine.Config(1 << 20, 1, false, Duration.ofSeconds(20), true);
        try (Machine m = new Machine(config, new ByteArrayOutputStream())) {
            m.pio().insert(device, 0x80, 1);
            m.load(GuestLoader.flat(OUT_0X80, 0x7c00), Machine.Mode.REAL);
            return m.run();
        }
    }

    private static BusDevice throwing(Supplier<? extends Throwable> what) {
        return new BusDevice() {
            @Override
            public void write(long base, long offset, MemorySegment data) {
                sneaky(what.get());
            }

            @Override
            public void read(long base, long offset, MemorySegment data) {
                sneaky(what.get());
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void sneaky(Throwable t) throws T {
        throw (T) t;
    }

    @Test
    void aDeviceThatThrowsEndsTheRunAsAnInternalError() throws Exception {
        Machine.Result r = runWith(throwing(() -> new IllegalStateException("model bug")));
        assertEquals(Machine.Outcome.PANAVIRT_ERROR, r.outcome(), r.message());
        assertEquals(Machine.EXIT_INTERNAL, r.exitStatus());
        assertTrue(r.message().startsWith("internal error on vCPU 0: java.lang.IllegalStateException: model bug (at "),
                r.message());
        assertTrue(r.elapsed().toSeconds() < 10, "ended at once, not at the time limit: " + r.elapsed());
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)   // a hang here is the failure
    void aDeviceThatNeverReturnsCannotHoldTheRunPastItsTimeLimit() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        BusDevice blocking = new BusDevice() {
            @Override
            public void write(long base, long offset, MemorySegment data) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void read(long base, long offset, MemorySegment data) {
            }
        };
        long start = System.nanoTime();
        Machine.Config config = new Machine.Config(1 << 20, 1, false, Duration.ofSeconds(1), true);
        try (Machine m = new Machine(config, new ByteArrayOutputStream())) {
            m.pio().insert(blocking, 0x80, 1);
            m.load(GuestLoader.flat(OUT_0X80, 0x7c00), Machine.Mode.REAL);
            Machine.Result r = m.run();
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(Machine.Outcome.TIMEOUT, r.outcome(), r.message());
            assertTrue(r.message().endsWith("; vcpu-0 still busy 5 s after the run ended (a device model that does "
                    + "not return?), left behind"), r.message());
            assertTrue(seconds < 1 + Machine.STOP_WAIT.toSeconds() + 5, "run() returned after " + seconds + " s");
        } finally {
            release.countDown();
        }
    }

    @Test
    void aStackOverflowInADeviceIsReportedTheSameWay() throws Exception {
        Machine.Result r = runWith(throwing(StackOverflowError::new));
        assertEquals(Machine.EXIT_INTERNAL, r.exitStatus(), r.message());
        assertTrue(r.message().contains("java.lang.StackOverflowError"), r.message());
    }
}
