package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import java.util.BitSet;

/**
 * {@link DirtyTrackingContract} on the models with the edu model in an emulated (mdev-like) group: the one
 * flavour whose reports differ from the lane's, legitimately.
 */
class PreciseModelDirtyTrackingTest extends DirtyTrackingContract {
    @Override
    EduBackend open() throws ErrnoException {
        return ModelEduBackend.open(true);
    }

    /**
     * Only the pages the device wrote since their last report: an emulated group has no IOMMU domain and is
     * never counted in {@code num_non_pinned_groups}, so no mapping is marked whole; its device writes through
     * {@code vfio_dma_rw}, which sets the bits of the pages written while tracking is on, reported once
     * ({@code vfio_dma_rw_chunk}, {@code vfio_iova_dirty_bitmap}; drivers/vfio/vfio_iommu_type1.c). Pinned
     * pages would stay dirty too; edu pins none.
     */
    @Override
    BitSet expectedDirty(BitSet everyMappedPage, BitSet writtenPages) {
        return writtenPages;
    }
}
