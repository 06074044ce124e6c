package dev.panavirt.migration;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The pages a host-side writer touched, per guest RAM region, for the trackers that wrap a model's memory
 * ({@link VdpaWriteTracker}, {@link ModelRamWriteTracker}): writes are marked in whatever address space the model
 * uses (process addresses, guest-physical addresses), a harvest reports them by guest-physical address. Thread-safe;
 * marking and harvesting allocate nothing.
 */
final class PageWriteBitmap {
    /** Where each region starts in the writer's address space, its size, and its guest-physical address. */
    private final long[] bases, sizes, gpas;
    private final AtomicLongArray[] bits;

    PageWriteBitmap(long[] bases, long[] sizes, long[] gpas) {
        this.bases = bases.clone();
        this.sizes = sizes.clone();
        this.gpas = gpas.clone();
        this.bits = new AtomicLongArray[bases.length];
        for (int i = 0; i < bases.length; i++) {
            long pages = (sizes[i] + DirtyPages.PAGE_SIZE - 1) / DirtyPages.PAGE_SIZE;
            bits[i] = new AtomicLongArray((int) ((pages + 63) >>> 6));
        }
    }

    /** Marks the page behind every byte of {@code [address, address + length)} that lies in a region. */
    void mark(long address, long length) {
        for (int i = 0; i < bases.length; i++) {
            long from = Math.max(address, bases[i]);
            long to = Math.min(address + length, bases[i] + sizes[i]);
            for (long page = (from - bases[i]) / DirtyPages.PAGE_SIZE;
                    from < to && page * DirtyPages.PAGE_SIZE < to - bases[i]; page++) {
                long bit = 1L << page;
                int word = (int) (page >>> 6);
                long old;
                do {
                    old = bits[i].get(word);
                } while ((old & bit) == 0 && !bits[i].compareAndSet(word, old, old | bit));
            }
        }
    }

    /** Moves every marked page into {@code into} and clears it; returns the number of pages reported. */
    long harvest(DirtyPages into) {
        long n = 0;
        for (int i = 0; i < bits.length; i++) {
            AtomicLongArray b = bits[i];
            for (int w = 0; w < b.length(); w++) {
                if (b.get(w) != 0) {
                    long word = b.getAndSet(w, 0);
                    n += Long.bitCount(word);
                    into.orBitmapWord(gpas[i] + (long) w * 64 * DirtyPages.PAGE_SIZE, word);
                }
            }
        }
        return n;
    }
}
