package dev.panavirt.base;

/**
 * A device's guest-visible register window, accessed as little-endian numbers: the MMIO frame of a GICv3
 * ITS, the IOCSR window of a LoongArch EIOINTC. Models implement it with plain Java types; the VMM layer
 * puts one on a bus through {@code dev.panavirt.vmm.BusDevice.of(RegisterDevice)}.
 *
 * <p>An access the hardware would not decode reads as zero and writes nothing, as the kernel's MMIO
 * dispatch does for the device it models; implementations say which accesses those are.
 */
public interface RegisterDevice {

    /**
     * A guest read.
     *
     * @param offset offset of the access within the window
     * @param width access width in bytes (1 to 8)
     * @return the value read, zero-extended to 64 bits
     */
    long mmioRead(long offset, int width);

    /**
     * A guest write.
     *
     * @param offset offset of the access within the window
     * @param width access width in bytes (1 to 8)
     * @param value the value written; bits above {@code width} bytes are ignored
     */
    void mmioWrite(long offset, int width, long value);
}
