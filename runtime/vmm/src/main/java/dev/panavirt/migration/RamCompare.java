package dev.panavirt.migration;

import dev.panavirt.kvm.MemoryRegion;
import java.util.List;
import java.util.function.LongConsumer;

/** Page-by-page comparison of two VMs' RAM of the same layout: the proof that a migration lost nothing. */
public final class RamCompare {
    private RamCompare() {
    }

    /**
     * The number of 4 KiB pages whose bytes differ between {@code a} and {@code b} (regions pairwise, same
     * sizes); each differing page's guest-physical address goes to {@code differing}.
     *
     * @throws IllegalArgumentException when the layouts differ
     */
    public static long differingPages(List<MemoryRegion> a, List<MemoryRegion> b, LongConsumer differing) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException(a.size() + " regions against " + b.size());
        }
        long n = 0;
        for (int i = 0; i < a.size(); i++) {
            MemoryRegion x = a.get(i);
            MemoryRegion y = b.get(i);
            if (x.guestPhysAddr() != y.guestPhysAddr() || x.size() != y.size()) {
                throw new IllegalArgumentException("region " + i + " differs in place or size");
            }
            for (long off = 0; off < x.size(); off += DirtyPages.PAGE_SIZE) {
                if (java.lang.foreign.MemorySegment.mismatch(x.memory(), off, off + DirtyPages.PAGE_SIZE, y.memory(), off,
                        off + DirtyPages.PAGE_SIZE) >= 0) {
                    n++;
                    differing.accept(x.guestPhysAddr() + off);
                }
            }
        }
        return n;
    }
}
