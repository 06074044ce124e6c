/**
 * Safe Java objects over the kernel's virtualization file descriptors: {@code /dev/kvm} (system, VM,
 * vCPU, devices), guest test support, and the VMM plumbing (buses, exit dispatch, legacy devices).
 *
 * <p>Needs native access: {@code --enable-native-access=dev.panavirt.runtime}.
 */
module dev.panavirt.runtime {
    requires transitive dev.panavirt.bindings;

    exports dev.panavirt.kvm;
    exports dev.panavirt.vmm;
    exports dev.panavirt.machine;
    exports dev.panavirt.guest;
    exports dev.panavirt.devices.session;
    exports dev.panavirt.devices.loongarch;
    exports dev.panavirt.devices.riscv;
    // The syscall layer is internal; panavirt's own tools may use it.
    exports dev.panavirt.sys to dev.panavirt.cli, dev.panavirt.bench;
}
