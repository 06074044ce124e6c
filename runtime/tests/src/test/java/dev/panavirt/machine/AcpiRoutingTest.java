package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.GsiRoute;
import dev.panavirt.machine.acpi.AcpiTables;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the MADT tells the guest about interrupts is what the machine's KVM routing does: an ACPI GSI is an IOAPIC
 * pin, and the KVM GSI a device signals must reach that pin.
 */
class AcpiRoutingTest {
    static List<GsiRoute.Irqchip> ioapicRoutes() {
        return PcPlatform.interruptRouting().stream().filter(r -> r instanceof GsiRoute.Irqchip)
                .map(r -> (GsiRoute.Irqchip) r).filter(r -> r.irqchip() == kvm_h.KVM_IRQCHIP_IOAPIC()).toList();
    }

    @Test
    void theTimerOverrideIsWhereThePitIsRouted() {
        // MADT: ISA IRQ 0 -> GSI 2. KVM: the PIT raises KVM GSI 0, routed to IOAPIC pin 2.
        assertTrue(ioapicRoutes().contains(new GsiRoute.Irqchip(0, kvm_h.KVM_IRQCHIP_IOAPIC(), 2)));
        assertTrue(ioapicRoutes().stream().noneMatch(r -> r.pin() == 0), "nothing reaches IOAPIC pin 0");
    }

    @Test
    void everyOtherPinIsTheKvmGsiOfTheSameNumber() {
        // ACPI's default for ISA IRQs without an override is identity, and a virtio-mmio slot's GSI is a pin;
        // the VMM signals KVM GSI n for pin n.
        for (int pin = 1; pin < AcpiTables.IOAPIC_PINS; pin++) {
            if (pin != 2) {
                final int p = pin;
                List<GsiRoute.Irqchip> to = ioapicRoutes().stream().filter(r -> r.pin() == p).toList();
                assertEquals(List.of(new GsiRoute.Irqchip(p, kvm_h.KVM_IRQCHIP_IOAPIC(), p)), to, "pin " + p);
            }
        }
    }
}
