package dev.panavirt.vmm.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.kvm.DeviceType;
import dev.panavirt.kvm.KernelDevice;
import dev.panavirt.kvm.Vm;

/**
 * The KVM-VFIO pseudo device ({@code KVM_DEV_TYPE_VFIO}, virt/kvm/vfio.c): tells KVM which VFIO groups (or
 * device cdevs) the VM's devices come from. KVM uses it to learn whether every assigned device's DMA is
 * cache-coherent (if not, the guest's {@code WBINVD} must really flush: {@code kvm_vfio_update_coherency}) and
 * to let the IOMMU driver reach the VM ({@code kvm_vfio_file_set_kvm}, which e.g. vfio-ap and GVT-g need).
 * A VMM creates one per VM and adds each group before the guest starts using the device.
 */
public final class KvmVfio implements AutoCloseable {
    private final KernelDevice device;

    private KvmVfio(KernelDevice device) {
        this.device = device;
    }

    /**
     * Creates the pseudo device on {@code vm}.
     *
     * @throws ErrnoException ENODEV when the kernel was built without VFIO support in KVM
     *         ({@code CONFIG_KVM_VFIO}); EEXIST when the VM already has one
     *         ({@code kvm_vfio_create})
     */
    public static KvmVfio create(Vm vm) throws ErrnoException {
        return new KvmVfio(vm.createDevice(DeviceType.VFIO));
    }

    /**
     * {@code KVM_DEV_VFIO_FILE_ADD}: adds a VFIO group (or device cdev) file.
     *
     * @param fd the group's file descriptor
     * @throws ErrnoException EBADF for a closed descriptor, EINVAL for one that is not a VFIO file, EEXIST for
     *         one already added ({@code kvm_vfio_file_add})
     */
    public void add(int fd) throws ErrnoException {
        device.setAttr(kvm_h.KVM_DEV_VFIO_FILE(), kvm_h.KVM_DEV_VFIO_FILE_ADD(), fd, 4);
    }

    /**
     * {@code KVM_DEV_VFIO_FILE_DEL}: removes a file added before.
     *
     * @throws ErrnoException ENOENT when it was not added ({@code kvm_vfio_file_del})
     */
    public void remove(int fd) throws ErrnoException {
        device.setAttr(kvm_h.KVM_DEV_VFIO_FILE(), kvm_h.KVM_DEV_VFIO_FILE_DEL(), fd, 4);
    }

    /** Closes the pseudo device; KVM drops the files it holds when the VM goes. */
    @Override
    public void close() {
        device.close();
    }
}
