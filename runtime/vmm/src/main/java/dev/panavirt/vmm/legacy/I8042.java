package dev.panavirt.vmm.legacy;

import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * A stub of the PC's keyboard controller (8042) with no keyboard or mouse behind it, enough for a kernel to reset
 * the machine through it and to find no input device: the data port {@link #DATA_PORT} and the status/command
 * port {@link #COMMAND_PORT}, two one-byte ranges of the port bus ({@link #attach}).
 *
 * <p>Command 0xfe on the command port pulses the CPU reset line: Linux's {@code reboot=k} (and its fallback when ACPI
 * reset is absent) writes it in arch/x86/kernel/reboot.c ({@code native_machine_emergency_restart}); the stub
 * calls the reset request, which a machine without firmware turns into the end of the run, as QEMU's
 * {@code -no-reboot} does. The controller self-test (0xaa) answers 0x55, the command byte can be read (0x20) and
 * written (0x60), and the status register reports the output buffer's state and the system flag after self-test,
 * as QEMU's hw/input/pckbd.c does; every other command is accepted and ignored. The input buffer is never full,
 * so a driver polling for it to drain never waits.
 */
public final class I8042 implements BusDevice, DeviceState {
    /** The data port. */
    public static final int DATA_PORT = 0x60;
    /** The status (read) and command (write) port. */
    public static final int COMMAND_PORT = 0x64;
    /** Status: the output buffer holds a byte for the host. */
    public static final int STATUS_OBF = 0x01;
    /** Status: the system flag, set once the self-test passed. */
    public static final int STATUS_SYS = 0x04;
    /** Command: pulse the reset line (output port bit 0 low). */
    public static final int CMD_RESET = 0xfe;
    /** Command: controller self-test; answers {@link #SELF_TEST_OK}. */
    public static final int CMD_SELF_TEST = 0xaa;
    /** The self-test's success answer. */
    public static final int SELF_TEST_OK = 0x55;
    /** Command: read the command byte. */
    public static final int CMD_READ_CONFIG = 0x20;
    /** Command: the next data byte is the new command byte. */
    public static final int CMD_WRITE_CONFIG = 0x60;

    private final Runnable resetRequest;
    private int status;
    private int config = 0x00;
    private int output = -1;
    private boolean configNext;

    /**
     * Creates the controller.
     *
     * @param resetRequest called on the writing vCPU's thread when the guest pulses the reset line; it must only ask
     *     for the reset
     */
    public I8042(Runnable resetRequest) {
        this.resetRequest = resetRequest;
    }

    /** Inserts the controller's data and command ports on a port bus. */
    public void attach(Bus pio) {
        pio.insert(this, DATA_PORT, 1);
        pio.insert(this, COMMAND_PORT, 1);
    }

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        if (base == COMMAND_PORT) {
            BusData.set(data, status | (output >= 0 ? STATUS_OBF : 0));
        } else {
            BusData.set(data, Math.max(output, 0));
            output = -1;
        }
    }

    @Override
    public void write(long base, long offset, MemorySegment data) {
        int v = (int) (BusData.get(data) & 0xff);
        boolean reset = false;
        synchronized (this) {
            if (base == COMMAND_PORT) {
                configNext = false;
                switch (v) {
                    case CMD_RESET -> reset = true;
                    case CMD_SELF_TEST -> {
                        status |= STATUS_SYS;
                        output = SELF_TEST_OK;
                    }
                    case CMD_READ_CONFIG -> output = config;
                    case CMD_WRITE_CONFIG -> configNext = true;
                    default -> { }
                }
            } else if (configNext) {
                config = v;
                configNext = false;
            }
        }
        if (reset) {
            resetRequest.run();
        }
    }

    /** Saves the status, the command byte, the pending output byte and whether a command byte is expected. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeByte(status);
        out.writeByte(config);
        out.writeShort(output);
        out.writeBoolean(configNext);
    }

    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        int s = in.readUnsignedByte(), c = in.readUnsignedByte();
        int o = DeviceState.checked("i8042 output byte", in.readShort(), -1, 0xff);
        boolean next = in.readBoolean();
        status = s;
        config = c;
        output = o;
        configNext = next;
    }
}
