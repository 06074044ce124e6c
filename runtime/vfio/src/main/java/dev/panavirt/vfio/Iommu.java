package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import java.lang.foreign.MemorySegment;

/**
 * The DMA side of a VFIO type1 container: what a device behind the IOMMU may reach, and which of those pages
 * it wrote. {@code VfioContainer} serves it from the kernel ({@code drivers/vfio/vfio_iommu_type1.c}); the
 * type1 model serves it in Java with the same argument checks, errnos and dirty-page rules (those of the
 * kernel's {@code vfio_iommu_type1_map_dma}, {@code _unmap_dma} and {@code _dirty_pages}), so a driver written
 * against this interface runs unchanged on either.
 *
 * <p>Buffers are native {@link MemorySegment}s: the mapping's process address is {@code buffer.address()}
 * and its size {@code buffer.byteSize()}. Unmap a buffer before its memory is released (the kernel keeps
 * the pages pinned, so a device would keep writing to memory the process no longer sees);
 * {@link #close()} unmaps everything still mapped first. Dirty bitmaps are caller-owned native segments in
 * the kernel's format: one bit per page of {@code pageSize}, bit {@code i} (word {@code i/64}, bit
 * {@code i%64}, little-endian) for page {@code iova + i*pageSize}; the segment's size is the bitmap size
 * the kernel checks. Reading a bitmap allocates nothing.
 *
 * <p>Every failure is an {@link ErrnoException} naming the ioctl, the errno and the arguments.
 */
public interface Iommu extends AutoCloseable {

    /** Device may read the mapping ({@code VFIO_DMA_MAP_FLAG_READ}). */
    int READ = 1;
    /** Device may write the mapping ({@code VFIO_DMA_MAP_FLAG_WRITE}). */
    int WRITE = 2;

    /**
     * {@code VFIO_CHECK_EXTENSION}: 1 if the container supports the extension or IOMMU type, else 0.
     *
     * @param extension an id such as {@code VFIO_TYPE1v2_IOMMU} (3) or {@code VFIO_UNMAP_ALL} (9)
     */
    int checkExtension(int extension) throws ErrnoException;

    /** {@code VFIO_IOMMU_GET_INFO} with its capability chain parsed. */
    IommuInfo info() throws ErrnoException;

    /**
     * {@code VFIO_IOMMU_MAP_DMA}: makes {@code buffer} reachable by devices at {@code iova}.
     *
     * @param iova   I/O virtual address, a multiple of the smallest page size
     * @param buffer native memory; address and size multiples of the smallest page size
     * @param access {@link #READ}, {@link #WRITE} or both
     * @throws IllegalArgumentException if {@code buffer} is not native
     */
    void map(long iova, MemorySegment buffer, int access) throws ErrnoException;

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA} of {@code [iova, iova + size)}.
     *
     * @return bytes unmapped (0 if nothing was mapped there)
     */
    long unmap(long iova, long size) throws ErrnoException;

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA} with {@code VFIO_DMA_UNMAP_FLAG_ALL}.
     *
     * @return bytes unmapped
     */
    long unmapAll() throws ErrnoException;

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA} with {@code VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP}: the pages of the
     * unmapped mappings that were dirtied since tracking started or since their last report are ORed into
     * {@code bitmap} (bit 0 = page {@code iova}) before the mappings go.
     *
     * @return bytes unmapped
     */
    long unmapAndReadDirty(long iova, long size, long pageSize, MemorySegment bitmap) throws ErrnoException;

    /** {@code VFIO_IOMMU_DIRTY_PAGES} with {@code START}; does nothing if tracking is already on. */
    void startDirtyTracking() throws ErrnoException;

    /** {@code VFIO_IOMMU_DIRTY_PAGES} with {@code STOP}; does nothing if tracking is off. */
    void stopDirtyTracking() throws ErrnoException;

    /**
     * {@code VFIO_IOMMU_DIRTY_PAGES} with {@code GET_BITMAP}: writes the dirty pages of the mappings that start
     * in {@code [iova, iova + size)} into {@code bitmap} and clears them (pages still pinned stay dirty).
     */
    void readDirty(long iova, long size, long pageSize, MemorySegment bitmap) throws ErrnoException;

    /** Unmaps everything still mapped and releases the IOMMU; idempotent. */
    @Override
    void close();
}
