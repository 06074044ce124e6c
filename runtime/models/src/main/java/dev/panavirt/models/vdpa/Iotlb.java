package dev.panavirt.models.vdpa;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One IOTLB: non-overlapping ranges {@code [start, last]} (inclusive, unsigned) mapped to user addresses
 * with a permission, kept sorted by start so a translation is a binary search and allocates nothing. Used
 * both for vhost-vdpa's own table of an address space and for the simulator's copy of it
 * ({@code drivers/vhost/iotlb.c}, {@code drivers/vdpa/vdpa_sim/vdpa_sim.c}).
 */
final class Iotlb {
    private long[] start = new long[8];
    private long[] last = new long[8];
    private long[] addr = new long[8];
    private int[] perm = new int[8];
    private int count;

    int size() {
        return count;
    }

    long start(int i) {
        return start[i];
    }

    long last(int i) {
        return last[i];
    }

    long addr(int i) {
        return addr[i];
    }

    int perm(int i) {
        return perm[i];
    }

    void clear() {
        count = 0;
    }

    /** The identity pass-through entry: every IOVA maps to the same user address, read-write. */
    void passThrough() {
        count = 0;
        insertAt(0, 0, -1L, 0, 3);
    }

    boolean isPassThrough() {
        return count == 1 && start[0] == 0 && last[0] == -1L && addr[0] == 0 && perm[0] == 3;
    }

    /** Whether an entry intersects {@code [s, l]} (unsigned, s ≤ l). */
    boolean intersects(long s, long l) {
        int i = floor(l);
        return i >= 0 && Long.compareUnsigned(last[i], s) >= 0;
    }

    /** Adds an entry; the caller has checked it overlaps nothing. */
    void add(long s, long l, long a, int p) {
        int i = floor(s) + 1;
        insertAt(i, s, l, a, p);
    }

    /** Copies {@code other}'s entries into this table, replacing its own. */
    void copyOf(Iotlb other) {
        if (start.length < other.count) {
            start = Arrays.copyOf(other.start, other.count);
            last = Arrays.copyOf(other.last, other.count);
            addr = Arrays.copyOf(other.addr, other.count);
            perm = Arrays.copyOf(other.perm, other.count);
        } else {
            System.arraycopy(other.start, 0, start, 0, other.count);
            System.arraycopy(other.last, 0, last, 0, other.count);
            System.arraycopy(other.addr, 0, addr, 0, other.count);
            System.arraycopy(other.perm, 0, perm, 0, other.count);
        }
        count = other.count;
    }

    /**
     * Removes every entry with {@code start ≤ l} and {@code last ≥ s} (unsigned). With {@code s > l} (a range
     * that wrapped) this is the interval tree's answer for such a query, which 6.12 relies on for a size-0
     * invalidation.
     */
    int removeIntersecting(long s, long l) {
        int kept = 0;
        int removed = 0;
        for (int i = 0; i < count; i++) {
            if (Long.compareUnsigned(start[i], l) <= 0 && Long.compareUnsigned(last[i], s) >= 0) {
                removed++;
                continue;
            }
            start[kept] = start[i];
            last[kept] = last[i];
            addr[kept] = addr[i];
            perm[kept] = perm[i];
            kept++;
        }
        count = kept;
        return removed;
    }

    /** The index of the entry containing {@code iova}, or -1. */
    int find(long iova) {
        int i = floor(iova);
        return i >= 0 && Long.compareUnsigned(last[i], iova) >= 0 ? i : -1;
    }

    /** The entries as records, in IOVA order. */
    List<VdpaSim.Mapping> list() {
        List<VdpaSim.Mapping> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(new VdpaSim.Mapping(start[i], last[i], addr[i], perm[i]));
        }
        return out;
    }

    /** The last entry whose start is ≤ {@code iova} (unsigned), or -1. */
    private int floor(long iova) {
        int lo = 0;
        int hi = count - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(start[mid], iova) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    private void insertAt(int i, long s, long l, long a, int p) {
        if (count == start.length) {
            int n = count * 2;
            start = Arrays.copyOf(start, n);
            last = Arrays.copyOf(last, n);
            addr = Arrays.copyOf(addr, n);
            perm = Arrays.copyOf(perm, n);
        }
        System.arraycopy(start, i, start, i + 1, count - i);
        System.arraycopy(last, i, last, i + 1, count - i);
        System.arraycopy(addr, i, addr, i + 1, count - i);
        System.arraycopy(perm, i, perm, i + 1, count - i);
        start[i] = s;
        last[i] = l;
        addr[i] = a;
        perm[i] = p;
        count++;
    }
}
