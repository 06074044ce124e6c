package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.testsupport.DeviceCondition;
import dev.panavirt.vfio.session.VfioSessions;
import java.io.IOException;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The lane's edu device (1234:11e8, bound to vfio-pci) opened the legacy way: a container, the device's group
 * attached to it, an IOMMU type set, the device. {@link #close()} closes the container, which closes the rest
 * in the kernel's order. Where there is no edu device the test is skipped, or fails when
 * {@code -Dpanavirt.require} names vfio (as in the lane).
 */
public final class KernelEduFixture implements EduBackend {
    /** The device's PCI name. */
    public final String name;
    /** The container, IOMMU type set. */
    public final VfioContainer container;
    /** The device's group, in the container. */
    public final VfioGroup group;
    /** The device. */
    public final KernelVfioDevice device;

    private KernelEduFixture(String name, VfioContainer container, VfioGroup group, KernelVfioDevice device) {
        this.name = name;
        this.container = container;
        this.group = group;
        this.device = device;
    }

    /** Opens the edu device behind a container of IOMMU type {@code iommuType}. */
    public static KernelEduFixture open(int iommuType) throws ErrnoException, IOException {
        String name = eduName();
        VfioContainer container = VfioContainer.open();
        VfioGroup group = null;
        try {
            group = VfioGroup.open(VfioGroup.groupNumberOf(name));
            group.setContainer(container);
            container.setIommu(iommuType);
            KernelVfioDevice device = group.device(name);
            return new KernelEduFixture(name, container, group, device);
        } catch (IOException | RuntimeException e) {
            container.close();
            if (group != null) {
                group.close(); // when it never joined the container
            }
            throw e;
        }
    }

    /** The PCI name of the edu device (e.g. {@code 0000:00:03.0}); skips or fails the test when there is none. */
    static String eduName() {
        return VfioSessions.findEdu().orElseGet(() -> {
            String why = "no QEMU edu device (1234:11e8) under /sys/bus/pci/devices";
            if (DeviceCondition.required().contains("vfio")) {
                Assertions.fail(why + " although vfio is required (-Dpanavirt.require)");
            }
            Assumptions.abort(why);
            return null;
        });
    }

    @Override
    public Iommu iommu() {
        return container;
    }

    @Override
    public VfioDevice device() {
        return device;
    }

    @Override
    public void close() {
        container.close();
    }
}
