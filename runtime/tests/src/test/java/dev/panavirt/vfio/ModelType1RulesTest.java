package dev.panavirt.vfio;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;

/**
 * {@link Type1RulesContract} on the type1 model answering as the lane's kernel (profile V6_12, the lane's IOVA
 * ranges and page sizes; {@link ModelEduBackend}) with the edu model's IOMMU-backed group attached: the same
 * inputs as {@link VfioContainerTest} gives the kernel, the same errnos.
 */
class ModelType1RulesTest extends Type1RulesContract {
    @Override
    EduBackend open(int type) throws ErrnoException {
        return ModelEduBackend.open(type, false);
    }

    @Override
    void mapRaw(Iommu iommu, long iova, long vaddr, long size, int flags) throws ErrnoException {
        ((ModelIommu) iommu).model().map(iova, vaddr, size, flags);
    }

    /** 6.12's rule ({@code KernelProfile.V6_12}): a wrapping range is EINVAL. */
    @Override
    int wrapErrno() {
        return Errno.EINVAL;
    }
}
