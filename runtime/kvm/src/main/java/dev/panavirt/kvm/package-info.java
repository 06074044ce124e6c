/**
 * The KVM API: {@link dev.panavirt.kvm.Kvm} (the system) → {@link dev.panavirt.kvm.Vm} →
 * {@link dev.panavirt.kvm.Vcpu} and {@link dev.panavirt.kvm.KernelDevice}, one type per kernel object.
 * Every failing ioctl throws {@link dev.panavirt.base.ErrnoException} naming the ioctl, the errno and
 * what was asked. Structures are read and written with the generated classes: the arch-neutral ones of
 * {@code dev.panavirt.bindings.kvm} (what {@code linux/kvm.h} defines alike on every arch) for the
 * arch-neutral types, the per-arch packages for the x86 views ({@code X86Kvm}, {@code X86Vm},
 * {@code X86Vcpu}). {@code kvm_run} is the exception: its {@code debug.arch} and {@code s.regs} members differ
 * per arch, so it has no neutral binding; the members {@link dev.panavirt.kvm.VcpuExit} reads (exit reason,
 * {@code immediate_exit}, the exit union's I/O, MMIO, error, event and memory-fault members) lie at the same
 * offsets on every arch, and are read through the x86-64 layout.
 */
package dev.panavirt.kvm;
