/**
 * The KVM API: {@link dev.panavirt.kvm.Kvm} (the system) → {@link dev.panavirt.kvm.Vm} →
 * {@link dev.panavirt.kvm.Vcpu} and {@link dev.panavirt.kvm.KernelDevice}, one type per kernel object.
 * Every failing ioctl throws {@link dev.panavirt.base.ErrnoException} naming the ioctl, the errno and
 * what was asked. Structures are read and written with the generated classes of
 * {@code dev.panavirt.bindings.kvm.x86_64}.
 */
package dev.panavirt.kvm;
