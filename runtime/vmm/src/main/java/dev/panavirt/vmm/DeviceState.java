package dev.panavirt.vmm;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * A device model whose guest-visible state a snapshot saves and restores: its registers, queued input and
 * whatever else a guest could observe. Both calls happen while no vCPU runs.
 *
 * <p>{@link #loadState} reads exactly what {@link #saveState} wrote, into a device built the same way; input it
 * cannot accept (a value out of range, a length beyond the device's buffers, the end of the input) is an
 * {@link IOException} naming the device, and the device is then left as it was or in its reset state, never
 * half-written in a way that breaks its own invariants.
 */
public interface DeviceState {
    /** Writes the device's state. */
    void saveState(DataOutput out) throws IOException;

    /** Replaces the device's state with one {@link #saveState} wrote. */
    void loadState(DataInput in) throws IOException;

    /** {@return {@code value} if it lies in {@code [min, max]}, else an IOException naming {@code what}} */
    static int checked(String what, int value, int min, int max) throws IOException {
        if (value < min || value > max) {
            throw new IOException(what + ": " + value + " is outside " + min + ".." + max);
        }
        return value;
    }
}
