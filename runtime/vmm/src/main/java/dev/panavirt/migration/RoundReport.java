package dev.panavirt.migration;

import java.time.Duration;

/**
 * What one copy round did and what the policy decided after it; one line of the migration's log.
 *
 * @param round             1-based; round 1 is the full copy
 * @param pagesSent         pages copied this round (ZERO records included)
 * @param zeroPages         of those, pages sent as ZERO records
 * @param dirtyFound        pages the harvest after the round found dirty (what the next round would send)
 * @param duration          the round's copy time
 * @param harvestTime       the harvest's time
 * @param pagesPerSecond    measured send bandwidth so far
 * @param dirtyPagesPerSecond dirty rate estimate: pages found dirty over the round's time
 * @param estimatedDowntime {@code dirtyFound} at {@code pagesPerSecond}
 * @param decision          what the policy decided
 */
public record RoundReport(int round, long pagesSent, long zeroPages, long dirtyFound, Duration duration,
        Duration harvestTime, double pagesPerSecond, double dirtyPagesPerSecond, Duration estimatedDowntime,
        ConvergencePolicy.Decision decision) {

    /** One log line. */
    @Override
    public String toString() {
        return String.format("round %d: sent %d pages (%d zero) in %.1f ms, %.0f pages/s; dirty %d (%.0f pages/s,"
                        + " harvest %.2f ms); estimated downtime %.1f ms -> %s",
                round, pagesSent, zeroPages, duration.toNanos() / 1e6, pagesPerSecond, dirtyFound, dirtyPagesPerSecond,
                harvestTime.toNanos() / 1e6, estimatedDowntime.toNanos() / 1e6, decision);
    }
}
