package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.kvm_h;

/**
 * In-kernel device types ({@code enum kvm_device_type} in {@code include/uapi/linux/kvm.h}) for
 * {@link Vm#createDevice(DeviceType)} and {@link Vm#supportsDevice(DeviceType)}. The numbering is the same on
 * every arch; which types a host offers depends on its arch and configuration. The LoongArch types are newer
 * than the pinned 6.12 headers and come from the project's {@code native-headers/include/panavirt/kvm_ext.h}.
 */
public enum DeviceType {
    ARM_VGIC_V2(kvm_h.KVM_DEV_TYPE_ARM_VGIC_V2()),
    ARM_VGIC_V3(kvm_h.KVM_DEV_TYPE_ARM_VGIC_V3()),
    ARM_VGIC_ITS(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS()),
    ARM_PV_TIME(kvm_h.KVM_DEV_TYPE_ARM_PV_TIME()),
    RISCV_AIA(kvm_h.KVM_DEV_TYPE_RISCV_AIA()),
    LOONGARCH_IPI(dev.panavirt.bindings.kvm.loongarch64.kvm_h.KVM_DEV_TYPE_LOONGARCH_IPI()),
    LOONGARCH_EIOINTC(dev.panavirt.bindings.kvm.loongarch64.kvm_h.KVM_DEV_TYPE_LOONGARCH_EIOINTC()),
    LOONGARCH_PCHPIC(dev.panavirt.bindings.kvm.loongarch64.kvm_h.KVM_DEV_TYPE_LOONGARCH_PCHPIC()),
    VFIO(kvm_h.KVM_DEV_TYPE_VFIO());

    private final int value;

    DeviceType(int value) {
        this.value = value;
    }

    /** The {@code KVM_DEV_TYPE_*} number. */
    public int value() {
        return value;
    }
}
