package dev.panavirt.migration;

import java.time.Duration;
import java.util.List;

/**
 * What a precopy migration did, as the source saw it.
 *
 * @param rounds      the copy rounds before the stop, each with the policy's decision
 * @param finalPages  pages sent after the guest stopped
 * @param totalPages  pages sent in all
 * @param stateBytes  bytes of state sections
 * @param pauseTime   time to stop the guest and its devices
 * @param stopAndCopy from the stop request to the END record flushed: the source's share of the downtime
 * @param total       from the start to the END record
 */
public record MigrationReport(List<RoundReport> rounds, long finalPages, long totalPages, long stateBytes,
        Duration pauseTime, Duration stopAndCopy, Duration total) {

    /** Why iteration ended. */
    public ConvergencePolicy.Decision decision() {
        return rounds.getLast().decision();
    }

    @Override
    public String toString() {
        return String.format("%d rounds (%s), %d pages in all, %d after the stop, %d state bytes; pause %.2f ms,"
                        + " stop-and-copy %.2f ms, total %.1f ms",
                rounds.size(), decision(), totalPages, finalPages, stateBytes, pauseTime.toNanos() / 1e6,
                stopAndCopy.toNanos() / 1e6, total.toNanos() / 1e6);
    }
}
