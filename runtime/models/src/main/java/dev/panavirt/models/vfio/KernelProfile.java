package dev.panavirt.models.vfio;

/**
 * Which kernel's type1 IOMMU the model answers as. The two differ only where the late-2025 series on
 * overflow and the end of the IOVA space changed {@code drivers/vfio/vfio_iommu_type1.c}
 * ({@code vfio_dma_do_map}, {@code vfio_dma_do_unmap}, {@code vfio_iommu_type1_dirty_pages},
 * {@code vfio_iommu_type1_check_extension}).
 */
public enum KernelProfile {
    /**
     * Linux 6.12 (Debian's 6.12.y, the nested test lane) and every kernel before the Nov-2025 series: a range
     * whose last byte wraps past 2^64−1 is {@code EINVAL}; a range ending exactly at 2^64−1 may be mapped, but
     * {@code UNMAP_DMA} of a range ending there succeeds with size 0 and unmaps nothing, and {@code GET_BITMAP}
     * of such a range is {@code EINVAL}; {@code CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU)} answers 1.
     */
    V6_12,
    /**
     * Current upstream: wrapping ranges are {@code EOVERFLOW} (size 0 still {@code EINVAL}); mappings that end
     * at 2^64−1 can be unmapped and dirty-queried; the nesting type (6) is still accepted by
     * {@code VFIO_SET_IOMMU} but {@code CHECK_EXTENSION} answers 0 for it.
     */
    LATEST
}
