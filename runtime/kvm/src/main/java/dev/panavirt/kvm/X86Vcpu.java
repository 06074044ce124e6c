package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid2;
import dev.panavirt.bindings.kvm.x86_64.kvm_fpu;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_lapic_state;
import dev.panavirt.bindings.kvm.x86_64.kvm_msr_entry;
import dev.panavirt.bindings.kvm.x86_64.kvm_msrs;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs;
import dev.panavirt.bindings.kvm.x86_64.kvm_vcpu_events;
import dev.panavirt.sys.Ioctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The x86 ioctls of a {@link Vcpu}: general-purpose, special, FPU and local-APIC registers, pending events,
 * MSRs and CPUID. One view per vCPU ({@link #of(Vcpu)}), on the same descriptor.
 *
 * <p>One buffer convention for register state: every {@code get} fills a buffer this view owns and returns
 * it (read it with the generated accessors, e.g. {@code kvm_regs.rip(seg)}; it is overwritten by the next
 * call of the same getter, so copy what you keep), and every {@code set} takes any segment of the struct's
 * size, such as the one the getter returned. Register calls belong to the vCPU's thread, as
 * {@link Vcpu#run()} does; the getters and setters allocate nothing.
 *
 * <p>The errnos each method lists are those particular to its ioctl (arch/x86/kvm/x86.c,
 * {@code kvm_arch_vcpu_ioctl} and the functions cited); every vCPU ioctl can also fail with EIO, as
 * {@link Vcpu} describes. "Protected state" below means a confidential VM type (SEV-ES, SNP, TDX) whose
 * registers KVM cannot read or write; a default VM never meets those errors. After the vCPU closes every
 * ioctl-issuing method here throws {@link IllegalStateException} before reaching the kernel.
 */
public final class X86Vcpu {
    private final Vcpu vcpu;
    private final MemorySegment regs;
    private final MemorySegment sregs;
    private final MemorySegment fpu;
    private final MemorySegment lapic;
    private final MemorySegment events;

    private X86Vcpu(Vcpu vcpu) {
        this.vcpu = vcpu;
        // An automatic arena: a shared arena's segment costs a session acquire/release on every downcall.
        Arena buffers = Arena.ofAuto();
        this.regs = kvm_regs.allocate(buffers);
        this.sregs = kvm_sregs.allocate(buffers);
        this.fpu = kvm_fpu.allocate(buffers);
        this.lapic = kvm_lapic_state.allocate(buffers);
        this.events = kvm_vcpu_events.allocate(buffers);
    }

    /** The x86 view of {@code vcpu}: the same object on every call. */
    public static X86Vcpu of(Vcpu vcpu) {
        X86Vcpu v = vcpu.x86;
        if (v == null) {
            synchronized (vcpu) {
                v = vcpu.x86;
                if (v == null) {
                    v = new X86Vcpu(vcpu);
                    vcpu.x86 = v;
                }
            }
        }
        return v;
    }

    /** {@return the vCPU this is the x86 view of} */
    public Vcpu vcpu() {
        return vcpu;
    }

    // ---- register state: general-purpose, special, FPU, local APIC, pending events ----

    /**
     * Wraps {@code KVM_GET_REGS} into this view's {@code kvm_regs} buffer and returns it; read it with
     * {@code kvm_regs.rip(seg)} and so on.
     *
     * @throws ErrnoException as {@code KVM_GET_REGS} fails: EINVAL when the guest's register state is protected
     *         ({@code kvm_arch_vcpu_ioctl_get_regs}). A closed vCPU does not reach the kernel (no EBADF): it
     *         throws {@link IllegalStateException}
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getRegs() throws ErrnoException {
        return get(REGS, regs);
    }

    /**
     * Wraps {@code KVM_SET_REGS} from a {@code kvm_regs} segment (for example the one {@link #getRegs()}
     * returned).
     *
     * @throws ErrnoException EINVAL when the guest's register state is protected
     *         ({@code kvm_arch_vcpu_ioctl_set_regs})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_regs}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setRegs(MemorySegment kvmRegs) throws ErrnoException {
        set(REGS, kvmRegs);
    }

    /**
     * Wraps {@code KVM_GET_SREGS} into this view's {@code kvm_sregs} buffer and returns it.
     *
     * @throws ErrnoException EINVAL when the guest's register state is protected
     *         ({@code kvm_arch_vcpu_ioctl_get_sregs})
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getSregs() throws ErrnoException {
        return get(SREGS, sregs);
    }

    /**
     * Wraps {@code KVM_SET_SREGS}.
     *
     * @throws ErrnoException EINVAL for control-register, EFER or segment state the CPU cannot enter: EFER.LME
     *         with CR0.PG but without CR4.PAE or EFER.LMA; EFER.LMA or a 64-bit CS outside long mode; a CR3
     *         with reserved bits in long mode; CR0 or CR4 values the vCPU refuses; an {@code apic_base} it
     *         refuses; or protected register state ({@code kvm_is_valid_sregs}, {@code __set_sregs_common})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_sregs}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setSregs(MemorySegment kvmSregs) throws ErrnoException {
        set(SREGS, kvmSregs);
    }

    /**
     * Wraps {@code KVM_GET_FPU} into this view's {@code kvm_fpu} buffer and returns it. Only the x87 and XMM
     * state travel: {@code mxcsr} reads 0 (arch/x86/kvm/x86.c, {@code kvm_arch_vcpu_ioctl_get_fpu}).
     *
     * @throws ErrnoException EINVAL when the guest's FPU state is protected
     *         ({@code kvm_arch_vcpu_ioctl_get_fpu})
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getFpu() throws ErrnoException {
        return get(FPU, fpu);
    }

    /**
     * Wraps {@code KVM_SET_FPU}, which ignores {@code mxcsr}.
     *
     * @throws ErrnoException EINVAL when the guest's FPU state is protected
     *         ({@code kvm_arch_vcpu_ioctl_set_fpu})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_fpu}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setFpu(MemorySegment kvmFpu) throws ErrnoException {
        set(FPU, kvmFpu);
    }

    /**
     * Wraps {@code KVM_GET_LAPIC} into this view's {@code kvm_lapic_state} buffer and returns it.
     *
     * @throws ErrnoException EINVAL without an in-kernel local APIC, that is without {@link Vm#createIrqchip()}
     *         or a split irqchip ({@code kvm_arch_vcpu_ioctl}); upstream answers EINVAL here, not ENXIO
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getLapic() throws ErrnoException {
        return get(LAPIC, lapic);
    }

    /**
     * Wraps {@code KVM_SET_LAPIC}; the APIC ID register must keep the vCPU's id in x2APIC mode.
     *
     * @throws ErrnoException EINVAL without an in-kernel local APIC ({@code kvm_arch_vcpu_ioctl}); EINVAL in
     *         x2APIC mode when the VM enabled 32-bit x2APIC ids ({@code KVM_CAP_X2APIC_API}) and the APIC ID
     *         register differs from the vCPU's x2APIC id; without that capability a differing id is replaced
     *         silently (arch/x86/kvm/lapic.c, {@code kvm_apic_state_fixup})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_lapic_state}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setLapic(MemorySegment kvmLapicState) throws ErrnoException {
        set(LAPIC, kvmLapicState);
    }

    /**
     * Wraps {@code KVM_GET_VCPU_EVENTS} (pending exceptions, interrupts, NMI, SMI) into this view's buffer.
     *
     * @throws ErrnoException none of its own: only the EIO common to vCPU ioctls
     *         ({@code kvm_vcpu_ioctl_x86_get_vcpu_events} cannot fail)
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getVcpuEvents() throws ErrnoException {
        return get(EVENTS, events);
    }

    /**
     * Wraps {@code KVM_SET_VCPU_EVENTS}.
     *
     * @throws ErrnoException EINVAL for flags the kernel does not know or an exception vector above 31; also
     *         for a pending or injected NMI vector (2) as an exception, {@code KVM_VCPUEVENT_VALID_PAYLOAD}
     *         without {@code KVM_CAP_EXCEPTION_PAYLOAD}, {@code KVM_VCPUEVENT_VALID_TRIPLE_FAULT} without
     *         {@code KVM_CAP_X86_TRIPLE_FAULT_EVENT}, SMM state while the vCPU is in {@code INIT_RECEIVED}, or any
     *         SMM state on a kernel built without SMM ({@code kvm_vcpu_ioctl_x86_set_vcpu_events})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_vcpu_events}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setVcpuEvents(MemorySegment kvmVcpuEvents) throws ErrnoException {
        set(EVENTS, kvmVcpuEvents);
    }

    /** One register-state struct: its name, size and get/set ioctls. */
    private record StateIoctls(String struct, long size, String getName, long get, String setName, long set) {
    }

    private static final StateIoctls REGS = new StateIoctls("kvm_regs", kvm_regs.sizeof(),
            "KVM_GET_REGS", kvm_h.KVM_GET_REGS(), "KVM_SET_REGS", kvm_h.KVM_SET_REGS());
    private static final StateIoctls SREGS = new StateIoctls("kvm_sregs", kvm_sregs.sizeof(),
            "KVM_GET_SREGS", kvm_h.KVM_GET_SREGS(), "KVM_SET_SREGS", kvm_h.KVM_SET_SREGS());
    private static final StateIoctls FPU = new StateIoctls("kvm_fpu", kvm_fpu.sizeof(),
            "KVM_GET_FPU", kvm_h.KVM_GET_FPU(), "KVM_SET_FPU", kvm_h.KVM_SET_FPU());
    private static final StateIoctls LAPIC = new StateIoctls("kvm_lapic_state", kvm_lapic_state.sizeof(),
            "KVM_GET_LAPIC", kvm_h.KVM_GET_LAPIC(), "KVM_SET_LAPIC", kvm_h.KVM_SET_LAPIC());
    private static final StateIoctls EVENTS = new StateIoctls("kvm_vcpu_events", kvm_vcpu_events.sizeof(),
            "KVM_GET_VCPU_EVENTS", kvm_h.KVM_GET_VCPU_EVENTS(), "KVM_SET_VCPU_EVENTS", kvm_h.KVM_SET_VCPU_EVENTS());

    private MemorySegment get(StateIoctls s, MemorySegment buffer) throws ErrnoException {
        vcpu.vcpuIoctl(s.getName(), s.get(), buffer);
        return buffer;
    }

    private void set(StateIoctls s, MemorySegment value) throws ErrnoException {
        Vcpu.checkSize(value, s.size(), s.struct());
        vcpu.vcpuIoctl(s.setName(), s.set(), value);
    }

    // ---- MSRs and CPUID ----

    /**
     * Wraps {@code KVM_GET_MSRS}.
     *
     * @throws ErrnoException EINVAL naming the first index the kernel did not read (raised by this method: the
     *         kernel reports a short count, not an errno); E2BIG for 256 or more indices ({@code msr_io},
     *         which takes fewer than {@code MAX_IO_MSRS}); ENOMEM
     * @throws IllegalStateException after the vCPU closed
     */
    public long[] getMsrs(int... indices) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = msrs(a, indices, null);
            int n = Ioctl.call(vcpu.fd(), "KVM_GET_MSRS", kvm_h.KVM_GET_MSRS(), m, msrText(indices));
            if (n < indices.length) {
                throw new ErrnoException("KVM_GET_MSRS", Errno.EINVAL, kvm_h.KVM_GET_MSRS(),
                        "kernel read " + n + " of " + indices.length + " MSRs; MSR 0x"
                                + Integer.toHexString(indices[n]) + " is not supported on vcpu " + vcpu.id());
            }
            long[] out = new long[indices.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = kvm_msr_entry.data(kvm_msrs.entries(m, i));
            }
            return out;
        }
    }

    /**
     * Wraps {@code KVM_SET_MSRS}.
     *
     * @throws ErrnoException EINVAL naming the first MSR the kernel refused (raised by this method: the kernel
     *         reports a short count, not an errno); E2BIG for 256 or more MSRs ({@code msr_io}); ENOMEM
     * @throws IllegalArgumentException when {@code indices} and {@code values} differ in length
     * @throws IllegalStateException after the vCPU closed
     */
    public void setMsrs(int[] indices, long[] values) throws ErrnoException {
        if (indices.length != values.length) {
            throw new IllegalArgumentException("indices and values differ in length");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = msrs(a, indices, values);
            int n = Ioctl.call(vcpu.fd(), "KVM_SET_MSRS", kvm_h.KVM_SET_MSRS(), m, msrText(indices));
            if (n < indices.length) {
                throw new ErrnoException("KVM_SET_MSRS", Errno.EINVAL, kvm_h.KVM_SET_MSRS(),
                        "kernel set " + n + " of " + indices.length + " MSRs; refused MSR 0x"
                                + Integer.toHexString(indices[n]) + " = 0x" + Long.toHexString(values[n])
                                + " on vcpu " + vcpu.id());
            }
        }
    }

    /**
     * Reads one MSR.
     *
     * @throws ErrnoException as {@link #getMsrs(int...)}: EINVAL when the kernel does not read it
     * @throws IllegalStateException after the vCPU closed
     */
    public long getMsr(int index) throws ErrnoException {
        return getMsrs(index)[0];
    }

    /**
     * Writes one MSR.
     *
     * @throws ErrnoException as {@link #setMsrs(int[], long[])}: EINVAL when the kernel refuses it
     * @throws IllegalStateException after the vCPU closed
     */
    public void setMsr(int index, long value) throws ErrnoException {
        setMsrs(new int[] {index}, new long[] {value});
    }

    private static MemorySegment msrs(Arena a, int[] indices, long[] values) {
        MemorySegment m = kvm_msrs.allocate(indices.length, a);
        kvm_msrs.nmsrs(m, indices.length);
        for (int i = 0; i < indices.length; i++) {
            MemorySegment e = kvm_msrs.entries(m, i);
            kvm_msr_entry.index(e, indices[i]);
            if (values != null) {
                kvm_msr_entry.data(e, values[i]);
            }
        }
        return m;
    }

    private String msrText(int[] indices) {
        StringBuilder sb = new StringBuilder("vcpu ").append(vcpu.id()).append(" MSRs [");
        for (int i = 0; i < indices.length; i++) {
            sb.append(i == 0 ? "0x" : ", 0x").append(Integer.toHexString(indices[i]));
        }
        return sb.append(']').toString();
    }

    /**
     * Wraps {@code KVM_SET_CPUID2}: the CPUID leaves the guest sees (usually from {@link X86Kvm#supportedCpuid()}).
     *
     * @throws ErrnoException from arch/x86/kvm/cpuid.c ({@code kvm_vcpu_ioctl_set_cpuid2}, {@code kvm_set_cpuid},
     *         {@code kvm_check_cpuid}): E2BIG for more than {@code KVM_MAX_CPUID_ENTRIES} leaves; EINVAL once the
     *         vCPU has run, unless the list equals the one it has, or for a leaf 0x80000008 giving a
     *         virtual-address width other than 48 or 57; ENOMEM; and the error of enabling dynamic XSAVE
     *         features (AMX) that leaf 0xd lists but the process was not granted
     * @throws IllegalStateException after the vCPU closed
     */
    public void setCpuid(Cpuid cpuid) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            Ioctl.call(vcpu.fd(), "KVM_SET_CPUID2", kvm_h.KVM_SET_CPUID2(), cpuid.toKvmCpuid2(a),
                    cpuid.entries().size() + " entries on vcpu " + vcpu.id());
        }
    }

    /**
     * Wraps {@code KVM_GET_CPUID2}: the leaves set on this vCPU.
     *
     * @throws ErrnoException none of its own in practice: the E2BIG for too small a list cannot occur, as this
     *         method offers room for 4096 leaves, more than {@code KVM_MAX_CPUID_ENTRIES}
     *         (arch/x86/kvm/cpuid.c, {@code kvm_vcpu_ioctl_get_cpuid2})
     * @throws IllegalStateException after the vCPU closed
     */
    public Cpuid getCpuid() throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_cpuid2.allocate(Kvm.MAX_LIST_ENTRIES, a);
            kvm_cpuid2.nent(c, Kvm.MAX_LIST_ENTRIES);
            Ioctl.call(vcpu.fd(), "KVM_GET_CPUID2", kvm_h.KVM_GET_CPUID2(), c, "vcpu " + vcpu.id());
            return Cpuid.fromKvmCpuid2(c);
        }
    }
}
