package dev.panavirt.testsupport;

import dev.panavirt.kvm.Cpuid;
import dev.panavirt.kvm.KvmFlavour;

/**
 * Results that legitimately differ between the KVM flavours ({@link KvmFlavour}), each stated with
 * the kernel rule behind it, so a test checks every flavour exactly instead of accepting either.
 */
public final class FlavourRules {
    private FlavourRules() {}

    /** CPUID leaf 0 EBX of "GenuineIntel". */
    private static final int GENU = 0x756e_6547;

    /**
     * What MSR_IA32_SYSENTER_ESP (0x175) reads back after {@code written} was set through
     * KVM_SET_MSRS: SVM keeps only the low 32 bits unless the guest's CPUID vendor is Intel's
     * (arch/x86/kvm/svm/svm.c, svm_set_msr keeps {@code sysenter_esp_hi} only for Intel-compatible
     * guests, as AMD CPUs implement a 32-bit SYSENTER); VMX and the paravirtual KVM keep all 64 bits.
     */
    public static long sysenterEspReadBack(Cpuid guestCpuid, long written) {
        boolean intel = guestCpuid.find(0, 0).map(e -> e.ebx() == GENU).orElse(false);
        return KvmFlavour.detect() == KvmFlavour.SVM && !intel ? written & 0xffff_ffffL : written;
    }

    /**
     * Whether a vCPU is put back in its INIT state (CS:IP f000:fff0, CS base 0xffff0000) right after
     * a KVM_EXIT_SHUTDOWN: SVM does (arch/x86/kvm/svm/svm.c, shutdown_interception: the VMCB is
     * undefined after a shutdown intercept, so KVM re-initialises the vCPU); VMX and the paravirtual
     * KVM leave the state as it was, so running again shuts down again.
     */
    public static boolean shutdownResetsTheVcpu() {
        return KvmFlavour.detect() == KvmFlavour.SVM;
    }
}
