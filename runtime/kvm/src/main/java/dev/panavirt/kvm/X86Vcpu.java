package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid2;
import dev.panavirt.bindings.kvm.x86_64.kvm_debugregs;
import dev.panavirt.bindings.kvm.x86_64.kvm_fpu;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_lapic_state;
import dev.panavirt.bindings.kvm.x86_64.kvm_msr_entry;
import dev.panavirt.bindings.kvm.x86_64.kvm_msrs;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs2;
import dev.panavirt.bindings.kvm.x86_64.kvm_vcpu_events;
import dev.panavirt.bindings.kvm.x86_64.kvm_xcrs;
import dev.panavirt.bindings.kvm.x86_64.kvm_xsave;
import dev.panavirt.sys.Ioctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The x86 ioctls of a {@link Vcpu}: general-purpose, special, FPU/XSAVE, XCR, debug and local-APIC registers,
 * pending events, MSRs, CPUID and the TSC rate. One view per vCPU ({@link #of(Vcpu)}), on the same descriptor.
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
    private final MemorySegment sregs2;
    private final MemorySegment xcrs;
    private final MemorySegment debugregs;

    private X86Vcpu(Vcpu vcpu) {
        this.vcpu = vcpu;
        // An automatic arena: a shared arena's segment costs a session acquire/release on every downcall.
        Arena buffers = Arena.ofAuto();
        this.regs = kvm_regs.allocate(buffers);
        this.sregs = kvm_sregs.allocate(buffers);
        this.fpu = kvm_fpu.allocate(buffers);
        this.lapic = kvm_lapic_state.allocate(buffers);
        this.events = kvm_vcpu_events.allocate(buffers);
        this.sregs2 = kvm_sregs2.allocate(buffers);
        this.xcrs = kvm_xcrs.allocate(buffers);
        this.debugregs = kvm_debugregs.allocate(buffers);
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

    // ---- the rest of the state a save and restore needs: sregs2, XSAVE, XCRs, debug registers, TSC rate ----

    /**
     * Wraps {@code KVM_GET_SREGS2} ({@link Cap#SREGS2}) into this view's {@code kvm_sregs2} buffer: the special
     * registers as {@code KVM_GET_SREGS} gives them, without the pending-interrupt bitmap (that travels with the
     * vCPU events) and with the four PAE page-directory pointers when {@code flags} has
     * {@code KVM_SREGS2_FLAGS_PDPTRS_VALID}.
     *
     * @throws ErrnoException EINVAL on a kernel without the ioctl or with protected register state
     *         (arch/x86/kvm/x86.c, {@code kvm_arch_vcpu_ioctl}, {@code __get_sregs2})
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getSregs2() throws ErrnoException {
        return get(SREGS2, sregs2);
    }

    /**
     * Wraps {@code KVM_SET_SREGS2}.
     *
     * @throws ErrnoException EINVAL as {@link #setSregs}, and for flags other than
     *         {@code KVM_SREGS2_FLAGS_PDPTRS_VALID} or PDPTRs given outside PAE paging ({@code __set_sregs2})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_sregs2}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setSregs2(MemorySegment kvmSregs2) throws ErrnoException {
        set(SREGS2, kvmSregs2);
    }

    /**
     * The size of this vCPU's XSAVE buffer in bytes: the value of {@link Cap#XSAVE2} on the VM (at least the
     * 4096 bytes of {@code struct kvm_xsave}, more when the process was granted larger dynamic features such as
     * AMX), {@code kvm_xsave}'s 4096 without that capability but with {@link Cap#XSAVE}, and 0 without either (then
     * only {@link #getFpu()} holds the FPU state).
     *
     * @throws ErrnoException as {@link Vm#checkExtension(Cap)}
     */
    public int xsaveSize() throws ErrnoException {
        int size = vcpu.vm().checkExtension(Cap.XSAVE2);
        if (size > 0) {
            return Math.max(size, (int) kvm_xsave.sizeof());
        }
        return vcpu.vm().checkExtension(Cap.XSAVE) > 0 ? (int) kvm_xsave.sizeof() : 0;
    }

    /**
     * Wraps {@code KVM_GET_XSAVE2} (or {@code KVM_GET_XSAVE} without {@link Cap#XSAVE2}) into {@code out}: the
     * guest's FPU, SSE, AVX and other XSAVE-managed state in the XSAVE standard format.
     *
     * @throws ErrnoException EINVAL when the guest's FPU state is protected; ENOMEM (arch/x86/kvm/x86.c,
     *         {@code kvm_arch_vcpu_ioctl}, {@code kvm_vcpu_ioctl_x86_get_xsave2})
     * @throws IllegalArgumentException when {@code out} is smaller than {@link #xsaveSize()} or that is 0
     * @throws IllegalStateException after the vCPU closed
     */
    public void getXsave(MemorySegment out) throws ErrnoException {
        int size = checkXsave(out);
        if (size > kvm_xsave.sizeof() || vcpu.vm().checkExtension(Cap.XSAVE2) > 0) {
            vcpu.vcpuIoctl("KVM_GET_XSAVE2", kvm_h.KVM_GET_XSAVE2(), out, size + " bytes");
        } else {
            vcpu.vcpuIoctl("KVM_GET_XSAVE", kvm_h.KVM_GET_XSAVE(), out);
        }
    }

    /**
     * Wraps {@code KVM_SET_XSAVE}, which reads as many bytes as the vCPU's XSAVE buffer has ({@link #xsaveSize()}).
     *
     * @throws ErrnoException EINVAL for features in XSTATE_BV the guest's CPUID does not offer (so CPUID must be
     *         set first), reserved bits or an MXCSR with reserved bits; EINVAL for protected FPU state
     *         (arch/x86/kernel/fpu/core.c, {@code fpu_copy_uabi_to_guest_fpstate})
     * @throws IllegalArgumentException when {@code xsave} is smaller than {@link #xsaveSize()} or that is 0
     * @throws IllegalStateException after the vCPU closed
     */
    public void setXsave(MemorySegment xsave) throws ErrnoException {
        int size = checkXsave(xsave);
        vcpu.vcpuIoctl("KVM_SET_XSAVE", kvm_h.KVM_SET_XSAVE(), xsave, size + " bytes");
    }

    private int checkXsave(MemorySegment s) throws ErrnoException {
        int size = xsaveSize();
        if (size == 0) {
            throw new IllegalArgumentException("KVM offers no XSAVE state (neither KVM_CAP_XSAVE2 nor KVM_CAP_XSAVE)");
        }
        Vcpu.checkSize(s, size, "kvm_xsave");
        return size;
    }

    /**
     * Wraps {@code KVM_GET_XCRS} ({@link Cap#XCRS}) into this view's {@code kvm_xcrs} buffer: XCR0.
     *
     * @throws ErrnoException EINVAL without XSAVE on the host or with protected state (arch/x86/kvm/x86.c,
     *         {@code kvm_vcpu_ioctl_x86_get_xcrs})
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getXcrs() throws ErrnoException {
        return get(XCRS, xcrs);
    }

    /**
     * Wraps {@code KVM_SET_XCRS}.
     *
     * @throws ErrnoException EINVAL for more than {@code KVM_MAX_XCRS} entries, flags, or an XCR0 the guest's
     *         CPUID does not allow ({@code kvm_vcpu_ioctl_x86_set_xcrs}, {@code __kvm_set_xcr})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_xcrs}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setXcrs(MemorySegment kvmXcrs) throws ErrnoException {
        set(XCRS, kvmXcrs);
    }

    /**
     * Wraps {@code KVM_GET_DEBUGREGS} ({@link Cap#DEBUGREGS}) into this view's {@code kvm_debugregs} buffer:
     * DR0-DR3, DR6 and DR7.
     *
     * @throws ErrnoException EINVAL with protected state ({@code kvm_vcpu_ioctl_x86_get_debugregs})
     * @throws IllegalStateException after the vCPU closed
     */
    public MemorySegment getDebugRegs() throws ErrnoException {
        return get(DEBUGREGS, debugregs);
    }

    /**
     * Wraps {@code KVM_SET_DEBUGREGS}.
     *
     * @throws ErrnoException EINVAL for flags, or DR6/DR7 with bits set in their upper half
     *         ({@code kvm_vcpu_ioctl_x86_set_debugregs})
     * @throws IllegalArgumentException when the segment is smaller than {@code kvm_debugregs}
     * @throws IllegalStateException after the vCPU closed
     */
    public void setDebugRegs(MemorySegment kvmDebugregs) throws ErrnoException {
        set(DEBUGREGS, kvmDebugregs);
    }

    /**
     * Wraps {@code KVM_GET_TSC_KHZ} ({@link Cap#GET_TSC_KHZ}): the guest's TSC frequency in kHz.
     *
     * @throws ErrnoException only the EIO common to vCPU ioctls
     * @throws IllegalStateException after the vCPU closed
     */
    public long getTscKhz() throws ErrnoException {
        return Ioctl.call(vcpu.fd(), "KVM_GET_TSC_KHZ", kvm_h.KVM_GET_TSC_KHZ(), 0L, "vcpu " + vcpu.id());
    }

    /**
     * Wraps {@code KVM_SET_TSC_KHZ}: the guest's TSC frequency. Set it before IA32_TSC, whose host-initiated write
     * computes the TSC offset with the scaling ratio this sets (arch/x86/kvm/x86.c, {@code kvm_set_tsc_khz},
     * {@code kvm_synchronize_tsc}).
     *
     * @throws ErrnoException EINVAL for a rate at or above the host's maximum with TSC scaling
     *         ({@link Cap#TSC_CONTROL}), or without scaling one that is lower than the host's beyond KVM's
     *         tolerance ({@code kvm_arch_vcpu_ioctl}, {@code set_tsc_khz})
     * @throws IllegalStateException after the vCPU closed
     */
    public void setTscKhz(long khz) throws ErrnoException {
        Ioctl.call(vcpu.fd(), "KVM_SET_TSC_KHZ", kvm_h.KVM_SET_TSC_KHZ(), khz, khz + " kHz on vcpu " + vcpu.id());
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

    private static final StateIoctls SREGS2 = new StateIoctls("kvm_sregs2", kvm_sregs2.sizeof(),
            "KVM_GET_SREGS2", kvm_h.KVM_GET_SREGS2(), "KVM_SET_SREGS2", kvm_h.KVM_SET_SREGS2());
    private static final StateIoctls XCRS = new StateIoctls("kvm_xcrs", kvm_xcrs.sizeof(),
            "KVM_GET_XCRS", kvm_h.KVM_GET_XCRS(), "KVM_SET_XCRS", kvm_h.KVM_SET_XCRS());
    private static final StateIoctls DEBUGREGS = new StateIoctls("kvm_debugregs", kvm_debugregs.sizeof(),
            "KVM_GET_DEBUGREGS", kvm_h.KVM_GET_DEBUGREGS(), "KVM_SET_DEBUGREGS", kvm_h.KVM_SET_DEBUGREGS());

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
     * Wraps {@code KVM_GET_MSRS} as the kernel answers it: reads {@code indices} in order into {@code values} and
     * stops at the first MSR it cannot read, returning how many it read (arch/x86/kvm/x86.c, {@code __msr_io}).
     * This is how a caller finds which MSRs of a list a vCPU accepts, as a save does with
     * {@link X86Kvm#msrIndexList()}.
     *
     * @throws ErrnoException E2BIG for 256 or more indices ({@code msr_io}); ENOMEM
     * @throws IllegalArgumentException when {@code values} is shorter than {@code indices}
     * @throws IllegalStateException after the vCPU closed
     */
    public int readMsrs(int[] indices, long[] values) throws ErrnoException {
        if (values.length < indices.length) {
            throw new IllegalArgumentException("values has room for " + values.length + " of " + indices.length);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = msrs(a, indices, null);
            int n = Ioctl.call(vcpu.fd(), "KVM_GET_MSRS", kvm_h.KVM_GET_MSRS(), m, msrText(indices));
            for (int i = 0; i < n; i++) {
                values[i] = kvm_msr_entry.data(kvm_msrs.entries(m, i));
            }
            return n;
        }
    }

    /**
     * Wraps {@code KVM_SET_MSRS} as the kernel answers it: writes {@code indices} in order and stops at the first
     * MSR it refuses, returning how many it wrote ({@code __msr_io}).
     *
     * @throws ErrnoException E2BIG for 256 or more MSRs ({@code msr_io}); ENOMEM
     * @throws IllegalArgumentException when {@code indices} and {@code values} differ in length
     * @throws IllegalStateException after the vCPU closed
     */
    public int writeMsrs(int[] indices, long[] values) throws ErrnoException {
        if (indices.length != values.length) {
            throw new IllegalArgumentException("indices and values differ in length");
        }
        try (Arena a = Arena.ofConfined()) {
            return Ioctl.call(vcpu.fd(), "KVM_SET_MSRS", kvm_h.KVM_SET_MSRS(), msrs(a, indices, values),
                    msrText(indices));
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
