package dev.panavirt.vmm;

import dev.panavirt.base.RegisterDevice;
import java.lang.foreign.MemorySegment;

/**
 * A device model reachable through a {@link Bus}.
 *
 * <p>The bus passes the base of the range the device was registered at and the offset of the access within that
 * range, never the absolute address, so a device works unchanged wherever it is mapped (and after a PCI BAR
 * {@linkplain Bus#move move}). {@code data} is a little-endian window whose {@linkplain MemorySegment#byteSize()
 * size} is the access width: normally 1, 2, 4 or 8 bytes, though an MMIO access that KVM split at a page boundary
 * may have any width from 1 to 8. {@link BusData} reads and writes such windows as numbers.
 *
 * <p>Both methods do nothing by default. A read window arrives zero-filled, so a device that ignores a read
 * returns zeros. Implementations must not keep {@code data} beyond the call, must not allocate per access if they
 * sit on a hot path, and may be called from several vCPU threads at once.
 */
public interface BusDevice {

    /**
     * Handles a guest read.
     *
     * @param base base address of the range this device was registered at
     * @param offset offset of the access within that range
     * @param data zero-filled window to store the little-endian result into
     */
    default void read(long base, long offset, MemorySegment data) {
    }

    /**
     * Handles a guest write.
     *
     * @param base base address of the range this device was registered at
     * @param offset offset of the access within that range
     * @param data window holding the little-endian value written by the guest
     */
    default void write(long base, long offset, MemorySegment data) {
    }

    /**
     * Puts a register-level device (a software model) on a bus: each access window is read or written as one
     * little-endian number of the window's width.
     *
     * @param device the device's register window
     * @return a bus device that forwards every access to {@code device}
     */
    static BusDevice of(RegisterDevice device) {
        return new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment data) {
                BusData.set(data, device.mmioRead(offset, (int) data.byteSize()));
            }

            @Override
            public void write(long base, long offset, MemorySegment data) {
                device.mmioWrite(offset, (int) data.byteSize(), BusData.get(data));
            }
        };
    }
}
