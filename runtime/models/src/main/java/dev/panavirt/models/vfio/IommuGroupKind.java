package dev.panavirt.models.vfio;

/**
 * How a group attached to a {@link Type1Iommu} reaches memory ({@code drivers/vfio/vfio_iommu_type1.c},
 * {@code vfio_iommu_type1_attach_group}).
 */
public enum IommuGroupKind {
    /**
     * An IOMMU-backed group whose device never uses the pinning API (plain vfio-pci): its device DMAs through
     * the hardware IOMMU, unseen by the kernel, so while it is attached every page of every IOMMU-mapped
     * mapping is reported dirty ({@code num_non_pinned_groups}). It cannot pin pages.
     */
    IOMMU,
    /**
     * An IOMMU-backed group whose driver registered a DMA-unmap callback and may pin pages: counted in
     * {@code num_non_pinned_groups} until its first successful {@code vfio_pin_pages}, after which only the
     * pages it pins or writes through {@code vfio_dma_rw} are reported.
     */
    IOMMU_PINNING,
    /**
     * An emulated (mdev-like) group: no IOMMU domain; it reaches memory only through {@code vfio_pin_pages}
     * and {@code vfio_dma_rw}, so it is precise from the start and never counts as non-pinned.
     */
    EMULATED
}
