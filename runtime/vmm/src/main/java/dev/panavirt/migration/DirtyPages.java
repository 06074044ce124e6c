package dev.panavirt.migration;

import dev.panavirt.kvm.DirtyRing;
import dev.panavirt.kvm.MemoryRegion;
import java.util.List;

/**
 * The set of guest pages still to copy: one bit per 4 KiB page of each migrated RAM region, indexed by
 * the page's position in the regions taken in order. Marking, counting and walking allocate nothing, so
 * a harvest costs no garbage per page; it is a {@link DirtyRing.PageSink} so a dirty ring harvests straight
 * into it. Not thread-safe: one migration thread owns it.
 */
public final class DirtyPages implements DirtyRing.PageSink {
    /** Guest page size the bitmaps count in. */
    public static final long PAGE_SIZE = 4096;

    private final int[] slots;
    private final long[] bases;
    private final long[] firstIndex;
    private final long pages;
    private final long[] bits;

    /**
     * A set over {@code regions} (their slots, guest-physical bases and sizes; page-aligned).
     *
     * @throws IllegalArgumentException for an empty list or a region that is not whole pages
     */
    public DirtyPages(List<MemoryRegion> regions) {
        if (regions.isEmpty()) {
            throw new IllegalArgumentException("no RAM regions to track");
        }
        slots = new int[regions.size()];
        bases = new long[regions.size()];
        firstIndex = new long[regions.size() + 1];
        long n = 0;
        for (int i = 0; i < slots.length; i++) {
            MemoryRegion r = regions.get(i);
            if (r.guestPhysAddr() % PAGE_SIZE != 0 || r.size() % PAGE_SIZE != 0 || r.size() == 0) {
                throw new IllegalArgumentException("region " + r.slot() + " is not whole 4 KiB pages: 0x"
                        + Long.toHexString(r.guestPhysAddr()) + "+0x" + Long.toHexString(r.size()));
            }
            slots[i] = r.slot();
            bases[i] = r.guestPhysAddr();
            firstIndex[i] = n;
            n += r.size() / PAGE_SIZE;
        }
        firstIndex[slots.length] = n;
        pages = n;
        bits = new long[(int) ((n + 63) >>> 6)];
    }

    /** The page index of region {@code i}'s first page (regions in the order given). */
    public long regionStart(int i) {
        return firstIndex[i];
    }

    /** Pages covered (set or not). */
    public long capacity() {
        return pages;
    }

    /** Marks page {@code pageOffset} of slot {@code slot} (a dirty ring's report; the address space bits are ignored). */
    @Override
    public void page(int slot, long pageOffset) {
        int s = slot & 0xffff;
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] == s) {
                markIndex(firstIndex[i] + pageOffset, firstIndex[i + 1]);
                return;
            }
        }
        throw new IllegalArgumentException("dirty page reported in slot " + slot + ", which is not migrated");
    }

    /**
     * Marks the page holding {@code gpa}.
     *
     * @throws IllegalArgumentException when no region holds {@code gpa}
     */
    public void markAddress(long gpa) {
        long index = indexOf(gpa);
        if (index < 0) {
            throw new IllegalArgumentException("0x" + Long.toHexString(gpa) + " is not in the migrated RAM");
        }
        bits[(int) (index >>> 6)] |= 1L << index;
    }

    /**
     * ORs one 64-bit word of a kernel-format dirty bitmap into the set: bit {@code i} stands for the page at
     * {@code gpa + i * 4096}; pages outside the migrated RAM are ignored.
     */
    public void orBitmapWord(long gpa, long word) {
        while (word != 0) {
            int b = Long.numberOfTrailingZeros(word);
            word &= word - 1;
            long index = indexOf(gpa + b * PAGE_SIZE);
            if (index >= 0) {
                bits[(int) (index >>> 6)] |= 1L << index;
            }
        }
    }

    /** Marks every page. */
    public void markAll() {
        java.util.Arrays.fill(bits, -1L);
        int tail = (int) (pages & 63);
        if (tail != 0) {
            bits[bits.length - 1] = (1L << tail) - 1;
        }
    }

    /** Unmarks every page. */
    public void clear() {
        java.util.Arrays.fill(bits, 0);
    }

    /** Unmarks page index {@code index}. */
    public void unmark(long index) {
        bits[(int) (index >>> 6)] &= ~(1L << index);
    }

    /** Whether the page of index {@code index} is marked. */
    public boolean isMarked(long index) {
        return (bits[(int) (index >>> 6)] >>> index & 1) != 0;
    }

    /** Marked pages. */
    public long count() {
        long c = 0;
        for (long w : bits) {
            c += Long.bitCount(w);
        }
        return c;
    }

    /** The first marked page index at or after {@code from}, or -1. */
    public long next(long from) {
        if (from >= pages) {
            return -1;
        }
        int w = (int) (from >>> 6);
        long word = bits[w] & (-1L << from);
        while (true) {
            if (word != 0) {
                return ((long) w << 6) + Long.numberOfTrailingZeros(word);
            }
            if (++w == bits.length) {
                return -1;
            }
            word = bits[w];
        }
    }

    /** The guest-physical address of page index {@code index}. */
    public long addressOf(long index) {
        for (int i = 0; i < slots.length; i++) {
            if (index < firstIndex[i + 1]) {
                return bases[i] + (index - firstIndex[i]) * PAGE_SIZE;
            }
        }
        throw new IndexOutOfBoundsException("page index " + index + " of " + pages);
    }

    /** The page index of {@code gpa}, or -1 when no region holds it. */
    public long indexOf(long gpa) {
        for (int i = 0; i < slots.length; i++) {
            long off = gpa - bases[i];
            if (off >= 0 && off < (firstIndex[i + 1] - firstIndex[i]) * PAGE_SIZE) {
                return firstIndex[i] + off / PAGE_SIZE;
            }
        }
        return -1;
    }

    private void markIndex(long index, long end) {
        if (index < 0 || index >= end) {
            throw new IllegalArgumentException("dirty page index " + index + " is outside its slot");
        }
        bits[(int) (index >>> 6)] |= 1L << index;
    }
}
