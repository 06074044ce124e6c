package dev.panavirt.machine;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Cpuid;
import dev.panavirt.kvm.GsiRoute;
import java.util.ArrayList;
import java.util.List;

/**
 * What a PC presents to its guest that KVM does not set up by itself: the interrupt routing of the PIC and
 * IOAPIC pins, and the per-vCPU fields of CPUID. {@link Machine} applies them when it builds the VM.
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
}
