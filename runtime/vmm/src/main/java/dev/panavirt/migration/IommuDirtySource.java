package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.vfio.Iommu;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Pages a device wrote by DMA, from a VFIO type1 container's dirty tracking ({@code VFIO_IOMMU_DIRTY_PAGES},
 * drivers/vfio/vfio_iommu_type1.c, {@code vfio_iommu_type1_dirty_pages}): the bitmap of the IOVA window
 * {@code [iova, iova + size)}, which maps guest RAM at {@code gpa}, is read and cleared each harvest. KVM's
 * dirty tracking does not see these writes (they do not go through the guest's page tables), so a VM with
 * a DMA-capable device needs this source next to the ring or log. Pages a device keeps pinned stay dirty in
 * every report, as the kernel's do: a precise device (one whose DMA goes through {@code vfio_dma_rw}) is
 * what lets such a migration converge.
 */
public final class IommuDirtySource implements DirtySource {
    private final Iommu iommu;
    private final long iova;
    private final long size;
    private final long gpa;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment bitmap;

    /**
     * Tracks the window {@code [iova, iova + size)} of {@code iommu}, whose page {@code iova + k} is guest page
     * {@code gpa + k}.
     */
    public IommuDirtySource(Iommu iommu, long iova, long size, long gpa) {
        if (size <= 0 || size % DirtyPages.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("IOVA window size " + size + " is not whole 4 KiB pages");
        }
        this.iommu = iommu;
        this.iova = iova;
        this.size = size;
        this.gpa = gpa;
        long pages = size / DirtyPages.PAGE_SIZE;
        this.bitmap = arena.allocate((pages + 63) / 64 * 8, 8);
    }

    @Override
    public String name() {
        return "vfio-dma";
    }

    @Override
    public void start() throws ErrnoException {
        iommu.startDirtyTracking();
        harvest(null);
    }

    @Override
    public long harvest(DirtyPages into) throws ErrnoException {
        bitmap.fill((byte) 0);
        iommu.readDirty(iova, size, DirtyPages.PAGE_SIZE, bitmap);
        long n = 0;
        long words = bitmap.byteSize() / 8;
        for (long w = 0; w < words; w++) {
            long word = bitmap.getAtIndex(ValueLayout.JAVA_LONG, w);
            if (word != 0) {
                n += Long.bitCount(word);
                if (into != null) {
                    into.orBitmapWord(gpa + w * 64 * DirtyPages.PAGE_SIZE, word);
                }
            }
        }
        return n;
    }

    /** Stops the container's dirty tracking. */
    @Override
    public void close() throws ErrnoException {
        try {
            iommu.stopDirtyTracking();
        } finally {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }
}
