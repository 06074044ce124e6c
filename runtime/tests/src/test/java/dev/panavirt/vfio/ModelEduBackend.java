package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.models.vfio.KernelProfile;
import dev.panavirt.models.vfio.Type1Iommu;
import java.util.List;

/**
 * The edu model ({@link EduModelDevice}) behind the type1 model ({@link ModelIommu}), set up to answer as the
 * nested lane's kernel does: profile {@link KernelProfile#V6_12} (Debian's 6.12, the lane's kernel), the IOVA
 * ranges and page sizes the lane's type1 container reported for the edu group (x86: the 39-bit aperture
 * minus the MSI window 0xfee00000-0xfeefffff; 4 KiB, 2 MiB and 1 GiB pages), and completion timing
 * {@link EduDevice.Timing#POLLED}: an operation is busy until the driver has polled it once, or completes by
 * itself when it asks for an interrupt, as QEMU's thread and timer complete it without being polled.
 */
public final class ModelEduBackend implements EduBackend {
    /** The type1 IOVA ranges the lane's kernel reported (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE). */
    public static final List<Type1Iommu.IovaRange> LANE_IOVA_RANGES = List.of(
            new Type1Iommu.IovaRange(0, 0xfed_fffffL), new Type1Iommu.IovaRange(0xfef0_0000L, 0x7f_ffff_ffffL));
    /** The type1 page sizes the lane's kernel reported (iova_pgsizes). */
    public static final long LANE_PGSIZES = 0x4020_1000L;

    private final ModelIommu iommu;
    private final EduModelDevice device;

    private ModelEduBackend(ModelIommu iommu, EduModelDevice device) {
        this.iommu = iommu;
        this.device = device;
    }

    /** The type1 model's options that make it answer as the lane's kernel. */
    public static Type1Iommu.Options laneOptions() {
        return Type1Iommu.Options.defaults().withProfile(KernelProfile.V6_12).withIovaRanges(LANE_IOVA_RANGES)
                .withDomainPgsizes(LANE_PGSIZES);
    }

    /** A model container of IOMMU {@code type} answering as the lane's kernel, no group attached. */
    public static ModelIommu laneIommu(int type) throws ErrnoException {
        return ModelIommu.open(type, laneOptions());
    }

    /**
     * The edu model in a fresh v2 container.
     *
     * @param precise false: an IOMMU-backed group, as vfio-pci's (the lane's); true: an emulated (mdev-like)
     *                group whose DMA goes through {@code vfio_dma_rw}
     */
    public static ModelEduBackend open(boolean precise) throws ErrnoException {
        return open(Type1Iommu.TYPE1V2, precise);
    }

    /** The edu model in a fresh container of IOMMU {@code type} (1 or 3); {@code precise} as {@link #open(boolean)}. */
    public static ModelEduBackend open(int type, boolean precise) throws ErrnoException {
        ModelIommu iommu = laneIommu(type);
        try {
            return new ModelEduBackend(iommu, EduModelDevice.create(iommu, precise, EduDevice.Timing.POLLED));
        } catch (ErrnoException | RuntimeException e) {
            iommu.close();
            throw e;
        }
    }

    @Override
    public ModelIommu iommu() {
        return iommu;
    }

    @Override
    public EduModelDevice device() {
        return device;
    }

    /** Unmaps everything, then detaches the device's group. */
    @Override
    public void close() {
        iommu.close();
        device.close();
    }
}
