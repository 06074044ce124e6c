package dev.panavirt.models.loongarch;

import java.util.Arrays;

/**
 * The parts of a LoongArch VM that its interrupt-controller models consult: which vCPUs exist, the physical CPU
 * id (the vCPU's {@code CPUID} CSR) each one carries, and which irqchips were created in it.
 *
 * <p>The kernel routes EIOINTC vectors by physical CPU id ({@code kvm_get_vcpu_by_cpuid}) and keeps per-vCPU
 * state by {@code vcpu_id}; this class is the map between the two. A vCPU whose CPU id was never set cannot be
 * found by CPU id. Immutable apart from the irqchip bookkeeping.
 */
public final class LoongArchVm {

    /** {@code KVM_MAX_VCPUS} on LoongArch. */
    public static final int MAX_VCPUS = 256;
    /** {@code KVM_MAX_PHYID}: physical CPU ids are 0..255. */
    public static final int MAX_PHYID = 256;
    /** A vCPU without a CPU id. */
    public static final int NO_CPUID = -1;

    private final int vcpus;
    private final int[] cpuidOf;
    private final int[] vcpuOfCpuid;
    private boolean hasEiointc;

    /**
     * A VM with {@code vcpus} vCPUs whose CPU ids equal their vcpu ids (what QEMU and the guest firmware set up).
     *
     * @param vcpus 0..256 (0: the irqchip exists before any vCPU, as when a VMM creates it first)
     */
    public LoongArchVm(int vcpus) {
        this(identity(vcpus));
    }

    /**
     * A VM whose vCPU {@code i} carries physical CPU id {@code cpuids[i]}, or {@link #NO_CPUID}.
     *
     * @throws IllegalArgumentException for more than 256 vCPUs, an id outside 0..255, or a duplicate id
     */
    public LoongArchVm(int[] cpuids) {
        if (cpuids.length > MAX_VCPUS) {
            throw new IllegalArgumentException("a LoongArch VM has 0.." + MAX_VCPUS + " vCPUs: " + cpuids.length);
        }
        this.vcpus = cpuids.length;
        this.cpuidOf = cpuids.clone();
        this.vcpuOfCpuid = new int[MAX_PHYID];
        Arrays.fill(vcpuOfCpuid, -1);
        for (int v = 0; v < cpuids.length; v++) {
            int c = cpuids[v];
            if (c == NO_CPUID) {
                continue;
            }
            if (c < 0 || c >= MAX_PHYID) {
                throw new IllegalArgumentException("CPU id of vCPU " + v + " must be 0.." + (MAX_PHYID - 1) + ": " + c);
            }
            if (vcpuOfCpuid[c] >= 0) {
                throw new IllegalArgumentException("CPU id " + c + " given to vCPUs " + vcpuOfCpuid[c] + " and " + v);
            }
            vcpuOfCpuid[c] = v;
        }
    }

    private static int[] identity(int vcpus) {
        if (vcpus < 0 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("a LoongArch VM has 0.." + MAX_VCPUS + " vCPUs: " + vcpus);
        }
        int[] ids = new int[vcpus];
        Arrays.setAll(ids, i -> i);
        return ids;
    }

    /** Number of vCPUs (vcpu ids 0..n-1). */
    public int vcpuCount() {
        return vcpus;
    }

    /** Whether a vCPU with this vcpu id exists ({@code kvm_get_vcpu_by_id} finds it). */
    public boolean hasVcpu(int vcpuId) {
        return vcpuId >= 0 && vcpuId < vcpus;
    }

    /** The physical CPU id of vCPU {@code vcpuId}, or {@link #NO_CPUID}. */
    public int cpuidOf(int vcpuId) {
        return cpuidOf[vcpuId];
    }

    /** {@code kvm_get_vcpu_by_cpuid}: the vcpu id carrying physical CPU id {@code cpuid}, or -1 when none does. */
    public int vcpuByCpuid(int cpuid) {
        if (cpuid < 0 || cpuid >= MAX_PHYID) {
            return -1;
        }
        return vcpuOfCpuid[cpuid];
    }

    /** Records the VM's EIOINTC; false when it already has one ({@code kvm->arch.eiointc} set). */
    synchronized boolean claimEiointc() {
        if (hasEiointc) {
            return false;
        }
        hasEiointc = true;
        return true;
    }

    /** Whether an EIOINTC was created in this VM. */
    public synchronized boolean hasEiointc() {
        return hasEiointc;
    }
}
