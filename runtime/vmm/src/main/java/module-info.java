/**
 * The VMM plumbing on top of the kernel objects and the models: address-space buses and exit dispatch, the
 * vCPU runner (the one KVM_RUN loop), legacy devices, interrupt controllers that are the kernel's or a
 * model's, and the x86 machine that loads and runs multiboot kernels and flat guests.
 *
 * <p>Needs native access for {@code dev.panavirt.sys} only ({@code --enable-native-access=dev.panavirt.sys}).
 */
module dev.panavirt.vmm {
    requires transitive dev.panavirt.kvm;
    requires transitive dev.panavirt.models;
    requires transitive dev.panavirt.vfio;
    requires transitive dev.panavirt.vhost;

    exports dev.panavirt.vmm;
    exports dev.panavirt.vmm.legacy;
    exports dev.panavirt.vmm.pci;
    exports dev.panavirt.vmm.irqchip;
    exports dev.panavirt.vmm.vfio;
    exports dev.panavirt.vmm.virtio;
    exports dev.panavirt.machine;
    exports dev.panavirt.machine.acpi;
    exports dev.panavirt.migration;
}
