package dev.panavirt.models.vfio;

import dev.panavirt.base.LongMap;
import java.util.Arrays;

/**
 * One mapping's dirty bitmap while tracking is on ({@code struct vfio_dma}'s {@code bitmap}), one bit per
 * smallest IOMMU page. Stored sparsely: 4096-bit chunks made on first use (a mapping of 2^31 pages costs
 * nothing until its pages are dirtied), plus an "every page" flag for {@code vfio_iommu_populate_bitmap_full}.
 * Clearing keeps the chunks, so report / clear / re-populate cycles allocate nothing.
 */
final class DirtyBits {
    private static final int CHUNK_SHIFT = 12;          // 4096 bits = 64 words per chunk
    private static final int CHUNK_WORDS = 1 << (CHUNK_SHIFT - 6);

    final long nbits;
    private boolean all;
    private final LongMap<long[]> chunks = new LongMap<>();
    private long[][] made = new long[4][];
    private int madeCount;

    DirtyBits(long nbits) {
        this.nbits = nbits;
    }

    /** Sets bits {@code [from, from + count)}, clipped to the bitmap. */
    void set(long from, long count) {
        if (all || count <= 0 || from >= nbits) {
            return;
        }
        long end = Math.min(nbits, from + count);
        if (from == 0 && end == nbits) {
            all = true;
            return;
        }
        for (long bit = from; bit < end; ) {
            long[] chunk = chunk(bit >>> CHUNK_SHIFT);
            int w = (int) ((bit >>> 6) & (CHUNK_WORDS - 1));
            int b = (int) (bit & 63);
            long n = Math.min(64 - b, end - bit);
            long mask = (n == 64 ? -1L : ((1L << n) - 1)) << b;
            chunk[w] |= mask;
            bit += n;
        }
    }

    /** Sets every bit. */
    void setAll() {
        all = true;
    }

    /** Whether bit {@code i} is set. */
    boolean get(long i) {
        return (word(i >>> 6) >>> (i & 63) & 1) != 0;
    }

    /** Word {@code w} (bits {@code 64w .. 64w+63}); bits past {@link #nbits} read as zero. */
    long word(long w) {
        long first = w << 6;
        if (w < 0 || first >= nbits) {
            return 0;
        }
        long v;
        if (all) {
            v = -1L;
        } else {
            long[] chunk = chunks.get(first >>> CHUNK_SHIFT);
            v = chunk == null ? 0 : chunk[(int) (w & (CHUNK_WORDS - 1))];
        }
        long left = nbits - first;
        return left >= 64 ? v : v & ((1L << left) - 1);
    }

    /** Whether every bit is set ({@link #setAll}, or a {@link #set} of the whole range). */
    boolean allSet() {
        return all;
    }

    /** Words per chunk: a report walks the bitmap chunk by chunk ({@link #chunkWords}). */
    static final int WORDS_PER_CHUNK = CHUNK_WORDS;

    /**
     * The words of chunk {@code index} (words {@code 64·index ..}, bits past {@link #nbits} zero), or
     * {@code null} when none of its bits was ever set; the array is the bitmap's own, not a copy. Ignores
     * {@link #allSet}.
     */
    long[] chunkWords(long index) {
        return chunks.get(index);
    }

    /** Clears every bit, keeping the storage. */
    void clear() {
        all = false;
        for (int i = 0; i < madeCount; i++) {
            Arrays.fill(made[i], 0);
        }
    }

    private long[] chunk(long index) {
        long[] c = chunks.get(index);
        if (c == null) {
            c = new long[CHUNK_WORDS];
            chunks.put(index, c);
            if (madeCount == made.length) {
                made = Arrays.copyOf(made, madeCount * 2);
            }
            made[madeCount++] = c;
        }
        return c;
    }
}
