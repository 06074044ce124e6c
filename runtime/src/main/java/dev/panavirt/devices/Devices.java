package dev.panavirt.devices;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.devices.gicv3.Vgic;
import dev.panavirt.devices.gicv3.VmGuestRam;
import dev.panavirt.devices.loongarch.EiointcDevice;
import dev.panavirt.devices.loongarch.LoongArchVm;
import dev.panavirt.kvm.DeviceAttributes;
import dev.panavirt.kvm.Vm;
import dev.panavirt.sys.ErrnoException;

/**
 * Creates an interrupt-controller device for a VM: the host kernel's when its KVM offers the type
 * ({@code KVM_CREATE_DEVICE_TEST} succeeds), otherwise panavirt's software model. Either way the caller
 * gets {@link DeviceAttributes}, and {@link DeviceAttributes#backend()} says which it got.
 */
public final class Devices {
    private Devices() {}

    /**
     * A GICv3 ITS ({@code KVM_DEV_TYPE_ARM_VGIC_ITS}) for {@code vm}: the kernel's on an arm64 host with
     * a vGICv3, else the model, which reads the ITS tables and command queue from {@code vm}'s memory.
     *
     * @param vcpus vCPU count the model's redistributors cover (ignored for the kernel device)
     */
    public static DeviceAttributes gicv3Its(Vm vm, int vcpus) throws ErrnoException {
        int type = kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS();
        if (vm.supportsDevice(type)) {
            return vm.createDevice(type);
        }
        return new Vgic(new VmGuestRam(vm.memory()), vcpus).createDevice(type);
    }

    /**
     * A LoongArch EIOINTC ({@code KVM_DEV_TYPE_LOONGARCH_EIOINTC}) for {@code vm}: the kernel's on a
     * LoongArch host that has it, else the model for {@code vcpus} vCPUs.
     */
    public static DeviceAttributes loongarchEiointc(Vm vm, int vcpus) throws ErrnoException {
        int type = kvm_h.KVM_DEV_TYPE_LOONGARCH_EIOINTC();
        if (vm.supportsDevice(type)) {
            return vm.createDevice(type);
        }
        return EiointcDevice.create(new LoongArchVm(vcpus));
    }
}
