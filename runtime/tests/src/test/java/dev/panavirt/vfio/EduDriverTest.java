package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.IOException;
import org.junit.jupiter.api.Tag;

/**
 * {@link EduDriverContract} on the genuine edu device through VFIO (the nested lane): vfio-pci, a type1v2
 * container of the kernel's IOMMU, QEMU's edu behind it.
 */
@Tag("vfio")
@RequiresDevice("vfio")
class EduDriverTest extends EduDriverContract {
    @Override
    EduBackend open() throws ErrnoException, IOException {
        return KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU());
    }

    /** vfio-pci maps a memory BAR of a page or more. */
    @Override
    boolean bar0Mappable() {
        return true;
    }
}
