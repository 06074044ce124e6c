package dev.panavirt.vmm.legacy;

import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * One 8259 PIC as far as a guest that programs and masks it needs, for machines <em>without</em> KVM's in-kernel
 * irqchip (with it, KVM emulates both PICs itself and these ports never reach user space).
 *
 * <p>The command port (offset 0) accepts ICW1 and the OCWs; the data port (offset 1) takes ICW2 to ICW4 during
 * an initialisation sequence (as ICW1 announces them) and the interrupt mask otherwise, which reads back. ICW1
 * clears the mask, as on the chip. Command-port reads return 0: no interrupt is ever requested or in service,
 * because nothing is wired to this PIC. Insert one at {@link #MASTER_PORT} and one at {@link #SLAVE_PORT}, each
 * {@link #PORT_COUNT} ports wide.
 */
public final class PicMask implements BusDevice, DeviceState {
    /** Ports of the master and slave PICs. */
    public static final int MASTER_PORT = 0x20, SLAVE_PORT = 0xa0;
    /** Ports per PIC. */
    public static final int PORT_COUNT = 2;

    private static final int ICW1 = 0x10, ICW1_IC4 = 0x01, ICW1_SINGLE = 0x02;

    private int mask;
    /** Initialisation words still expected on the data port, lowest bit first: 1 ICW2, 2 ICW3, 4 ICW4. */
    private int pendingIcws;

    /** A PIC with every interrupt unmasked and no initialisation in progress, as after ICW1. */
    public PicMask() {
    }

    @Override
    public synchronized void write(long base, long offset, MemorySegment data) {
        int value = (int) BusData.get(data) & 0xff;
        if (offset == 0) {
            if ((value & ICW1) != 0) {
                mask = 0;
                pendingIcws = 1 | ((value & ICW1_SINGLE) == 0 ? 2 : 0) | ((value & ICW1_IC4) != 0 ? 4 : 0);
            }
            // OCW2 (end of interrupt, priorities) and OCW3 (register selection) change nothing visible here.
        } else if (offset == 1) {
            if (pendingIcws != 0) {
                pendingIcws &= pendingIcws - 1;   // consume the lowest pending ICW
            } else {
                mask = value;
            }
        }
    }

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        BusData.set(data, offset == 1 ? mask : 0);
    }

    /** The interrupt mask the guest last wrote (0xff: everything masked). */
    public synchronized int mask() {
        return mask;
    }

    /** Saves the mask and the initialisation words still expected. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeByte(mask);
        out.writeByte(pendingIcws);
    }

    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        int m = in.readUnsignedByte();
        pendingIcws = DeviceState.checked("PIC initialisation words", in.readUnsignedByte(), 0, 7);
        mask = m;
    }
}
