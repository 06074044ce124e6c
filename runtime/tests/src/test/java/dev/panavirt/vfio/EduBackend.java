package dev.panavirt.vfio;

/**
 * An edu device behind a type1 IOMMU, as the tests written once for every backend see it: the kernel's VFIO
 * objects in the nested lane ({@link KernelEduFixture}) or the models on any host ({@link ModelEduBackend}).
 * {@link #close()} releases both, unmapping the IOMMU's mappings before the memory behind them goes.
 */
public interface EduBackend extends AutoCloseable {
    /** The IOMMU the device's DMA goes through. */
    Iommu iommu();

    /** The edu device. */
    VfioDevice device();

    @Override
    void close();
}
