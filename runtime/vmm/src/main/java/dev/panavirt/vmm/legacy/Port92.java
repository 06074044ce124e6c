package dev.panavirt.vmm.legacy;

import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * System control port A (I/O port {@code 0x92}, "port 92"), as QEMU's {@code hw/i386/port92.c} models it
 * ({@code port92_read}, {@code port92_write}, {@code port92_reset}): a byte register that reads back what was last
 * written; bit 1 is the fast A20 gate, and bit 0 going from 0 to 1 resets the machine. A machine reset clears
 * bit 0 ({@link #reset()}), so a guest can tell a reset through this port (bit 0 then reads 0) from an INIT that
 * left it set; kvm-unit-tests' {@code x86/init.c} reads it that way.
 *
 * <p>The A20 bit is only stored: KVM has no A20 masking (QEMU under KVM does not mask either), so the address
 * line is always enabled, which is what every 32- and 64-bit guest wants. Only byte accesses are meaningful;
 * wider ones act on the low byte, as the register is one byte wide.
 */
public final class Port92 implements BusDevice, DeviceState {
    /** The port. */
    public static final int PORT = 0x92;
    /** The fast A20 gate bit. */
    public static final int A20 = 1 << 1;
    /** The reset bit: a 0 to 1 transition resets the machine. */
    public static final int RESET = 1;

    private final Runnable resetRequest;
    private int value = A20;    // QEMU starts with A20 enabled (port92_initfn's outport)

    /**
     * Creates the port.
     *
     * @param resetRequest called on the writing vCPU's thread when the guest sets the reset bit; it must only ask
     *     for the reset (the machine performs it outside the vCPU's exit)
     */
    public Port92(Runnable resetRequest) {
        this.resetRequest = resetRequest;
    }

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        BusData.set(data, value);
    }

    @Override
    public void write(long base, long offset, MemorySegment data) {
        int v = (int) (BusData.get(data) & 0xff);
        boolean reset;
        synchronized (this) {
            reset = (v & RESET) != 0 && (value & RESET) == 0;
            value = v;
        }
        if (reset) {
            resetRequest.run();
        }
    }

    /** The machine was reset: the reset bit reads 0 again, A20 stays as it was (QEMU's {@code port92_reset}). */
    public synchronized void reset() {
        value &= ~RESET;
    }

    /** {@return the register's value} */
    public synchronized int value() {
        return value;
    }

    /** Saves the port's value (A20 and the reset bit). */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeByte(value);
    }

    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        value = in.readUnsignedByte();
    }
}
