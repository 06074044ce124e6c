package dev.panavirt.machine;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Cpuid;
import dev.panavirt.kvm.GsiRoute;
import java.util.ArrayList;
import java.util.List;

/**
 * What a PC presents to its guest that KVM does not set up by itself: the interrupt routing of the PIC and
 * IOAPIC pins, the per-vCPU fields of CPUID, and CPUID as a hypervisor presents it. {@link Machine} applies them
 * when it builds the VM.
 */
final class PcPlatform {
    private PcPlatform() {
    }

    /**
     * The interrupt routing of a PC, as QEMU sets it up with the in-kernel irqchip: ISA IRQs 0-15 go to the PIC
     * pins of the same number (except 2, the cascade), and to the IOAPIC pins of the same number except IRQ 0,
     * the PIT, which goes to IOAPIC pin 2 (the MP specification's default configuration; ACPI describes it as an
     * interrupt source override). GSIs 16-23 go to the IOAPIC pins of that number. KVM's own default would put
     * the PIT on IOAPIC pin 0.
     */
    static List<GsiRoute> interruptRouting() {
        int pic = kvm_h.KVM_IRQCHIP_PIC_MASTER(), slave = kvm_h.KVM_IRQCHIP_PIC_SLAVE();
        int ioapic = kvm_h.KVM_IRQCHIP_IOAPIC();
        List<GsiRoute> routes = new ArrayList<>();
        for (int irq = 0; irq < 16; irq++) {
            if (irq != 2) {
                routes.add(new GsiRoute.Irqchip(irq, irq < 8 ? pic : slave, irq & 7));
            }
        }
        for (int gsi = 0; gsi < 24; gsi++) {
            if (gsi != 2) {
                routes.add(new GsiRoute.Irqchip(gsi, ioapic, gsi == 0 ? 2 : gsi));
            }
        }
        return routes;
    }

    /**
     * The supported CPUID with this vCPU's APIC ID where CPUID reports it, as a PC's CPUs do: bits 31-24 of
     * EBX in leaf 1 (KVM fills them from the host CPU that answered) and EDX of the topology leaves 0xb and
     * 0x1f. KVM gives each vCPU the APIC ID equal to its vCPU id.
     */
    static Cpuid withApicId(Cpuid cpuid, int apicId) {
        List<Cpuid.Entry> out = new ArrayList<>();
        for (Cpuid.Entry e : cpuid.entries()) {
            if (e.function() == 1) {
                e = new Cpuid.Entry(e.function(), e.index(), e.flags(), e.eax(),
                        (e.ebx() & 0x00ff_ffff) | (apicId << 24), e.ecx(), e.edx());
            } else if (e.function() == 0xb || e.function() == 0x1f) {
                e = new Cpuid.Entry(e.function(), e.index(), e.flags(), e.eax(), e.ebx(),
                        e.ecx(), apicId);
            }
            out.add(e);
        }
        return new Cpuid(out);
    }

    /** Leaf 1 ECX bit 31: "running under a hypervisor" (reserved for that use by Intel and AMD). */
    static final int HYPERVISOR_BIT = 1 << 31;
    /** The first hypervisor leaf: the largest hypervisor leaf in EAX, the vendor signature in EBX, ECX, EDX. */
    static final int KVM_CPUID_SIGNATURE = 0x4000_0000;
    /** KVM's paravirtual features (EAX, {@code KVM_FEATURE_*}) and hints (EDX). */
    static final int KVM_CPUID_FEATURES = 0x4000_0001;
    /** "KVMKVMKVM\0\0\0" as EBX, ECX, EDX (little-endian), Linux's arch/x86/include/uapi/asm/kvm_para.h. */
    static final int SIGNATURE_EBX = 0x4b4d_564b, SIGNATURE_ECX = 0x564b_4d56, SIGNATURE_EDX = 0x0000_004d;

    /**
     * CPUID as a hypervisor presents it, the way QEMU does for a KVM guest (target/i386/kvm/kvm.c,
     * {@code kvm_arch_init_vcpu}): the HYPERVISOR bit in leaf 1 ECX, leaf 0x40000000 with KVM's signature and the
     * largest hypervisor leaf (0x40000001), and leaf 0x40000001 with the paravirtual features KVM reports in
     * {@code KVM_GET_SUPPORTED_CPUID} (kvmclock, async page faults, PV EOI, ...). With {@code present} false, the
     * guest sees a CPU without a hypervisor: the bit clear and no leaves from 0x40000000 up (QEMU's
     * {@code -cpu ...,kvm=off,-hypervisor}). Other leaves are kept as they are, sub-leaves and flags included.
     */
    static Cpuid withHypervisorLeaves(Cpuid cpuid, boolean present) {
        List<Cpuid.Entry> out = new ArrayList<>();
        int features = 0, hints = 0;
        for (Cpuid.Entry e : cpuid.entries()) {
            if (e.function() == KVM_CPUID_FEATURES) {
                features = e.eax();
                hints = e.edx();
            }
            if (Integer.compareUnsigned(e.function(), KVM_CPUID_SIGNATURE) >= 0
                    && Integer.compareUnsigned(e.function(), 0x4000_00ff) <= 0) {
                continue;           // the hypervisor range is ours to fill (KVM reports it with EAX 0 on some kernels)
            }
            if (e.function() == 1) {
                e = new Cpuid.Entry(e.function(), e.index(), e.flags(), e.eax(), e.ebx(),
                        present ? e.ecx() | HYPERVISOR_BIT : e.ecx() & ~HYPERVISOR_BIT, e.edx());
            }
            out.add(e);
        }
        if (present) {
            out.add(new Cpuid.Entry(KVM_CPUID_SIGNATURE, 0, 0, KVM_CPUID_FEATURES, SIGNATURE_EBX, SIGNATURE_ECX,
                    SIGNATURE_EDX));
            out.add(new Cpuid.Entry(KVM_CPUID_FEATURES, 0, 0, features, 0, 0, hints));
        }
        return new Cpuid(out);
    }
}
