package dev.panavirt.kvm;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_clock_data;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_irqchip;
import dev.panavirt.bindings.kvm.x86_64.kvm_pit_config;
import dev.panavirt.bindings.kvm.x86_64.kvm_pit_state2;
import dev.panavirt.sys.Ioctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The x86 ioctls of a {@link Vm}: the in-kernel PIT and its state, the state of the in-kernel PICs and IOAPIC,
 * the TSS address Intel hosts need, and the kvmclock. One view per VM ({@link #of(Vm)}), on the same descriptor.
 */
public final class X86Vm {
    private final Vm vm;
    private volatile boolean pit;

    private X86Vm(Vm vm) {
        this.vm = vm;
    }

    /** The x86 view of {@code vm}: the same object on every call. */
    public static X86Vm of(Vm vm) {
        synchronized (vm) {
            if (vm.x86 == null) {
                vm.x86 = new X86Vm(vm);
            }
            return vm.x86;
        }
    }

    /**
     * Wraps {@code KVM_CREATE_PIT2}: the in-kernel i8254 timer.
     *
     * @throws ErrnoException EEXIST when the VM already has a PIT; ENOENT without the in-kernel PIC, that is
     *         before {@link Vm#createIrqchip()} (a split irqchip has none); ENOMEM (arch/x86/kvm/x86.c,
     *         {@code kvm_arch_vm_ioctl})
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void createPit2(int flags) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_pit_config.allocate(a);
            kvm_pit_config.flags(c, flags);
            Ioctl.call(vm.fd(), "KVM_CREATE_PIT2", kvm_h.KVM_CREATE_PIT2(), c, "flags " + flags);
        }
        pit = true;
    }

    /** {@return whether {@link #createPit2} succeeded: the VM has the kernel's PIT} */
    public boolean hasPit() {
        return pit;
    }

    /**
     * Wraps {@code KVM_SET_TSS_ADDR} (x86, needed before running a guest on Intel hosts).
     *
     * @throws ErrnoException EINVAL for an address above 0xffffd000, where the three pages would not fit below
     *         4 GiB (arch/x86/kvm/x86.c, {@code kvm_vm_ioctl_set_tss_addr}); on VMX without unrestricted guest
     *         only, which places the TSS in a private memory slot, EEXIST when it was placed already or overlaps
     *         a slot, and ENOMEM (arch/x86/kvm/vmx/vmx.c, {@code vmx_set_tss_addr})
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void setTssAddr(long addr) throws ErrnoException {
        Ioctl.call(vm.fd(), "KVM_SET_TSS_ADDR", kvm_h.KVM_SET_TSS_ADDR(), addr, "addr 0x" + Long.toHexString(addr));
    }

    /**
     * Wraps {@code KVM_GET_CLOCK}: the guest's kvmclock in nanoseconds.
     *
     * @throws ErrnoException only the VM-wide EIO (arch/x86/kvm/x86.c, {@code kvm_vm_ioctl_get_clock})
     * @throws IllegalStateException after {@link Vm#close}
     */
    public long getClock() throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_clock_data.allocate(a);
            Ioctl.call(vm.fd(), "KVM_GET_CLOCK", kvm_h.KVM_GET_CLOCK(), c);
            return kvm_clock_data.clock(c);
        }
    }

    /**
     * Wraps {@code KVM_SET_CLOCK}.
     *
     * @throws ErrnoException only the VM-wide EIO: the kernel refuses only unknown flags, and this method
     *         passes none (arch/x86/kvm/x86.c, {@code kvm_vm_ioctl_set_clock})
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void setClock(long nanos) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_clock_data.allocate(a);
            kvm_clock_data.clock(c, nanos);
            Ioctl.call(vm.fd(), "KVM_SET_CLOCK", kvm_h.KVM_SET_CLOCK(), c, "clock " + nanos);
        }
    }
    /**
     * Wraps {@code KVM_GET_IRQCHIP}: the state of one in-kernel interrupt controller into {@code out}, a
     * {@code kvm_irqchip} whose {@code chip_id} this method sets to {@code chipId}
     * ({@code KVM_IRQCHIP_PIC_MASTER}, {@code KVM_IRQCHIP_PIC_SLAVE} or {@code KVM_IRQCHIP_IOAPIC}).
     *
     * @throws ErrnoException ENXIO without the full in-kernel irqchip ({@link Vm#createIrqchip()}; a split irqchip
     *         has no PIC or IOAPIC in the kernel); EINVAL for another chip id (arch/x86/kvm/x86.c,
     *         {@code kvm_arch_vm_ioctl}, {@code kvm_vm_ioctl_get_irqchip})
     * @throws IllegalArgumentException when {@code out} is smaller than {@code kvm_irqchip}
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void getIrqchip(int chipId, MemorySegment out) throws ErrnoException {
        checkSize(out, kvm_irqchip.sizeof(), "kvm_irqchip");
        kvm_irqchip.chip_id(out, chipId);
        Ioctl.call(vm.fd(), "KVM_GET_IRQCHIP", kvm_h.KVM_GET_IRQCHIP(), out, "chip " + chipId);
    }

    /**
     * Wraps {@code KVM_SET_IRQCHIP}: one in-kernel interrupt controller's state, chosen by the {@code chip_id} of
     * {@code kvmIrqchip}.
     *
     * @throws ErrnoException ENXIO without the full in-kernel irqchip; EINVAL for an unknown chip id
     *         ({@code kvm_vm_ioctl_set_irqchip})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_irqchip}
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void setIrqchip(MemorySegment kvmIrqchip) throws ErrnoException {
        checkSize(kvmIrqchip, kvm_irqchip.sizeof(), "kvm_irqchip");
        Ioctl.call(vm.fd(), "KVM_SET_IRQCHIP", kvm_h.KVM_SET_IRQCHIP(), kvmIrqchip,
                "chip " + kvm_irqchip.chip_id(kvmIrqchip));
    }

    /**
     * Wraps {@code KVM_GET_PIT2} ({@link Cap#PIT_STATE2}): the in-kernel PIT's three channels and flags into
     * {@code out}.
     *
     * @throws ErrnoException ENXIO without an in-kernel PIT ({@link #createPit2}) (arch/x86/kvm/x86.c,
     *         {@code kvm_arch_vm_ioctl}, {@code kvm_vm_ioctl_get_pit2})
     * @throws IllegalArgumentException when {@code out} is smaller than {@code kvm_pit_state2}
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void getPit2(MemorySegment out) throws ErrnoException {
        checkSize(out, kvm_pit_state2.sizeof(), "kvm_pit_state2");
        Ioctl.call(vm.fd(), "KVM_GET_PIT2", kvm_h.KVM_GET_PIT2(), out);
    }

    /**
     * Wraps {@code KVM_SET_PIT2}: reloads each channel's count as the state says ({@code kvm_vm_ioctl_set_pit2},
     * {@code kvm_pit_load_count}).
     *
     * @throws ErrnoException ENXIO without an in-kernel PIT
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_pit_state2}
     * @throws IllegalStateException after {@link Vm#close}
     */
    public void setPit2(MemorySegment kvmPitState2) throws ErrnoException {
        checkSize(kvmPitState2, kvm_pit_state2.sizeof(), "kvm_pit_state2");
        Ioctl.call(vm.fd(), "KVM_SET_PIT2", kvm_h.KVM_SET_PIT2(), kvmPitState2);
    }

    private static void checkSize(MemorySegment s, long size, String what) {
        if (s.byteSize() < size) {
            throw new IllegalArgumentException(what + " needs " + size + " bytes, segment has " + s.byteSize());
        }
    }
}
