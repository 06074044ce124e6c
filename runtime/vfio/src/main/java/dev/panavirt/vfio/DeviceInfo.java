package dev.panavirt.vfio;

/**
 * {@code struct vfio_device_info}.
 *
 * @param flags      {@code VFIO_DEVICE_FLAGS_*} (RESET 1, PCI 2, ...)
 * @param numRegions regions, indexes {@code 0 .. numRegions - 1}
 * @param numIrqs    interrupt indexes, {@code 0 .. numIrqs - 1}
 */
public record DeviceInfo(int flags, int numRegions, int numIrqs) {

    /** Whether {@link VfioDevice#reset()} is offered. */
    public boolean canReset() {
        return (flags & 1) != 0;
    }

    /** Whether the device is a PCI device. */
    public boolean isPci() {
        return (flags & 2) != 0;
    }
}
