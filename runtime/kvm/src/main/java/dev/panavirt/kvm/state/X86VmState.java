package dev.panavirt.kvm.state;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_irqchip;
import dev.panavirt.bindings.kvm.x86_64.kvm_pit_state2;
import dev.panavirt.kvm.Vm;
import dev.panavirt.kvm.X86Vm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * The VM-wide x86 state KVM keeps: the kvmclock ({@code KVM_GET/SET_CLOCK}), the in-kernel irqchip's PIC master,
 * PIC slave and IOAPIC ({@code KVM_GET/SET_IRQCHIP}) when the VM has it, and the in-kernel PIT
 * ({@code KVM_GET/SET_PIT2}) when the VM has one. Immutable; the structs are kept in the uapi layout.
 *
 * <p>Not saved: the GSI routing, irqfds and ioeventfds (the VMM sets them up again as it builds the VM), the
 * identity map and TSS addresses, and Xen or Hyper-V VM state, none of which panavirt's VMs use.
 *
 * <p>Restore order (the steps {@link X86MachineState#restore} takes): {@link #restoreDevices(Vm)} before the
 * vCPUs, {@link #restoreClock(Vm)} after them: {@code kvm_vm_ioctl_set_clock} (arch/x86/kvm/x86.c) computes the
 * kvmclock offset against the master clock, whose use depends on the vCPUs' TSCs being synchronized, which their
 * IA32_TSC writes decide ({@code kvm_synchronize_tsc}, {@code pvclock_update_vm_gtod_copy}).
 *
 * <p>Encoding: the record {@code "PVX86VM_"} version {@value #VERSION}, sections {@code CLCK} the kvmclock in ns
 * (u64); {@code PICM}, {@code PICS}, {@code IOAP} one {@code kvm_irqchip} each (all three or none); {@code PIT2}
 * {@code kvm_pit_state2} (optional).
 */
public final class X86VmState {
    /** The record's magic. */
    public static final String MAGIC = "PVX86VM_";
    /** The only version this class writes and reads. */
    public static final int VERSION = 1;

    static final int CLCK = Sections.tag("CLCK"), PICM = Sections.tag("PICM"), PICS = Sections.tag("PICS"),
            IOAP = Sections.tag("IOAP"), PIT2 = Sections.tag("PIT2");
    private static final byte[] MAGIC_BYTES = MAGIC.getBytes(StandardCharsets.US_ASCII);

    private final long clock;
    private final MemorySegment picMaster, picSlave, ioapic, pit;

    private X86VmState(long clock, MemorySegment picMaster, MemorySegment picSlave, MemorySegment ioapic,
            MemorySegment pit) {
        this.clock = clock;
        this.picMaster = picMaster;
        this.picSlave = picSlave;
        this.ioapic = ioapic;
        this.pit = pit;
    }

    /**
     * Reads the VM's state; its vCPUs should be paused, so the clock and the interrupt controllers belong to the
     * same moment as theirs.
     *
     * @throws ErrnoException naming the ioctl that failed
     * @throws IllegalStateException after the VM closed
     */
    public static X86VmState capture(Vm vm) throws ErrnoException {
        X86Vm x = X86Vm.of(vm);
        Arena arena = Arena.ofAuto();
        MemorySegment master = null, slave = null, io = null, pit = null;
        if (vm.hasKernelIrqchip()) {
            master = chip(x, arena, kvm_h.KVM_IRQCHIP_PIC_MASTER());
            slave = chip(x, arena, kvm_h.KVM_IRQCHIP_PIC_SLAVE());
            io = chip(x, arena, kvm_h.KVM_IRQCHIP_IOAPIC());
        }
        if (x.hasPit()) {
            pit = arena.allocate(kvm_pit_state2.sizeof(), 16);
            x.getPit2(pit);
        }
        return new X86VmState(x.getClock(), master, slave, io, pit);
    }

    private static MemorySegment chip(X86Vm x, Arena arena, int id) throws ErrnoException {
        MemorySegment s = arena.allocate(kvm_irqchip.sizeof(), 16);
        x.getIrqchip(id, s);
        return s;
    }

    /**
     * Writes the interrupt controllers and the PIT into {@code vm}, which must have them in the kernel exactly
     * when the captured VM did. Before the vCPUs are restored.
     *
     * @throws UnsavedStateException when the destination's in-kernel irqchip or PIT differs from the source's
     * @throws ErrnoException naming the ioctl the destination refused
     */
    public void restoreDevices(Vm vm) throws ErrnoException {
        X86Vm x = X86Vm.of(vm);
        if ((picMaster != null) != vm.hasKernelIrqchip()) {
            throw new UnsavedStateException("the state was saved " + (picMaster != null ? "with" : "without")
                    + " the in-kernel irqchip, the destination VM has " + (picMaster != null ? "none" : "one"));
        }
        if ((pit != null) != x.hasPit()) {
            throw new UnsavedStateException("the state was saved " + (pit != null ? "with" : "without")
                    + " the in-kernel PIT, the destination VM has " + (pit != null ? "none" : "one"));
        }
        if (picMaster != null) {
            x.setIrqchip(picMaster);
            x.setIrqchip(picSlave);
            x.setIrqchip(ioapic);
        }
        if (pit != null) {
            x.setPit2(pit);
        }
    }

    /**
     * Sets the kvmclock to the captured value, after the vCPUs are restored (see the class description).
     *
     * @throws ErrnoException as {@code KVM_SET_CLOCK}
     */
    public void restoreClock(Vm vm) throws ErrnoException {
        X86Vm.of(vm).setClock(clock);
    }

    /** {@return the kvmclock at capture, in ns} */
    public long clock() {
        return clock;
    }

    /** {@return the PIC master's {@code kvm_irqchip}, read-only, or null without the in-kernel irqchip} */
    public MemorySegment picMaster() {
        return picMaster == null ? null : picMaster.asReadOnly();
    }

    /** {@return the PIC slave's {@code kvm_irqchip}, read-only, or null without the in-kernel irqchip} */
    public MemorySegment picSlave() {
        return picSlave == null ? null : picSlave.asReadOnly();
    }

    /** {@return the IOAPIC's {@code kvm_irqchip}, read-only, or null without the in-kernel irqchip} */
    public MemorySegment ioapic() {
        return ioapic == null ? null : ioapic.asReadOnly();
    }

    /** {@return {@code kvm_pit_state2}, read-only, or null without the in-kernel PIT} */
    public MemorySegment pit() {
        return pit == null ? null : pit.asReadOnly();
    }

    /** {@return the record's bytes (format in the class description)} */
    public byte[] encode() {
        return new Sections.Writer().putLong(CLCK, clock).put(PICM, picMaster).put(PICS, picSlave)
                .put(IOAP, ioapic).put(PIT2, pit).finish(MAGIC_BYTES, VERSION);
    }

    /**
     * Reads a record {@link #encode()} wrote.
     *
     * @throws StateFormatException for anything else (see {@link X86VcpuState#decode})
     */
    public static X86VmState decode(byte[] bytes) {
        String what = "VM state record";
        Map<Integer, byte[]> s = Sections.read(bytes, MAGIC_BYTES, VERSION, what, CLCK, PICM, PICS, IOAP, PIT2);
        long clock = Sections.le(Sections.exact(s, CLCK, 8, what)).getLong();
        Arena arena = Arena.ofAuto();
        long chipSize = kvm_irqchip.sizeof();
        byte[] m = Sections.optional(s, PICM, chipSize, what), sl = Sections.optional(s, PICS, chipSize, what),
                io = Sections.optional(s, IOAP, chipSize, what);
        if (!(m == null && sl == null && io == null) && !(m != null && sl != null && io != null)) {
            throw new StateFormatException(what + ": sections 'PICM', 'PICS' and 'IOAP' come all three or none");
        }
        checkChip(m, kvm_h.KVM_IRQCHIP_PIC_MASTER(), "PICM", what);
        checkChip(sl, kvm_h.KVM_IRQCHIP_PIC_SLAVE(), "PICS", what);
        checkChip(io, kvm_h.KVM_IRQCHIP_IOAPIC(), "IOAP", what);
        byte[] p = Sections.optional(s, PIT2, kvm_pit_state2.sizeof(), what);
        return new X86VmState(clock, X86VcpuState.nativeOrNull(arena, m), X86VcpuState.nativeOrNull(arena, sl),
                X86VcpuState.nativeOrNull(arena, io), X86VcpuState.nativeOrNull(arena, p));
    }

    private static void checkChip(byte[] b, int id, String tag, String what) {
        if (b != null && Sections.le(b).getInt(0) != id) {
            throw new StateFormatException(what + ": section '" + tag + "' holds chip " + Sections.le(b).getInt(0)
                    + ", expected " + id);
        }
    }

    /** Two states are equal when their encodings are. */
    @Override
    public boolean equals(Object o) {
        return o instanceof X86VmState other && Arrays.equals(encode(), other.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encode());
    }

    @Override
    public String toString() {
        return "X86VmState[clock " + clock + " ns" + (picMaster != null ? ", irqchip" : "")
                + (pit != null ? ", PIT" : "") + "]";
    }
}
