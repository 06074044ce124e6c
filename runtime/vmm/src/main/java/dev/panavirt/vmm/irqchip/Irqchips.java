package dev.panavirt.vmm.irqchip;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.DeviceType;
import dev.panavirt.kvm.Vm;
import dev.panavirt.models.gicv3.Vgic;
import dev.panavirt.models.loongarch.EiointcDevice;
import dev.panavirt.models.loongarch.LoongArchVm;

/**
 * Creates an interrupt-controller device for a VM: the host kernel's when its KVM offers the type
 * ({@code KVM_CREATE_DEVICE_TEST} succeeds), otherwise panavirt's software model. Either way the caller
 * gets {@link DeviceAttributes}, and {@link DeviceAttributes#backend()} says which it got.
 */
public final class Irqchips {
    private Irqchips() {}

    /**
     * A GICv3 ITS ({@code KVM_DEV_TYPE_ARM_VGIC_ITS}) for {@code vm}: the kernel's on an arm64 host with
     * a vGICv3, else the model, which reads the ITS tables and command queue from {@code vm}'s memory.
     *
     * @param vcpus vCPU count the model's redistributors cover (ignored for the kernel device)
     */
    public static DeviceAttributes gicv3Its(Vm vm, int vcpus) throws ErrnoException {
        DeviceType type = DeviceType.ARM_VGIC_ITS;
        if (vm.supportsDevice(type)) {
            return vm.createDevice(type);
        }
        return new Vgic(new VmGuestRam(vm.memory()), vcpus).createDevice(type.value());
    }

    /**
     * A LoongArch EIOINTC ({@code KVM_DEV_TYPE_LOONGARCH_EIOINTC}) for {@code vm}: the kernel's on a
     * LoongArch host that has it, else the model for {@code vcpus} vCPUs.
     */
    public static DeviceAttributes loongarchEiointc(Vm vm, int vcpus) throws ErrnoException {
        DeviceType type = DeviceType.LOONGARCH_EIOINTC;
        if (vm.supportsDevice(type)) {
            return vm.createDevice(type);
        }
        return EiointcDevice.create(new LoongArchVm(vcpus));
    }
}
