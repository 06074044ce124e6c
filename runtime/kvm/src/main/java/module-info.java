/**
 * Safe Java objects over {@code /dev/kvm}: the system, VMs, vCPUs, memory slots, the dirty log and ring,
 * in-kernel devices, irqfd/ioeventfd and ONE_REG.
 *
 * <p>Its calls go through {@code dev.panavirt.sys}, which needs native access
 * ({@code --enable-native-access=dev.panavirt.sys}).
 */
module dev.panavirt.kvm {
    requires transitive dev.panavirt.base;
    requires transitive dev.panavirt.bindings;
    requires transitive dev.panavirt.sys;
    requires dev.panavirt.models;

    exports dev.panavirt.kvm;
    exports dev.panavirt.kvm.session;
    exports dev.panavirt.kvm.state;
}
