package dev.panavirt.vmm.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.kvm.GsiRoute;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.kvm.Vm;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.RegionInfo;
import dev.panavirt.vfio.VfioDevice;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A device behind an {@link Iommu} given to a KVM guest, the way a VMM on real hardware assigns a VFIO device:
 *
 * <ol>
 * <li>memory decoding and bus mastering are turned on in the PCI command register (the guest has no view of
 * the device's config space);</li>
 * <li>the guest's RAM is mapped into the IOMMU at IOVA = guest-physical address, so the addresses the guest's
 * driver programs into the device are the addresses its DMA reaches;</li>
 * <li>one BAR is placed in guest-physical space, either {@linkplain BarAccess#MAP mapped} (a memory slot over
 * the region's mmap: the guest's accesses go straight to the device, no exit) or {@linkplain BarAccess#TRAP
 * trapped} (MMIO exits forwarded to {@link VfioDevice#read}/{@link VfioDevice#write}, for regions that cannot be
 * mapped and for the software model);</li>
 * <li>the device's MSI vector 0 signals an eventfd that is a KVM irqfd on a GSI routed to an MSI message of the
 * VMM's choice, so the interrupt reaches the guest without passing through this process.</li>
 * </ol>
 *
 * <p>The guest's view of the device's config space, MSI capability included, is not emulated: the VMM fixes the message (address
 * and data) when it assigns the device, as a platform without a PCI bus in the guest would. Telling KVM about
 * the VFIO group (the KVM-VFIO pseudo device, which lets KVM honour the device's coherency for
 * {@code WBINVD} and, on some arches, set up interrupt bypass) is {@link KvmVfio}'s job, since only a kernel
 * group has a file descriptor.
 *
 * <p>{@link #close()} undoes the steps in reverse: interrupt off and irqfd removed, BAR unplaced, RAM unmapped
 * from the IOMMU (so nothing the device does afterwards reaches the guest's memory). The VM, IOMMU and device
 * stay open; they belong to the caller.
 */
public final class AssignedDevice implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AssignedDevice.class.getName());

    /** How the guest reaches the BAR. */
    public enum BarAccess {
        /** A KVM memory slot over the region's mmap: no exit per access. */
        MAP,
        /** MMIO exits forwarded to the device's region read and write. */
        TRAP
    }

    /**
     * Where and how the device appears to the guest.
     *
     * @param bar        the region index of the BAR to place (0 for BAR0)
     * @param barAddress guest-physical address of the BAR, page-aligned
     * @param access     mapped or trapped
     * @param barSlot    the KVM memory slot used when {@code access} is {@link BarAccess#MAP}
     * @param gsi        the GSI the device's MSI is routed through
     * @param msiAddress the MSI message address the guest receives (e.g. {@code 0xfee00000}: local APIC 0)
     * @param msiData    the MSI message data (for x86: vector and delivery mode)
     */
    public record Placement(int bar, long barAddress, BarAccess access, int barSlot, int gsi, long msiAddress,
            int msiData) {
        /** @throws IllegalArgumentException if {@code barAddress} is not page-aligned or an index is negative */
        public Placement {
            if ((barAddress & 0xfff) != 0 || bar < 0 || barSlot < 0 || gsi < 0) {
                throw new IllegalArgumentException("bar " + bar + " at 0x" + Long.toHexString(barAddress)
                        + " (page-aligned), slot " + barSlot + ", gsi " + gsi);
            }
        }
    }

    private static final int MSI_INDEX = 1;   // VFIO_PCI_MSI_IRQ_INDEX

    private final Vm vm;
    private final Bus mmio;
    private final Iommu iommu;
    private final VfioDevice device;
    private final Placement placement;
    private final long barSize;
    private final List<Long> mappedIovas = new ArrayList<>();
    private EventFd msi;
    private boolean barPlaced;
    private boolean closed;

    private AssignedDevice(Vm vm, Bus mmio, Iommu iommu, VfioDevice device, Placement placement, long barSize) {
        this.vm = vm;
        this.mmio = mmio;
        this.iommu = iommu;
        this.device = device;
        this.placement = placement;
        this.barSize = barSize;
    }

    /**
     * Assigns {@code device} to {@code vm}. The VM needs an in-kernel irqchip (for the irqfd and its MSI route);
     * the GSI routing table is replaced by KVM's default one (PICs and IOAPIC pins, so the guest's legacy
     * interrupts keep working) with the device's GSI routed to its MSI message instead.
     *
     * @param mmio the VM's MMIO bus, used when the BAR is {@linkplain BarAccess#TRAP trapped}
     * @throws ErrnoException from the IOMMU mapping, the memory slot, {@code VFIO_DEVICE_SET_IRQS} or the irqfd;
     *         whatever was set up before the failure is undone
     * @throws IllegalArgumentException if the BAR does not exist, or cannot be mapped but {@link BarAccess#MAP}
     *         was asked for
     */
    public static AssignedDevice assign(Vm vm, Bus mmio, Iommu iommu, VfioDevice device, Placement placement)
            throws ErrnoException {
        RegionInfo bar = device.regionInfo(placement.bar());
        if (bar.size() == 0) {
            throw new IllegalArgumentException(device.name() + " has no region " + placement.bar());
        }
        if (placement.access() == BarAccess.MAP && !bar.mappable()) {
            throw new IllegalArgumentException(device.name() + " region " + placement.bar()
                    + " cannot be mapped (flags 0x" + Integer.toHexString(bar.flags()) + "); use TRAP");
        }
        AssignedDevice d = new AssignedDevice(vm, mmio, iommu, device, placement, bar.size());
        try {
            if (device.info().isPci()) {
                device.enablePciMemoryAndBusMaster();   // the guest has no config space of its own here
            }
            d.mapGuestRam();
            d.placeBar();
            d.wireMsi();
            return d;
        } catch (ErrnoException | RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /** The guest-physical range of every memory slot of the VM, mapped read-write at IOVA = GPA. */
    private void mapGuestRam() throws ErrnoException {
        for (MemoryRegion r : vm.memory().regions()) {
            iommu.map(r.guestPhysAddr(), r.memory(), Iommu.READ | Iommu.WRITE);
            mappedIovas.add(r.guestPhysAddr());
            mappedIovas.add(r.size());
        }
    }

    private void placeBar() throws ErrnoException {
        if (placement.access() == BarAccess.MAP) {
            MemorySegment region = device.map(placement.bar());
            vm.setUserMemoryRegion(placement.barSlot(), 0, placement.barAddress(), region.byteSize(),
                    region.address());
        } else {
            mmio.insert(new TrappedBar(device, placement.bar()), placement.barAddress(), barSize);
        }
        barPlaced = true;
    }

    private void wireMsi() throws ErrnoException {
        // KVM's default x86 table (arch/x86/kvm/irq_comm.c, kvm_setup_default_irq_routing): GSI 0-15 to the
        // two PICs and the IOAPIC, 16-23 to the IOAPIC; the device's GSI becomes its MSI route instead.
        List<GsiRoute> routes = new ArrayList<>();
        for (int pin = 0; pin < 24; pin++) {
            if (pin == placement.gsi()) {
                continue;
            }
            if (pin < 16) {
                routes.add(new GsiRoute.Irqchip(pin, pin < 8 ? 0 : 1, pin % 8));   // KVM_IRQCHIP_PIC_MASTER/SLAVE
            }
            routes.add(new GsiRoute.Irqchip(pin, 2 /* KVM_IRQCHIP_IOAPIC */, pin));
        }
        routes.add(new GsiRoute.Msi(placement.gsi(), placement.msiAddress(), placement.msiData(), -1));
        vm.setGsiRouting(routes);
        msi = EventFd.create(0);
        vm.registerIrqfd(msi, placement.gsi(), null);
        device.enableIrqs(MSI_INDEX, 0, msi);
    }

    /** The device. */
    public VfioDevice device() {
        return device;
    }

    /** Where the device sits in the guest. */
    public Placement placement() {
        return placement;
    }

    /** Undoes the assignment (see the class comment); idempotent. Failures are logged, never thrown. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (msi != null) {
            quietly("disable MSI", () -> device.disableIrqs(MSI_INDEX));
            quietly("remove irqfd", () -> vm.unregisterIrqfd(msi, placement.gsi()));
            msi.close();
        }
        if (barPlaced) {
            if (placement.access() == BarAccess.MAP) {
                quietly("remove BAR slot", () -> vm.setUserMemoryRegion(placement.barSlot(), 0,
                        placement.barAddress(), 0, 0));
            } else {
                mmio.remove(placement.barAddress());
            }
        }
        for (int i = 0; i < mappedIovas.size(); i += 2) {
            long iova = mappedIovas.get(i);
            long size = mappedIovas.get(i + 1);
            quietly("unmap guest RAM", () -> iommu.unmap(iova, size));
        }
    }

    private interface Step {
        void run() throws ErrnoException;
    }

    private void quietly(String what, Step step) {
        try {
            step.run();
        } catch (ErrnoException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, device.name() + ": " + what + " failed while unassigning", e);
        }
    }

    /**
     * A BAR reached through MMIO exits. A failed access is logged and reads as all ones, as a PCI read that
     * nothing answers does.
     */
    private record TrappedBar(VfioDevice device, int region) implements BusDevice {
        @Override
        public void read(long base, long offset, MemorySegment data) {
            try {
                device.read(region, offset, data);
            } catch (ErrnoException e) {
                LOG.log(System.Logger.Level.WARNING, device.name() + " BAR read failed", e);
                BusData.set(data, -1L);
            }
        }

        @Override
        public void write(long base, long offset, MemorySegment data) {
            try {
                device.write(region, offset, data);
            } catch (ErrnoException e) {
                LOG.log(System.Logger.Level.WARNING, device.name() + " BAR write failed", e);
            }
        }
    }
}
