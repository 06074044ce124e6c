package dev.panavirt.vfio;

import java.util.List;

/**
 * {@code struct vfio_region_info} and the capabilities of its chain this library reads.
 *
 * @param index       the region index
 * @param flags       {@code VFIO_REGION_INFO_FLAG_*}: READ 1, WRITE 2, MMAP 4, CAPS 8
 * @param size        bytes (0: the device has no such region)
 * @param offset      where the region starts in the device fd, for {@code pread}, {@code pwrite} and
 *                    {@code mmap}
 * @param sparseAreas the areas that may be mapped when only part of the region may be
 *                    ({@code VFIO_REGION_INFO_CAP_SPARSE_MMAP}); empty when there is no such capability
 */
public record RegionInfo(int index, int flags, long size, long offset, List<Area> sparseAreas) {

    /** @throws NullPointerException if {@code sparseAreas} is null */
    public RegionInfo {
        sparseAreas = List.copyOf(sparseAreas);
    }

    /** Whether the region may be read. */
    public boolean readable() {
        return (flags & 1) != 0;
    }

    /** Whether the region may be written. */
    public boolean writable() {
        return (flags & 2) != 0;
    }

    /** Whether the region (or its sparse areas) may be mapped. */
    public boolean mappable() {
        return (flags & 4) != 0;
    }

    /**
     * One mappable area, relative to the region's start.
     *
     * @param offset bytes from the region's start
     * @param size   bytes
     */
    public record Area(long offset, long size) {
    }
}
