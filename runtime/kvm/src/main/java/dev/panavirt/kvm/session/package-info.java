/**
 * Replay session targets on the kernel's own devices: the same {@code dev.panavirt.replay.SessionTarget} calls
 * the models answer, run through {@code dev.panavirt.kvm} on {@code /dev/kvm}, and {@link
 * dev.panavirt.kvm.session.KernelAgent}, which answers the cross-architecture lanes' calls with them.
 */
package dev.panavirt.kvm.session;
