package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import java.lang.foreign.MemorySegment;

/**
 * A device a driver in this process owns: its regions (BARs, PCI config space), its interrupts delivered to
 * eventfds, and reset. {@code KernelVfioDevice} serves it from a VFIO device fd
 * ({@code drivers/vfio/pci/vfio_pci_core.c}); the edu model serves it in Java, so a driver written against
 * this interface runs unchanged on either.
 *
 * <p>Region and interrupt indexes are the bus's: for PCI, {@code VFIO_PCI_BAR0_REGION_INDEX} (0) to
 * {@code VFIO_PCI_CONFIG_REGION_INDEX} (7), and {@code VFIO_PCI_INTX_IRQ_INDEX} (0), {@code MSI} (1),
 * {@code MSIX} (2). Accesses are little-endian, as PCI is. Segments returned by {@link #map} are valid until
 * the device closes; closing unmaps them, turns interrupts off and releases the device.
 */
public interface VfioDevice extends AutoCloseable {

    /** The device's name, e.g. {@code 0000:00:03.0}. */
    String name();

    /** {@code VFIO_DEVICE_GET_INFO}. */
    DeviceInfo info() throws ErrnoException;

    /** {@code VFIO_DEVICE_GET_REGION_INFO} with its capability chain parsed. */
    RegionInfo regionInfo(int index) throws ErrnoException;

    /** {@code VFIO_DEVICE_GET_IRQ_INFO}. */
    IrqInfo irqInfo(int index) throws ErrnoException;

    /**
     * Reads {@code dst.byteSize()} bytes of region {@code region} at {@code offset} (a {@code pread} of the
     * device fd at the region's offset).
     */
    void read(int region, long offset, MemorySegment dst) throws ErrnoException;

    /** Writes {@code src} to region {@code region} at {@code offset}. */
    void write(int region, long offset, MemorySegment src) throws ErrnoException;

    /** A 1-, 2-, 4- or 8-byte little-endian read, zero-extended. Allocates nothing. */
    long read(int region, long offset, int size) throws ErrnoException;

    /** A 1-, 2-, 4- or 8-byte little-endian write of the low bytes of {@code value}. Allocates nothing. */
    void write(int region, long offset, int size, long value) throws ErrnoException;

    /**
     * Maps the whole region (it must have {@code VFIO_REGION_INFO_FLAG_MMAP}; with a sparse-mmap capability
     * only its areas are mapped, the rest of the segment's range stays inaccessible).
     *
     * @return a segment of the region's size, valid until {@link #close()}
     */
    MemorySegment map(int region) throws ErrnoException;

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD | ACTION_TRIGGER}: vectors {@code start ..
     * start + eventfds.length - 1} of interrupt {@code index} signal the given eventfds.
     */
    void enableIrqs(int index, int start, EventFd... eventfds) throws ErrnoException;

    /** {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_NONE | ACTION_TRIGGER} and count 0: all vectors off. */
    void disableIrqs(int index) throws ErrnoException;

    /** {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_NONE | ACTION_UNMASK}: INTx is masked after it fires. */
    void unmaskIrq(int index, int vector) throws ErrnoException;

    /**
     * Turns on memory decoding and bus mastering in a PCI device's command register (config space offset 4,
     * bits 1 and 2): a PCI device answers its BARs only with decoding on and may DMA only as a bus master, as a
     * kernel driver's {@code pci_enable_device} and {@code pci_set_master} arrange.
     */
    default void enablePciMemoryAndBusMaster() throws ErrnoException {
        final int config = 7, command = 0x04, memory = 0x2, busMaster = 0x4;   // VFIO_PCI_CONFIG_REGION_INDEX
        long cmd = read(config, command, 2);
        write(config, command, 2, cmd | memory | busMaster);
    }

    /** {@code VFIO_DEVICE_RESET}. */
    void reset() throws ErrnoException;

    /** Turns interrupts off, unmaps the regions and releases the device; idempotent. */
    @Override
    void close();
}
