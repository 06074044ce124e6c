package dev.panavirt.migration;

import dev.panavirt.vmm.DeviceState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Map;

/**
 * A device model's state as one named STATE section of the {@link MigrationStream}: written at the stop point by
 * the source's {@link PrecopySource.Switchover#state()}, applied by the destination before it resumes. A device
 * the destination has but the stream does not carry is refused rather than left at its power-on state, since a
 * guest would then read back registers it never wrote and lose a transfer it started.
 */
public final class DeviceSection {
    private DeviceSection() {
    }

    /** {@return {@code device}'s state, as {@link DeviceState#saveState} writes it} */
    public static byte[] save(DeviceState device) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            device.saveState(out);
        }
        return bytes.toByteArray();
    }

    /**
     * Loads section {@code name} of {@code sections} into {@code device}.
     *
     * @throws IOException when the section is missing, when the device refuses it, or when the device read less
     *                     than the whole section (a record of another layout)
     */
    public static void load(Map<String, byte[]> sections, String name, DeviceState device) throws IOException {
        byte[] bytes = sections.get(name);
        if (bytes == null) {
            throw new IOException("device state section '" + name + "' is missing; the stream has " + sections.keySet());
        }
        ByteArrayInputStream in = new ByteArrayInputStream(bytes);
        device.loadState(new DataInputStream(in));
        if (in.available() != 0) {
            throw new IOException("device state section '" + name + "': " + in.available() + " of " + bytes.length
                    + " bytes left unread");
        }
    }
}
