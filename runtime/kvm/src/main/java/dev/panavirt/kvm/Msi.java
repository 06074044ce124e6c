package dev.panavirt.kvm;

import java.util.OptionalInt;

/**
 * A message-signalled interrupt for {@link Vm#signalMsi}: the doorbell address and the data written to it,
 * and, where the interrupt controller translates by requester (an arm64 GICv3 ITS), the device id that
 * {@code KVM_MSI_VALID_DEVID} carries.
 *
 * @param address the doorbell's guest-physical address
 * @param data the 32-bit payload
 * @param deviceId the requester id, or empty when the controller needs none (x86)
 */
public record Msi(long address, int data, OptionalInt deviceId) {

    /** An MSI without a device id. */
    public static Msi of(long address, int data) {
        return new Msi(address, data, OptionalInt.empty());
    }

    /** An MSI with a device id ({@code KVM_MSI_VALID_DEVID}). */
    public static Msi withDeviceId(long address, int data, int deviceId) {
        return new Msi(address, data, OptionalInt.of(deviceId));
    }
}
