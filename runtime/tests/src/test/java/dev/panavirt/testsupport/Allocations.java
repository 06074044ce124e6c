package dev.panavirt.testsupport;

import java.lang.management.ManagementFactory;
import java.time.Duration;

/**
 * Bytes allocated by the current thread, for the zero-allocation checks of hot paths (ioctl wrappers, the run
 * loop, bus dispatch, the models' guest-facing paths). The interpreter, C1 and on-stack replacement allocate
 * where C2's code does not, so each check reports the fewest bytes of several runs: what compiled code
 * allocates, which is what JMH's {@code gc.alloc.rate.norm} sees.
 */
public final class Allocations {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** The code measured; it may throw (an ioctl failing fails the test). */
    public interface Body {
        /** One run of the measured code. */
        void run() throws Exception;
    }

    private Allocations() {
    }

    /** Whether this JVM measures per-thread allocation at all (a check of the check). */
    public static boolean supported() {
        return THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled();
    }

    /** The fewest bytes any of 7 runs of {@code body} allocated on this thread, after 5 warm-up runs. */
    public static long fewest(Body body) throws Exception {
        for (int i = 0; i < 5; i++) {
            body.run();
        }
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 7; i++) {
            min = Math.min(min, allocatedBy(body));
        }
        return min;
    }

    /**
     * The fewest bytes a run of {@code body} allocated, running it again until one run allocates nothing or
     * {@code limit} passes: for bodies that enter the kernel, where C2 may take a while on a loaded machine.
     */
    public static long untilZero(Duration limit, Body body) throws Exception {
        long best = Long.MAX_VALUE;
        long deadline = System.nanoTime() + limit.toNanos();
        while (best > 0 && System.nanoTime() - deadline < 0) {
            best = Math.min(best, allocatedBy(body));
        }
        return best;
    }

    private static long allocatedBy(Body body) throws Exception {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        body.run();
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }
}
