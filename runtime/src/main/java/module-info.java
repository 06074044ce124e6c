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
    exports dev.panavirt.devices.gicv3;
    exports dev.panavirt.devices.loongarch;
    exports dev.panavirt.devices.riscv;
    // The syscall layer: ErrnoException and EventFd are part of the KVM API, Fd/Ioctl serve callers
    // that issue ioctls panavirt does not wrap.
    exports dev.panavirt.sys;
}
