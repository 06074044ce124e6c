package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.IOException;
import java.util.BitSet;
import org.junit.jupiter.api.Tag;

/**
 * {@link DirtyTrackingContract} on the genuine type1 IOMMU with the edu device on vfio-pci (the nested lane).
 */
@Tag("vfio")
@RequiresDevice("vfio")
class VfioDirtyTrackingTest extends DirtyTrackingContract {
    @Override
    EduBackend open() throws ErrnoException, IOException {
        return KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU());
    }

    /**
     * Every page of every mapping in the range, written or not, at every report: vfio-pci never pins pages
     * through {@code vfio_pin_pages}, so its group keeps {@code num_non_pinned_groups > 0} and
     * {@code vfio_iova_dirty_bitmap} marks every page of each IOMMU-mapped mapping
     * ({@code vfio_dma_populate_bitmap}, drivers/vfio/vfio_iommu_type1.c).
     */
    @Override
    BitSet expectedDirty(BitSet everyMappedPage, BitSet writtenPages) {
        return everyMappedPage;
    }
}
