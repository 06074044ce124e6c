package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Cpuid;
import dev.panavirt.kvm.GsiRoute;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the machine sets up besides devices: per-vCPU CPUID and the PC interrupt routing. */
class MachineSetupTest {
    @Test
    void eachVcpuSeesItsOwnApicIdInCpuid() {
        Cpuid host = new Cpuid(List.of(new Cpuid.Entry(0, 0, 0, 0xd, 1, 2, 3),
                new Cpuid.Entry(1, 0, 0, 0x806f8, 0x0d10_0800, 0x7ffa_fbbf, 0xbfeb_fbff),
                new Cpuid.Entry(0xb, 0, 1, 1, 1, 0x100, 13), new Cpuid.Entry(0xb, 1, 1, 4, 2, 0x201, 13)));
        Cpuid c = PcPlatform.withApicId(host, 5);
        assertEquals(0x0510_0800, c.find(1, 0).orElseThrow().ebx());
        assertEquals(host.find(1, 0).orElseThrow().ecx(), c.find(1, 0).orElseThrow().ecx());
        assertEquals(5, c.find(0xb, 0).orElseThrow().edx());
        assertEquals(5, c.find(0xb, 1).orElseThrow().edx());
        assertEquals(host.find(0, 0), c.find(0, 0));
    }

    @Test
    void thePitGoesToIoapicPinTwoLikeOnAPc() {
        List<GsiRoute> routes = PcPlatform.interruptRouting();
        int ioapic = kvm_h.KVM_IRQCHIP_IOAPIC();
        assertTrue(routes.contains(new GsiRoute.Irqchip(0, ioapic, 2)));
        assertTrue(routes.contains(new GsiRoute.Irqchip(0, kvm_h.KVM_IRQCHIP_PIC_MASTER(), 0)));
        assertTrue(routes.contains(new GsiRoute.Irqchip(4, ioapic, 4)), "COM1");
        assertTrue(routes.contains(new GsiRoute.Irqchip(9, kvm_h.KVM_IRQCHIP_PIC_SLAVE(), 1)));
        assertTrue(routes.contains(new GsiRoute.Irqchip(23, ioapic, 23)));
        assertTrue(routes.stream().noneMatch(r -> r.gsi() == 2), "IRQ 2 is the cascade");
        assertEquals(15 + 23, routes.size());
    }
}
