package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.bindings.kvm.kvm_irq_routing;
import dev.panavirt.bindings.kvm.kvm_irq_routing_entry;
import dev.panavirt.bindings.kvm.kvm_irq_routing_irqchip;
import dev.panavirt.bindings.kvm.kvm_irq_routing_msi;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.List;

/** One entry of the GSI routing table set by {@link Vm#setGsiRouting(List)}. */
public sealed interface GsiRoute {

    /** The global system interrupt this entry routes. */
    int gsi();

    /**
     * Routes {@code gsi} to pin {@code pin} of in-kernel irqchip {@code irqchip}
     * ({@code KVM_IRQCHIP_PIC_MASTER} 0, {@code PIC_SLAVE} 1, {@code IOAPIC} 2 on x86).
     */
    record Irqchip(int gsi, int irqchip, int pin) implements GsiRoute {}

    /** Routes {@code gsi} to an MSI write; {@code devid} &lt; 0 means no device id. */
    record Msi(int gsi, long address, int data, int devid) implements GsiRoute {}

    /** Encodes {@code routes} as a {@code struct kvm_irq_routing}. */
    static MemorySegment encode(List<GsiRoute> routes, SegmentAllocator allocator) {
        MemorySegment table = kvm_irq_routing.allocate(routes.size(), allocator);
        kvm_irq_routing.nr(table, routes.size());
        for (int i = 0; i < routes.size(); i++) {
            MemorySegment e = kvm_irq_routing.entries(table, i);
            MemorySegment u = kvm_irq_routing_entry.u(e);
            switch (routes.get(i)) {
                case Irqchip r -> {
                    kvm_irq_routing_entry.gsi(e, r.gsi());
                    kvm_irq_routing_entry.type(e, kvm_h.KVM_IRQ_ROUTING_IRQCHIP());
                    kvm_irq_routing_irqchip.irqchip(u, r.irqchip());
                    kvm_irq_routing_irqchip.pin(u, r.pin());
                }
                case Msi r -> {
                    kvm_irq_routing_entry.gsi(e, r.gsi());
                    kvm_irq_routing_entry.type(e, kvm_h.KVM_IRQ_ROUTING_MSI());
                    kvm_irq_routing_msi.address_lo(u, (int) r.address());
                    kvm_irq_routing_msi.address_hi(u, (int) (r.address() >>> 32));
                    kvm_irq_routing_msi.data(u, r.data());
                    if (r.devid() >= 0) {
                        kvm_irq_routing_entry.flags(e, kvm_h.KVM_MSI_VALID_DEVID());
                        kvm_irq_routing_msi.devid(u, r.devid());
                    }
                }
            }
        }
        return table;
    }
}
