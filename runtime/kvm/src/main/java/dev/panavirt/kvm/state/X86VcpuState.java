package dev.panavirt.kvm.state;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_debugregs;
import dev.panavirt.bindings.kvm.x86_64.kvm_fpu;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_lapic_state;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs2;
import dev.panavirt.bindings.kvm.x86_64.kvm_vcpu_events;
import dev.panavirt.bindings.kvm.x86_64.kvm_xcrs;
import dev.panavirt.bindings.kvm.x86_64.kvm_xsave;
import dev.panavirt.kvm.Cap;
import dev.panavirt.kvm.Cpuid;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import dev.panavirt.kvm.Vm;
import dev.panavirt.kvm.X86Kvm;
import dev.panavirt.kvm.X86Vcpu;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Everything KVM needs to resume one x86 vCPU in another VM, possibly in another process: CPUID, general-purpose
 * registers, special registers ({@code kvm_sregs2} where the kernel has {@link Cap#SREGS2}, else
 * {@code kvm_sregs}), the XSAVE area sized by {@link Cap#XSAVE2} (the legacy {@code kvm_fpu} on a host without
 * XSAVE) and the XCRs, the MSRs of KVM's save list, the local APIC, pending events, the MP state, the debug
 * registers and the TSC rate. Immutable; the structs are kept in the host's uapi layout, which is kernel ABI.
 *
 * <h2>Capture</h2>
 * {@link #capture(Vcpu)} reads a vCPU that is not inside {@code KVM_RUN} (any thread may call it; pause the
 * vCPUs first). It first completes the instruction of a pending port I/O or MMIO exit with one {@code KVM_RUN}
 * that has {@code immediate_exit} set, as KVM's API asks before reading state (the OUT of a ucall is otherwise
 * executed again after a restore on kvm_amd). The MSRs are those of {@code KVM_GET_MSR_INDEX_LIST} (KVM's {@code msrs_to_save} and
 * {@code emulated_msrs}, arch/x86/kvm/x86.c) that this vCPU's {@code KVM_GET_MSRS} reads: the list names MSRs of
 * features the guest's CPUID may lack, and those the kernel refuses to read are left out, as QEMU and Firecracker
 * do; IA32_TSC (0x10) is among them, so the guest's TSC travels as a value.
 *
 * <h2>What is not saved, and refused at capture when the guest uses it</h2>
 * <ul>
 * <li>nested virtualization ({@code KVM_GET_NESTED_STATE}): refused when CR4.VMXE or EFER.SVME is set;</li>
 * <li>XCR0 on a host without {@link Cap#XCRS}: refused when CR4.OSXSAVE is set;</li>
 * <li>a vCPU inside {@code KVM_RUN}: refused (its state would be torn);</li>
 * <li>Hyper-V (SynIC, timers), Xen and confidential-VM (SEV, TDX) state, guest debugging
 * ({@code KVM_SET_GUEST_DEBUG}), MSR filters, the PMU event filter and the MCE banks' setup
 * ({@code KVM_X86_SETUP_MCE}): panavirt enables none of them, and a VMM that does must save them itself.</li>
 * </ul>
 *
 * <h2>Restore order</h2>
 * {@link #restore(Vcpu)} writes the state in this order, each step for the reason given (arch/x86/kvm/x86.c
 * unless named):
 * <ol>
 * <li>CPUID ({@code kvm_vcpu_ioctl_set_cpuid2}): what follows is checked against it: XSAVE features
 * ({@code fpu_copy_uabi_to_guest_fpstate}), XCR0 ({@code __kvm_set_xcr}) and feature MSRs
 * ({@code kvm_set_msr_common}). A vCPU that ran accepts only the CPUID it has.</li>
 * <li>TSC rate, when it differs ({@code kvm_set_tsc_khz}): before IA32_TSC, whose host-initiated write computes the
 * TSC offset with the rate's scaling ratio ({@code kvm_synchronize_tsc}).</li>
 * <li>general-purpose registers, then special registers ({@code __set_sregs_common}): these set EFER, the control
 * registers and the APIC base ({@code kvm_apic_set_base}), which the later steps depend on.</li>
 * <li>XSAVE (or FPU), then XCRs.</li>
 * <li>local APIC ({@code kvm_apic_set_state}, arch/x86/kvm/lapic.c): after the special registers, because it
 * reads the register page in the mode (xAPIC or x2APIC) the APIC base selected ({@code kvm_apic_state_fixup}).</li>
 * <li>MSRs, IA32_TSC first and IA32_TSC_DEADLINE last (a refused write is skipped only when the vCPU already
 * holds the saved value): the deadline is taken only when the LAPIC timer is in
 * TSC-deadline mode, so after the LAPIC, and it arms a host timer from the guest TSC at the time of the write, so
 * after IA32_TSC (arch/x86/kvm/lapic.c, {@code kvm_set_lapic_tscdeadline_msr}, {@code start_sw_tscdeadline}).</li>
 * <li>debug registers ({@code kvm_vcpu_ioctl_x86_set_debugregs}).</li>
 * <li>vCPU events ({@code kvm_vcpu_ioctl_x86_set_vcpu_events}): the injected and pending exception, interrupt,
 * NMI and SMM state get the last word after the special registers and LAPIC steps have re-evaluated events.</li>
 * <li>MP state last ({@code kvm_arch_vcpu_ioctl_set_mpstate}): it refuses INIT_RECEIVED and SIPI_RECEIVED while
 * INIT is blocked, which depends on the SMM state the events set, and needs the in-kernel LAPIC.</li>
 * </ol>
 *
 * <h2>Encoding</h2>
 * {@link #encode()} gives the record {@code "PVX86CPU"} version {@value #VERSION} (framing in the package
 * description), sections: {@code VCID} the vCPU id (u32); {@code CPID} CPUID (u32 count, then per entry function,
 * index, flags, eax, ebx, ecx, edx as u32); {@code REGS} {@code kvm_regs}; {@code SRG1} {@code kvm_sregs} or
 * {@code SRG2} {@code kvm_sregs2}; {@code XSAV} the XSAVE area (4096 bytes or more) or {@code FPU_}
 * {@code kvm_fpu}; {@code XCRS} {@code kvm_xcrs} (optional); {@code MSRS} u32 count, then per MSR u32 index and
 * u64 value; {@code LAPC} {@code kvm_lapic_state} (only with an in-kernel LAPIC); {@code EVNT}
 * {@code kvm_vcpu_events}; {@code MPST} u32; {@code DBGR} {@code kvm_debugregs} (optional); {@code TSCK} the TSC
 * rate in kHz, u64 (optional). {@link #decode(byte[])} refuses anything else with a {@link StateFormatException}.
 */
public final class X86VcpuState {
    /** The record's magic. */
    public static final String MAGIC = "PVX86CPU";
    /** The only version this class writes and reads. */
    public static final int VERSION = 1;
    /** The most CPUID entries and MSRs a record may hold (far above KVM's 256 CPUID entries and save list). */
    public static final int MAX_ENTRIES = 4096;
    /** The largest XSAVE area a record may hold: 1 MiB, far above any XSAVE layout. */
    public static final int MAX_XSAVE = 1 << 20;

    static final int VCID = Sections.tag("VCID"), CPID = Sections.tag("CPID"), REGS = Sections.tag("REGS"),
            SRG1 = Sections.tag("SRG1"), SRG2 = Sections.tag("SRG2"), XSAV = Sections.tag("XSAV"),
            FPU = Sections.tag("FPU_"), XCRS = Sections.tag("XCRS"), MSRS = Sections.tag("MSRS"),
            LAPC = Sections.tag("LAPC"), EVNT = Sections.tag("EVNT"), MPST = Sections.tag("MPST"),
            DBGR = Sections.tag("DBGR"), TSCK = Sections.tag("TSCK");
    private static final byte[] MAGIC_BYTES = MAGIC.getBytes(StandardCharsets.US_ASCII);

    static final int MSR_IA32_TSC = 0x10, MSR_IA32_TSC_DEADLINE = 0x6e0;
    private static final long CR4_VMXE = 1L << 13, CR4_OSXSAVE = 1L << 18, EFER_SVME = 1L << 12;

    private final int vcpuId;
    private final Cpuid cpuid;
    private final MemorySegment regs;
    private final MemorySegment sregs;
    private final boolean sregs2;
    private final MemorySegment xsave;
    private final MemorySegment fpu;
    private final MemorySegment xcrs;
    private final int[] msrIndices;
    private final long[] msrValues;
    private final MemorySegment lapic;
    private final MemorySegment events;
    private final int mpState;
    private final MemorySegment debugRegs;
    private final long tscKhz;

    private X86VcpuState(int vcpuId, Cpuid cpuid, MemorySegment regs, MemorySegment sregs, boolean sregs2,
            MemorySegment xsave, MemorySegment fpu, MemorySegment xcrs, int[] msrIndices, long[] msrValues,
            MemorySegment lapic, MemorySegment events, int mpState, MemorySegment debugRegs, long tscKhz) {
        this.vcpuId = vcpuId;
        this.cpuid = cpuid;
        this.regs = regs;
        this.sregs = sregs;
        this.sregs2 = sregs2;
        this.xsave = xsave;
        this.fpu = fpu;
        this.xcrs = xcrs;
        this.msrIndices = msrIndices;
        this.msrValues = msrValues;
        this.lapic = lapic;
        this.events = events;
        this.mpState = mpState;
        this.debugRegs = debugRegs;
        this.tscKhz = tscKhz;
    }

    // ---- capture ----

    /**
     * Reads the whole state of {@code vcpu} (see the class description for what and how).
     *
     * @throws UnsavedStateException when the vCPU is inside {@code KVM_RUN} or the guest uses state the record
     *         does not hold (nested virtualization; XSAVE enabled on a host without {@link Cap#XCRS})
     * @throws ErrnoException naming the ioctl that failed
     * @throws IllegalStateException after the vCPU closed
     */
    public static X86VcpuState capture(Vcpu vcpu) throws ErrnoException {
        if (vcpu.isRunning()) {
            throw new UnsavedStateException("vcpu " + vcpu.id() + " is inside KVM_RUN: pause it before a capture");
        }
        completePendingExit(vcpu);
        X86Vcpu x = X86Vcpu.of(vcpu);
        Vm vm = vcpu.vm();
        Arena arena = Arena.ofAuto();
        Cpuid cpuid = x.getCpuid();
        MemorySegment regs = copy(arena, x.getRegs());
        boolean sregs2 = vm.checkExtension(Cap.SREGS2) > 0;
        MemorySegment sregs = copy(arena, sregs2 ? x.getSregs2() : x.getSregs());
        long cr4 = sregs2 ? kvm_sregs2.cr4(sregs) : kvm_sregs.cr4(sregs);
        long efer = sregs2 ? kvm_sregs2.efer(sregs) : kvm_sregs.efer(sregs);
        if ((cr4 & CR4_VMXE) != 0 || (efer & EFER_SVME) != 0) {
            throw new UnsavedStateException("vcpu " + vcpu.id() + " has nested virtualization enabled ("
                    + ((cr4 & CR4_VMXE) != 0 ? "CR4.VMXE" : "EFER.SVME")
                    + "): its nested state (KVM_GET_NESTED_STATE) is not saved");
        }
        MemorySegment xsave = null, fpu = null;
        int xsaveSize = x.xsaveSize();
        if (xsaveSize > 0) {
            xsave = arena.allocate(xsaveSize, 64);
            x.getXsave(xsave);
        } else {
            fpu = copy(arena, x.getFpu());
        }
        MemorySegment xcrs = null;
        if (vm.checkExtension(Cap.XCRS) > 0) {
            xcrs = copy(arena, x.getXcrs());
        } else if ((cr4 & CR4_OSXSAVE) != 0) {
            throw new UnsavedStateException("vcpu " + vcpu.id() + " has CR4.OSXSAVE set but the host KVM lacks"
                    + " KVM_CAP_XCRS: XCR0 cannot be saved");
        }
        int[] save = savedMsrs(x, X86Kvm.of(vm.kvm()).msrIndexList());
        long[] values = x.getMsrs(save);
        MemorySegment lapic = vm.hasKernelLapic() ? copy(arena, x.getLapic()) : null;
        MemorySegment events = copy(arena, x.getVcpuEvents());
        int mp = vcpu.getMpState();
        MemorySegment debug = vm.checkExtension(Cap.DEBUGREGS) > 0 ? copy(arena, x.getDebugRegs()) : null;
        long khz = vm.checkExtension(Cap.GET_TSC_KHZ) > 0 ? x.getTscKhz() : 0;
        return new X86VcpuState(vcpu.id(), cpuid, regs, sregs, sregs2, xsave, fpu, xcrs, save, values, lapic,
                events, mp, debug, khz);
    }

    /**
     * Finishes the instruction of a port I/O or MMIO exit, which KVM completes only on the next {@code KVM_RUN}:
     * until then RIP still points at an OUT and an IN's value is not in its register (arch/x86/kvm/x86.c,
     * {@code kvm_arch_vcpu_ioctl_run} runs {@code complete_userspace_io}, e.g. {@code complete_fast_pio_out}, before
     * it honours {@code immediate_exit}; Documentation/virt/kvm/api.rst, {@code KVM_RUN}). One {@code KVM_RUN} with
     * {@code immediate_exit} set does that and enters no guest code; after a kick it changes nothing.
     */
    private static void completePendingExit(Vcpu vcpu) throws ErrnoException {
        vcpu.setImmediateExit(true);
        VcpuExit e = vcpu.run();
        if (!(e instanceof VcpuExit.Interrupted)) {
            vcpu.setImmediateExit(false);
            throw new UnsavedStateException("vcpu " + vcpu.id() + " stopped inside an instruction KVM continues in"
                    + " user space (" + e + "): let it run on to a kick before a capture");
        }
    }

    /**
     * The MSRs of {@code list} this vCPU's {@code KVM_GET_MSRS} reads: the kernel stops at the first it refuses
     * ({@code __msr_io}), which is dropped before asking again for the rest.
     */
    private static int[] savedMsrs(X86Vcpu x, int[] list) throws ErrnoException {
        List<Integer> kept = new ArrayList<>();
        int from = 0;
        long[] scratch = new long[255];
        while (from < list.length) {
            int[] chunk = Arrays.copyOfRange(list, from, Math.min(list.length, from + scratch.length));
            int n = x.readMsrs(chunk, scratch);
            for (int i = 0; i < n; i++) {
                kept.add(chunk[i]);
            }
            from += n < chunk.length ? n + 1 : n;
        }
        return kept.stream().mapToInt(Integer::intValue).toArray();
    }

    private static MemorySegment copy(Arena arena, MemorySegment struct) {
        return arena.allocate(struct.byteSize(), 16).copyFrom(struct);
    }

    // ---- restore ----

    /**
     * Writes this state into {@code vcpu}, a vCPU of a VM built like the captured one (the same in-kernel
     * irqchip or none, memory in place), in the order the class description gives and explains. The vCPU id may
     * differ only if the guest does not care (its APIC ID comes from the saved LAPIC and CPUID).
     *
     * @throws ErrnoException naming the ioctl the destination refused (for example {@code KVM_SET_XSAVE} on a host
     *         without XSAVE, or {@code KVM_SET_MSRS} naming the first MSR refused)
     * @throws UnsavedStateException when the state holds a LAPIC and the destination VM has none in the kernel,
     *         or the other way round, or the vCPU is inside {@code KVM_RUN}
     * @throws IllegalStateException after the vCPU closed
     */
    public void restore(Vcpu vcpu) throws ErrnoException {
        if (vcpu.isRunning()) {
            throw new UnsavedStateException("vcpu " + vcpu.id() + " is inside KVM_RUN: a restore needs it stopped");
        }
        if ((lapic != null) != vcpu.vm().hasKernelLapic()) {
            throw new UnsavedStateException("vcpu " + vcpuId + " was saved " + (lapic != null ? "with" : "without")
                    + " an in-kernel LAPIC, the destination VM has " + (lapic != null ? "none" : "one"));
        }
        X86Vcpu x = X86Vcpu.of(vcpu);
        x.setCpuid(cpuid);
        if (tscKhz != 0 && vcpu.vm().checkExtension(Cap.GET_TSC_KHZ) > 0 && x.getTscKhz() != tscKhz) {
            x.setTscKhz(tscKhz);
        }
        x.setRegs(regs);
        if (sregs2) {
            x.setSregs2(sregs);
        } else {
            x.setSregs(sregs);
        }
        if (xsave != null) {
            x.setXsave(xsave);
        } else {
            x.setFpu(fpu);
        }
        if (xcrs != null) {
            x.setXcrs(xcrs);
        }
        if (lapic != null) {
            x.setLapic(lapic);
        }
        setMsrsInOrder(x);
        if (debugRegs != null) {
            x.setDebugRegs(debugRegs);
        }
        x.setVcpuEvents(events);
        vcpu.setMpState(mpState);
    }

    private void setMsrsInOrder(X86Vcpu x) throws ErrnoException {
        List<Integer> order = new ArrayList<>();
        int deadline = -1;
        for (int i = 0; i < msrIndices.length; i++) {
            if (msrIndices[i] == MSR_IA32_TSC) {
                order.addFirst(i);
            } else if (msrIndices[i] == MSR_IA32_TSC_DEADLINE) {
                deadline = i;
            } else {
                order.add(i);
            }
        }
        if (deadline >= 0) {
            order.add(deadline);
        }
        int[] idx = new int[order.size()];
        long[] val = new long[order.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = msrIndices[order.get(i)];
            val[i] = msrValues[order.get(i)];
        }
        int from = 0;
        while (from < idx.length) {
            int to = Math.min(idx.length, from + 255);
            int n = x.writeMsrs(Arrays.copyOfRange(idx, from, to), Arrays.copyOfRange(val, from, to));
            from += n;
            if (from < to) {
                skipUnchanged(x, idx[from], val[from]);
                from++;
            }
        }
    }

    /**
     * A refused MSR write loses nothing when the vCPU already holds the value: KVM refuses some host writes of
     * an MSR's reset value in a VM without the feature behind it (MSR_KVM_ASYNC_PF_INT needs an in-kernel LAPIC
     * even to write 0: arch/x86/kvm/x86.c, {@code kvm_pv_enable_async_pf_int}). Any other refusal is an error.
     */
    private void skipUnchanged(X86Vcpu x, int index, long value) throws ErrnoException {
        long[] current = new long[1];
        if (x.readMsrs(new int[] {index}, current) == 1 && current[0] == value) {
            return;
        }
        throw new ErrnoException("KVM_SET_MSRS", Errno.EINVAL, kvm_h.KVM_SET_MSRS(), "restoring vcpu " + vcpuId
                + ": the destination refused MSR 0x" + Integer.toHexString(index) + " = 0x" + Long.toHexString(value));
    }

    // ---- what the record holds ----

    /** {@return the id of the vCPU this was captured from} */
    public int vcpuId() {
        return vcpuId;
    }

    /** {@return the vCPU's CPUID} */
    public Cpuid cpuid() {
        return cpuid;
    }

    /** {@return {@code kvm_regs}, read-only: read it with the generated accessors, e.g. {@code kvm_regs.rip}} */
    public MemorySegment regs() {
        return regs.asReadOnly();
    }

    /** {@return {@code kvm_sregs2} when {@link #hasSregs2()}, else {@code kvm_sregs}; read-only} */
    public MemorySegment sregs() {
        return sregs.asReadOnly();
    }

    /** {@return whether {@link #sregs()} is a {@code kvm_sregs2}} */
    public boolean hasSregs2() {
        return sregs2;
    }

    /** {@return the XSAVE area, read-only, or null when the host had no XSAVE and {@link #fpu()} holds the FPU} */
    public MemorySegment xsave() {
        return xsave == null ? null : xsave.asReadOnly();
    }

    /** {@return {@code kvm_fpu}, read-only, or null when {@link #xsave()} holds the FPU state} */
    public MemorySegment fpu() {
        return fpu == null ? null : fpu.asReadOnly();
    }

    /** {@return {@code kvm_xcrs}, read-only, or null on a host without {@link Cap#XCRS}} */
    public MemorySegment xcrs() {
        return xcrs == null ? null : xcrs.asReadOnly();
    }

    /** {@return the saved MSR indices, in the order of KVM's save list} */
    public int[] msrIndices() {
        return msrIndices.clone();
    }

    /** {@return the saved MSR values, one per {@link #msrIndices()}} */
    public long[] msrValues() {
        return msrValues.clone();
    }

    /**
     * {@return the saved value of MSR {@code index}}
     *
     * @throws IllegalArgumentException when the record holds no such MSR
     */
    public long msr(int index) {
        for (int i = 0; i < msrIndices.length; i++) {
            if (msrIndices[i] == index) {
                return msrValues[i];
            }
        }
        throw new IllegalArgumentException("MSR 0x" + Integer.toHexString(index) + " is not in the record");
    }

    /** {@return {@code kvm_lapic_state}, read-only, or null when the LAPIC was not the kernel's} */
    public MemorySegment lapic() {
        return lapic == null ? null : lapic.asReadOnly();
    }

    /** {@return {@code kvm_vcpu_events}, read-only} */
    public MemorySegment events() {
        return events.asReadOnly();
    }

    /** {@return the MP state ({@code KVM_MP_STATE_*})} */
    public int mpState() {
        return mpState;
    }

    /** {@return {@code kvm_debugregs}, read-only, or null on a host without {@link Cap#DEBUGREGS}} */
    public MemorySegment debugRegs() {
        return debugRegs == null ? null : debugRegs.asReadOnly();
    }

    /** {@return the guest's TSC rate in kHz, 0 when the host could not say} */
    public long tscKhz() {
        return tscKhz;
    }

    // ---- encoding ----

    /** {@return the record's bytes (format in the class description)} */
    public byte[] encode() {
        Sections.Writer w = new Sections.Writer().putInt(VCID, vcpuId);
        ByteBuffer c = Sections.le(new byte[4 + 28 * cpuid.entries().size()]).putInt(cpuid.entries().size());
        for (Cpuid.Entry e : cpuid.entries()) {
            c.putInt(e.function()).putInt(e.index()).putInt(e.flags()).putInt(e.eax()).putInt(e.ebx())
                    .putInt(e.ecx()).putInt(e.edx());
        }
        w.put(CPID, c.array()).put(REGS, regs).put(sregs2 ? SRG2 : SRG1, sregs).put(XSAV, xsave).put(FPU, fpu)
                .put(XCRS, xcrs);
        ByteBuffer m = Sections.le(new byte[4 + 12 * msrIndices.length]).putInt(msrIndices.length);
        for (int i = 0; i < msrIndices.length; i++) {
            m.putInt(msrIndices[i]).putLong(msrValues[i]);
        }
        w.put(MSRS, m.array()).put(LAPC, lapic).put(EVNT, events).putInt(MPST, mpState).put(DBGR, debugRegs);
        if (tscKhz != 0) {
            w.putLong(TSCK, tscKhz);
        }
        return w.finish(MAGIC_BYTES, VERSION);
    }

    /**
     * Reads a record {@link #encode()} wrote.
     *
     * @throws StateFormatException for anything else: wrong magic or version, unknown, repeated or missing
     *         sections, a section of the wrong size, counts beyond {@link #MAX_ENTRIES}, truncated or trailing bytes
     */
    public static X86VcpuState decode(byte[] bytes) {
        String what = "vCPU state record";
        Map<Integer, byte[]> s = Sections.read(bytes, MAGIC_BYTES, VERSION, what,
                VCID, CPID, REGS, SRG1, SRG2, XSAV, FPU, XCRS, MSRS, LAPC, EVNT, MPST, DBGR, TSCK);
        Arena arena = Arena.ofAuto();
        int id = Sections.le(Sections.exact(s, VCID, 4, what)).getInt();
        Cpuid cpuid = decodeCpuid(s.get(CPID), what);
        MemorySegment regs = native_(arena, Sections.exact(s, REGS, kvm_regs.sizeof(), what));
        if (s.containsKey(SRG1) == s.containsKey(SRG2)) {
            throw new StateFormatException(what + ": needs exactly one of sections 'SRG1' and 'SRG2'");
        }
        boolean sregs2 = s.containsKey(SRG2);
        MemorySegment sregs = native_(arena, sregs2 ? Sections.exact(s, SRG2, kvm_sregs2.sizeof(), what)
                : Sections.exact(s, SRG1, kvm_sregs.sizeof(), what));
        if (s.containsKey(XSAV) == s.containsKey(FPU)) {
            throw new StateFormatException(what + ": needs exactly one of sections 'XSAV' and 'FPU_'");
        }
        MemorySegment xsave = null, fpu = null;
        if (s.containsKey(XSAV)) {
            byte[] b = s.get(XSAV);
            if (b.length < kvm_xsave.sizeof() || b.length > MAX_XSAVE) {
                throw new StateFormatException(what + ": section 'XSAV' has " + b.length + " bytes, expected "
                        + kvm_xsave.sizeof() + " to " + MAX_XSAVE);
            }
            xsave = native_(arena, b);
        } else {
            fpu = native_(arena, Sections.exact(s, FPU, kvm_fpu.sizeof(), what));
        }
        MemorySegment xcrs = nativeOrNull(arena, Sections.optional(s, XCRS, kvm_xcrs.sizeof(), what));
        byte[] msrBytes = s.get(MSRS);
        if (msrBytes == null || msrBytes.length < 4) {
            throw new StateFormatException(what + ": section 'MSRS' is missing or shorter than its count");
        }
        ByteBuffer m = Sections.le(msrBytes);
        long n = Integer.toUnsignedLong(m.getInt());
        if (n > MAX_ENTRIES || msrBytes.length != 4 + 12 * n) {
            throw new StateFormatException(what + ": section 'MSRS' claims " + n + " MSRs in " + msrBytes.length
                    + " bytes (at most " + MAX_ENTRIES + ", 12 bytes each after a 4-byte count)");
        }
        int[] idx = new int[(int) n];
        long[] val = new long[(int) n];
        for (int i = 0; i < n; i++) {
            idx[i] = m.getInt();
            val[i] = m.getLong();
        }
        MemorySegment lapic = nativeOrNull(arena, Sections.optional(s, LAPC, kvm_lapic_state.sizeof(), what));
        MemorySegment events = native_(arena, Sections.exact(s, EVNT, kvm_vcpu_events.sizeof(), what));
        int mp = Sections.le(Sections.exact(s, MPST, 4, what)).getInt();
        MemorySegment debug = nativeOrNull(arena, Sections.optional(s, DBGR, kvm_debugregs.sizeof(), what));
        byte[] tsc = Sections.optional(s, TSCK, 8, what);
        long khz = tsc == null ? 0 : Sections.le(tsc).getLong();
        return new X86VcpuState(id, cpuid, regs, sregs, sregs2, xsave, fpu, xcrs, idx, val, lapic, events, mp,
                debug, khz);
    }

    private static Cpuid decodeCpuid(byte[] b, String what) {
        if (b == null || b.length < 4) {
            throw new StateFormatException(what + ": section 'CPID' is missing or shorter than its count");
        }
        ByteBuffer c = Sections.le(b);
        long n = Integer.toUnsignedLong(c.getInt());
        if (n > MAX_ENTRIES || b.length != 4 + 28 * n) {
            throw new StateFormatException(what + ": section 'CPID' claims " + n + " entries in " + b.length
                    + " bytes (at most " + MAX_ENTRIES + ", 28 bytes each after a 4-byte count)");
        }
        List<Cpuid.Entry> entries = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            entries.add(new Cpuid.Entry(c.getInt(), c.getInt(), c.getInt(), c.getInt(), c.getInt(), c.getInt(),
                    c.getInt()));
        }
        return new Cpuid(entries);
    }

    static MemorySegment native_(Arena arena, byte[] b) {
        MemorySegment s = arena.allocate(b.length, 64);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return s;
    }

    static MemorySegment nativeOrNull(Arena arena, byte[] b) {
        return b == null ? null : native_(arena, b);
    }

    /** Two states are equal when their encodings are: the same sections with the same bytes. */
    @Override
    public boolean equals(Object o) {
        return o instanceof X86VcpuState other && Arrays.equals(encode(), other.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encode());
    }

    @Override
    public String toString() {
        return "X86VcpuState[vcpu " + vcpuId + ", rip 0x" + Long.toHexString(kvm_regs.rip(regs)) + ", "
                + msrIndices.length + " MSRs, " + (xsave != null ? "XSAVE " + xsave.byteSize() + " bytes" : "FPU")
                + (lapic != null ? ", LAPIC" : "") + ", mp state " + mpState + "]";
    }
}
