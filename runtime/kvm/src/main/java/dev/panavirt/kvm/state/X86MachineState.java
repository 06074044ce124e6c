package dev.panavirt.kvm.state;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.Vm;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A whole x86 VM's KVM state: the VM-wide record and one record per vCPU, in vCPU order. Guest memory and the
 * VMM's device models are not in it; a snapshot or a migration carries them beside it.
 *
 * <p>{@link #restore(Vm, List)} takes the steps in the order {@link X86VmState} and {@link X86VcpuState} explain:
 * interrupt controllers and PIT, then each vCPU, then the kvmclock.
 *
 * <p>Encoding: the record {@code "PVX86MAC"} version {@value #VERSION}, sections {@code VMST} (an
 * {@link X86VmState} record) and {@code VC} followed by the vCPU's position as two bytes (an {@link X86VcpuState}
 * record), at most {@value #MAX_VCPUS} of them, numbered from 0 without gaps.
 */
public record X86MachineState(X86VmState vm, List<X86VcpuState> vcpus) {
    /** The record's magic. */
    public static final String MAGIC = "PVX86MAC";
    /** The only version this class writes and reads. */
    public static final int VERSION = 1;
    /** The most vCPUs a record holds. */
    public static final int MAX_VCPUS = Sections.MAX_SECTIONS - 1;

    static final int VMST = Sections.tag("VMST");
    private static final byte[] MAGIC_BYTES = MAGIC.getBytes(StandardCharsets.US_ASCII);

    /** The VM's state and at least one vCPU's, at most {@link #MAX_VCPUS}. */
    public X86MachineState {
        vcpus = List.copyOf(vcpus);
        if (vcpus.isEmpty() || vcpus.size() > MAX_VCPUS) {
            throw new IllegalArgumentException("1 to " + MAX_VCPUS + " vCPUs, not " + vcpus.size());
        }
    }

    private static int vcpuTag(int i) {
        return 'V' | 'C' << 8 | (i & 0xff) << 16 | (i >>> 8) << 24;
    }

    /**
     * Captures {@code vm} and {@code vcpus}, all of which must be outside {@code KVM_RUN} (pause them first).
     *
     * @throws UnsavedStateException as {@link X86VcpuState#capture}
     * @throws ErrnoException naming the ioctl that failed
     */
    public static X86MachineState capture(Vm vm, List<Vcpu> vcpus) throws ErrnoException {
        List<X86VcpuState> states = new ArrayList<>();
        for (Vcpu c : vcpus) {
            states.add(X86VcpuState.capture(c));
        }
        return new X86MachineState(X86VmState.capture(vm), states);
    }

    /**
     * Restores into a VM built like the captured one, with as many vCPUs, none of them running: each vCPU record
     * goes to the vCPU at the same position.
     *
     * @throws IllegalArgumentException when the vCPU counts differ
     * @throws UnsavedStateException when the destination's in-kernel devices differ from the source's
     * @throws ErrnoException naming the ioctl the destination refused
     */
    public void restore(Vm vm, List<Vcpu> destination) throws ErrnoException {
        if (destination.size() != vcpus.size()) {
            throw new IllegalArgumentException("the state has " + vcpus.size() + " vCPUs, the destination "
                    + destination.size());
        }
        this.vm.restoreDevices(vm);
        for (int i = 0; i < vcpus.size(); i++) {
            vcpus.get(i).restore(destination.get(i));
        }
        this.vm.restoreClock(vm);
    }

    /** {@return the record's bytes (format in the class description)} */
    public byte[] encode() {
        Sections.Writer w = new Sections.Writer().put(VMST, vm.encode());
        for (int i = 0; i < vcpus.size(); i++) {
            w.put(vcpuTag(i), vcpus.get(i).encode());
        }
        return w.finish(MAGIC_BYTES, VERSION);
    }

    /**
     * Reads a record {@link #encode()} wrote.
     *
     * @throws StateFormatException for anything else, including the records inside it
     */
    public static X86MachineState decode(byte[] bytes) {
        String what = "machine state record";
        int[] known = new int[MAX_VCPUS + 1];
        known[0] = VMST;
        for (int i = 0; i < MAX_VCPUS; i++) {
            known[i + 1] = vcpuTag(i);
        }
        Map<Integer, byte[]> s = Sections.read(bytes, MAGIC_BYTES, VERSION, what, known);
        byte[] vmBytes = s.get(VMST);
        if (vmBytes == null) {
            throw new StateFormatException(what + ": section 'VMST' is missing");
        }
        List<X86VcpuState> cpus = new ArrayList<>();
        for (int i = 0; s.containsKey(vcpuTag(i)); i++) {
            cpus.add(X86VcpuState.decode(s.get(vcpuTag(i))));
        }
        if (cpus.isEmpty() || cpus.size() + 1 != s.size()) {
            throw new StateFormatException(what + ": vCPU sections must be numbered from 0 without gaps ("
                    + (s.size() - 1) + " given, " + cpus.size() + " in sequence)");
        }
        return new X86MachineState(X86VmState.decode(vmBytes), cpus);
    }

    /** Two states are equal when their encodings are. */
    @Override
    public boolean equals(Object o) {
        return o instanceof X86MachineState other && Arrays.equals(encode(), other.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encode());
    }
}
