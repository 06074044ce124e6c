package dev.panavirt.vfio;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * {@code VFIO_IOMMU_GET_INFO} as Java values ({@code struct vfio_iommu_type1_info} and its capability chain,
 * {@code drivers/vfio/vfio_iommu_type1.c}, {@code vfio_iommu_type1_get_info}).
 *
 * @param pageSizes  bitmap of the IOVA page sizes every attached domain supports (bit n: 2^n bytes)
 * @param iovaRanges the IOVA ranges a mapping must fall in ({@code VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE});
 *                   empty when the chain has none (then every IOVA is allowed)
 * @param migration  the dirty-tracking capability ({@code VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION}), if offered
 * @param dmaAvail   mappings that may still be created ({@code VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL}), if offered
 */
public record IommuInfo(long pageSizes, List<IovaRange> iovaRanges, Optional<Migration> migration,
        OptionalInt dmaAvail) {

    /** @throws NullPointerException if a component is null */
    public IommuInfo {
        iovaRanges = List.copyOf(iovaRanges);
        java.util.Objects.requireNonNull(migration);
        java.util.Objects.requireNonNull(dmaAvail);
    }

    /** The smallest page size: the granule of every IOVA, address and size. */
    public long minPageSize() {
        return Long.lowestOneBit(pageSizes);
    }

    /**
     * One allowed IOVA range, both ends inclusive.
     *
     * @param start first address
     * @param end   last address (inclusive)
     */
    public record IovaRange(long start, long end) {
        @Override
        public String toString() {
            return "0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end);
        }
    }

    /**
     * What dirty tracking offers.
     *
     * @param flags              capability flags (0 today)
     * @param pageSizes          page sizes a dirty bitmap may use (the smallest IOMMU page only)
     * @param maxDirtyBitmapSize largest bitmap, in bytes, one call may report
     */
    public record Migration(int flags, long pageSizes, long maxDirtyBitmapSize) {
    }
}
