package dev.panavirt.kvm;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid2;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_msr_list;
import dev.panavirt.sys.Ioctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The x86 ioctls of the system fd ({@link Kvm}): the CPUID KVM supports or emulates, and the MSRs it saves and
 * exposes. One view per {@link Kvm} ({@link #of(Kvm)}), on the same descriptor.
 */
public final class X86Kvm {
    private static final int MAX_LIST_ENTRIES = Kvm.MAX_LIST_ENTRIES;

    private final Kvm kvm;

    private X86Kvm(Kvm kvm) {
        this.kvm = kvm;
    }

    /** The x86 view of {@code kvm}: the same object on every call. */
    public static X86Kvm of(Kvm kvm) {
        synchronized (kvm) {
            if (kvm.x86 == null) {
                kvm.x86 = new X86Kvm(kvm);
            }
            return kvm.x86;
        }
    }

    /**
     * Wraps {@code KVM_GET_SUPPORTED_CPUID}: the CPUID leaves KVM can expose to a guest.
     *
     * @throws ErrnoException E2BIG if KVM had more leaves than {@code KVM_MAX_CPUID_ENTRIES}, the most it
     *         fills whatever room is offered; ENOMEM (arch/x86/kvm/cpuid.c, {@code kvm_dev_ioctl_get_cpuid})
     * @throws IllegalStateException after {@link Kvm#close}
     */
    public Cpuid supportedCpuid() throws ErrnoException {
        return cpuidList("KVM_GET_SUPPORTED_CPUID", kvm_h.KVM_GET_SUPPORTED_CPUID());
    }

    /**
     * Wraps {@code KVM_GET_EMULATED_CPUID}: CPUID features KVM emulates in software.
     *
     * @throws ErrnoException E2BIG and ENOMEM as {@link #supportedCpuid()} (arch/x86/kvm/cpuid.c,
     *         {@code kvm_dev_ioctl_get_cpuid}); the EINVAL it gives for non-zero entry padding cannot occur, as
     *         the buffer this method passes is zeroed
     * @throws IllegalStateException after {@link Kvm#close}
     */
    public Cpuid emulatedCpuid() throws ErrnoException {
        return cpuidList("KVM_GET_EMULATED_CPUID", kvm_h.KVM_GET_EMULATED_CPUID());
    }

    private Cpuid cpuidList(String name, long request) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = kvm_cpuid2.allocate(MAX_LIST_ENTRIES, arena);
            kvm_cpuid2.nent(c, MAX_LIST_ENTRIES);
            Ioctl.call(kvm.fd(), name, request, c, "room for " + MAX_LIST_ENTRIES + " entries");
            return Cpuid.fromKvmCpuid2(c);
        }
    }

    /**
     * Wraps {@code KVM_GET_MSR_INDEX_LIST}: the MSRs {@code KVM_GET/SET_MSRS} accept.
     *
     * @throws ErrnoException E2BIG only if the kernel had more than 4096 indices to report
     *         (arch/x86/kvm/x86.c, {@code kvm_arch_dev_ioctl})
     * @throws IllegalStateException after {@link Kvm#close}
     */
    public int[] msrIndexList() throws ErrnoException {
        return msrList("KVM_GET_MSR_INDEX_LIST", kvm_h.KVM_GET_MSR_INDEX_LIST());
    }

    /**
     * Wraps {@code KVM_GET_MSR_FEATURE_INDEX_LIST}: the feature MSRs readable on the system fd.
     *
     * @throws ErrnoException EINVAL on kernels without the ioctl ({@link Cap#GET_MSR_FEATURES} absent): x86
     *         answers unknown system ioctls so; E2BIG only if the kernel had more than 4096 indices to report
     *         (arch/x86/kvm/x86.c, {@code kvm_arch_dev_ioctl})
     * @throws IllegalStateException after {@link Kvm#close}
     */
    public int[] msrFeatureIndexList() throws ErrnoException {
        return msrList("KVM_GET_MSR_FEATURE_INDEX_LIST", kvm_h.KVM_GET_MSR_FEATURE_INDEX_LIST());
    }

    private int[] msrList(String name, long request) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = kvm_msr_list.allocate(MAX_LIST_ENTRIES, arena);
            kvm_msr_list.nmsrs(l, MAX_LIST_ENTRIES);
            Ioctl.call(kvm.fd(), name, request, l, "room for " + MAX_LIST_ENTRIES + " indices");
            int n = kvm_msr_list.nmsrs(l);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = kvm_msr_list.indices(l, i);
            }
            return out;
        }
    }
}
