package dev.panavirt.vmm;

import java.lang.management.ManagementFactory;

/** Measures bytes allocated by the current thread, for zero-allocation checks on the access path. */
final class Allocations {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private Allocations() {
    }

    /**
     * Returns the fewest bytes any of several runs of {@code body} allocated on this thread, after warm-up runs.
     * The interpreter and on-stack replacement allocate while code is still being compiled; the minimum shows
     * what compiled code allocates, which is what the JMH {@code gc.alloc.rate.norm} check sees.
     */
    static long measure(Runnable body) {
        for (int i = 0; i < 3; i++) {
            body.run();
        }
        long tid = Thread.currentThread().threadId();
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long before = THREADS.getThreadAllocatedBytes(tid);
            body.run();
            min = Math.min(min, THREADS.getThreadAllocatedBytes(tid) - before);
        }
        return min;
    }
}
