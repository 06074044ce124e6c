package dev.panavirt.models.vfio;

/**
 * One {@code struct vfio_dma} as the model holds it, for inspection.
 *
 * @param iova         first I/O virtual address
 * @param vaddr        process address it maps
 * @param size         bytes
 * @param prot         {@link Type1Iommu#READ} | {@link Type1Iommu#WRITE}
 * @param iommuMapped  whether the pages are pinned and mapped in an IOMMU domain
 * @param vaddrInvalid whether {@code VFIO_DMA_UNMAP_FLAG_VADDR} invalidated the vaddr
 * @param pinnedPages  distinct pages pinned through the pinning API
 */
public record DmaMapping(long iova, long vaddr, long size, int prot, boolean iommuMapped, boolean vaddrInvalid,
        int pinnedPages) {

    /** The last address (inclusive). */
    public long last() {
        return iova + size - 1;
    }
}
