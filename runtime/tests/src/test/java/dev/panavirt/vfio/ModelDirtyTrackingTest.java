package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import java.util.BitSet;

/**
 * {@link DirtyTrackingContract} on the models with the edu model in an IOMMU-backed group, as vfio-pci's: the
 * same reports as the kernel's in the lane.
 */
class ModelDirtyTrackingTest extends DirtyTrackingContract {
    @Override
    EduBackend open() throws ErrnoException {
        return ModelEduBackend.open(false);
    }

    /**
     * As the kernel ({@link VfioDirtyTrackingTest}): the IOMMU-backed group never pins, so it counts in
     * {@code num_non_pinned_groups} and every page of every IOMMU-mapped mapping is dirty at every report
     * (drivers/vfio/vfio_iommu_type1.c {@code vfio_iova_dirty_bitmap}, {@code vfio_dma_populate_bitmap}).
     */
    @Override
    BitSet expectedDirty(BitSet everyMappedPage, BitSet writtenPages) {
        return everyMappedPage;
    }
}
