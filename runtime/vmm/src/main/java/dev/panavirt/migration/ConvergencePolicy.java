package dev.panavirt.migration;

import java.time.Duration;

/**
 * When a precopy migration stops the guest: after a round whose remaining dirty pages could be sent within
 * {@code downtimeTarget} at the bandwidth measured so far (converged), after {@code maxRounds} copy rounds
 * (cap), or when the guest dirties pages faster than they are sent for {@code patience} rounds in a row
 * (not converging: more rounds would only grow the set). The estimates are those of QEMU's
 * migration/ram.c ({@code migration_bitmap_sync}'s dirty rate) and migration/migration.c (expected downtime
 * = remaining bytes / bandwidth), restated here in pages.
 *
 * @param maxRounds      copy rounds before stop-and-copy, the first full copy included (at least 1)
 * @param downtimeTarget the longest stop-and-copy this policy aims for
 * @param patience       rounds in a row with a dirty rate at or above the bandwidth before giving up (at least 1)
 */
public record ConvergencePolicy(int maxRounds, Duration downtimeTarget, int patience) {
    /** Why the migration stopped iterating, or that it goes on. */
    public enum Decision {
        /** Another copy round. */
        CONTINUE,
        /** The remaining pages fit the downtime target. */
        CONVERGED,
        /** The round cap was reached. */
        ROUND_CAP,
        /** The guest dirties faster than the link sends. */
        NOT_CONVERGING
    }

    /** Checks the bounds. */
    public ConvergencePolicy {
        if (maxRounds < 1 || patience < 1 || downtimeTarget.isNegative()) {
            throw new IllegalArgumentException("convergence policy out of range: " + maxRounds + " rounds, "
                    + downtimeTarget + ", patience " + patience);
        }
    }

    /** 30 rounds, 300 ms downtime target (QEMU's default downtime limit), patience 5. */
    public static ConvergencePolicy defaults() {
        return new ConvergencePolicy(30, Duration.ofMillis(300), 5);
    }

    /**
     * The estimated stop-and-copy time for {@code dirtyPages} at {@code pagesPerSecond}; an unmeasured
     * bandwidth (0) estimates forever.
     */
    public static Duration estimateDowntime(long dirtyPages, double pagesPerSecond) {
        if (dirtyPages == 0) {
            return Duration.ZERO;
        }
        if (pagesPerSecond <= 0) {
            return Duration.ofSeconds(Long.MAX_VALUE / 2);
        }
        return Duration.ofNanos((long) Math.min(Long.MAX_VALUE / 2.0, dirtyPages / pagesPerSecond * 1e9));
    }

    /**
     * The decision after round {@code round} (1-based), given the dirty pages it left, the estimated downtime
     * for them, and how many rounds in a row the dirty rate was at or above the bandwidth.
     */
    public Decision decide(int round, Duration estimatedDowntime, int roundsOutpaced) {
        if (estimatedDowntime.compareTo(downtimeTarget) <= 0) {
            return Decision.CONVERGED;
        }
        if (round >= maxRounds) {
            return Decision.ROUND_CAP;
        }
        if (roundsOutpaced >= patience) {
            return Decision.NOT_CONVERGING;
        }
        return Decision.CONTINUE;
    }
}
