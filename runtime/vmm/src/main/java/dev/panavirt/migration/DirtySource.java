package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;

/**
 * One place that learns which guest pages were written: the KVM dirty ring ({@link DirtyRingSource}), the
 * KVM dirty log ({@link DirtyLogSource}), a VFIO container's DMA dirty bitmap ({@link IommuDirtySource}), the
 * vDPA model's queue writes ({@link VdpaWriteTracker}).
 * A migration asks every source in turn; the union is what it copies.
 *
 * <p>Contract: after {@link #start()}, every write to a tracked page is reported by some later
 * {@link #harvest} call, and a page a harvest reports has been re-protected before the call returns, so a
 * write after the harvest is reported again. A harvest allocates nothing per page.
 */
public interface DirtySource extends AutoCloseable {
    /** A short name for logs ("dirty-ring", "dirty-log", "vfio-dma"). */
    String name();

    /** Begins tracking: writes from now on are reported. */
    void start() throws ErrnoException;

    /**
     * Marks in {@code into} every page written since {@link #start()} or the previous harvest.
     *
     * @return the number of reports taken (a page may be reported more than once)
     */
    long harvest(DirtyPages into) throws ErrnoException;

    /** Stops tracking where that costs the guest something (write protection, pinned bitmaps); idempotent. */
    @Override
    default void close() throws ErrnoException {
    }
}
