package dev.panavirt.kvm;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which implementation of KVM serves this host's {@code /dev/kvm}. The ioctl interface is the same,
 * but a few results legitimately differ between them (the tests that meet such a difference check
 * each flavour exactly), and so do the guests they can run.
 *
 * <p>Told apart by the vendor module that registered KVM, as {@code /sys/module/NAME} shows it (a
 * built-in module appears there too): {@code kvm_amd} (arch/x86/kvm/svm/svm.c), {@code kvm_intel}
 * (arch/x86/kvm/vmx/vmx.c), {@code kvm_pvm} (the pagetable-based paravirtual KVM of the machines this
 * project runs on, which has no VT-x or SVM underneath).
 */
public enum KvmFlavour {
    /** AMD SVM ({@code kvm_amd}), e.g. the nested lane's guest on QEMU's emulated SVM. */
    SVM("kvm_amd", "AMD SVM"),
    /** Intel VMX ({@code kvm_intel}). */
    VMX("kvm_intel", "Intel VMX"),
    /**
     * The paravirtual KVM ({@code kvm_pvm}): guest ring 0 is emulated; some instructions (software
     * INT and IRET in protected and long mode, VEX-encoded BMI2) and MSRs cannot be.
     */
    PARAVIRTUAL("kvm_pvm", "paravirtual (PVM, no VT-x/SVM underneath)"),
    /** No vendor module this class knows, or no KVM at all. */
    UNKNOWN("", "unknown");

    private final String module;
    private final String description;

    KvmFlavour(String module, String description) {
        this.module = module;
        this.description = description;
    }

    /** The vendor module's name ({@code kvm_amd}...), empty for {@link #UNKNOWN}. */
    public String module() {
        return module;
    }

    /** A few words for people: "AMD SVM", "Intel VMX", "paravirtual (...)". */
    public String description() {
        return description;
    }

    /** This host's flavour. Meaningful only where {@code /dev/kvm} exists. */
    public static KvmFlavour detect() {
        return detect(Path.of("/sys/module"));
    }

    /** The flavour that the module directory {@code sysModule} (normally /sys/module) shows. */
    static KvmFlavour detect(Path sysModule) {
        // A hardware vendor module first: a PVM-capable kernel also carries kvm_pvm where it is not
        // the one serving /dev/kvm.
        for (KvmFlavour f : new KvmFlavour[] {SVM, VMX, PARAVIRTUAL}) {
            if (Files.isDirectory(sysModule.resolve(f.module))) {
                return f;
            }
        }
        return UNKNOWN;
    }
}
