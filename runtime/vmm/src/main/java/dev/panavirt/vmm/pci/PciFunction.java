package dev.panavirt.vmm.pci;

import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.BusException;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One PCI function's type-0 configuration header (PCI Local Bus Specification 3.0, 6.1) with up to six 32-bit
 * BARs. The identity registers are read-only; the command register, cache line size, latency timer, interrupt line
 * and the BARs are writable. A BAR reads back its base with the size's low bits clear and its type bits set, so
 * writing all ones and reading back gives the size, the way firmware and kvm-unit-tests' {@code lib/pci.c}
 * ({@code pci_bar_size}) size BARs.
 *
 * <p>A BAR's device is on its bus (I/O ports or MMIO) while the command register enables that kind of decoding
 * and the BAR holds an address other than 0 and the all-ones sizing pattern; each change of those moves or removes
 * it. A placement that overlaps another device is refused and logged, and the BAR stays unmapped.
 */
public class PciFunction implements DeviceState {
    private static final System.Logger LOG = System.getLogger(PciFunction.class.getName());
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Command register bits: I/O space, memory space, bus master. */
    public static final int COMMAND_IO = 1, COMMAND_MEMORY = 2, COMMAND_MASTER = 4;
    static final int COMMAND = 0x04, BAR0 = 0x10, INTERRUPT_LINE = 0x3c;

    /** One BAR: its kind, size (a power of two) and the device behind it. */
    public record Bar(boolean io, int size, BusDevice device) {
        public Bar {
            if (Integer.bitCount(size) != 1 || size < (io ? 4 : 16)) {
                throw new IllegalArgumentException("a BAR size is a power of two, at least 4 (I/O) or 16 (memory): "
                        + size);
            }
        }
    }

    private final String name;
    private final MemorySegment config = MemorySegment.ofArray(new byte[256]);
    private final Bar[] bars = new Bar[6];
    private final long[] mappedAt = {-1, -1, -1, -1, -1, -1};
    private Bus pio, mmio;

    /**
     * A function with these identity registers.
     *
     * @param name       for messages
     * @param classCode  class, subclass and programming interface ({@code 0xCCSSPP})
     */
    public PciFunction(String name, int vendor, int device, int revision, int classCode) {
        this.name = name;
        put(0x00, vendor & 0xffff | device << 16);
        put(0x08, revision & 0xff | classCode << 8);
        put(0x2c, vendor & 0xffff);     // subsystem vendor: the vendor, as QEMU does for its own devices
    }

    /** {@return the name given at construction} */
    public String name() {
        return name;
    }

    /** Declares BAR {@code index} (before {@link #attach}). */
    public void setBar(int index, Bar bar) {
        bars[index] = bar;
        put(BAR0 + 4 * index, bar.io() ? 1 : 0);
    }

    /**
     * Connects the BARs to the buses and places them at {@code addresses} (0 for unplaced ones) with decoding
     * enabled, as firmware leaves a device it has assigned.
     */
    public void attach(Bus pio, Bus mmio, long... addresses) {
        this.pio = pio;
        this.mmio = mmio;
        for (int i = 0; i < addresses.length; i++) {
            if (bars[i] != null) {
                put(BAR0 + 4 * i, (int) (addresses[i] & -bars[i].size()) | (bars[i].io() ? 1 : 0));
            }
        }
        put(COMMAND, get(COMMAND) | COMMAND_IO | COMMAND_MEMORY);
        remap();
    }

    /** Reads {@code width} (1, 2 or 4) bytes at register offset {@code reg}. */
    public synchronized int read(int reg, int width) {
        int word = get(reg & 0xfc);
        int shift = (reg & 3) * 8;
        return width == 4 ? word : (word >>> shift) & ((1 << (width * 8)) - 1);
    }

    /** Writes {@code width} (1, 2 or 4) bytes at register offset {@code reg}. */
    public synchronized void write(int reg, int width, int value) {
        int aligned = reg & 0xfc;
        int shift = (reg & 3) * 8;
        int mask = (width == 4 ? -1 : (1 << (width * 8)) - 1) << shift;
        int writable = writableMask(aligned);
        int old = get(aligned);
        int v = (old & ~(mask & writable)) | ((value << shift) & mask & writable);
        put(aligned, v);
        if (aligned == COMMAND || (aligned >= BAR0 && aligned < BAR0 + 24)) {
            remap();
        }
    }

    private int writableMask(int reg) {
        if (reg == COMMAND) {
            return 0x0000_0547;     // I/O, memory, master, parity error response, SERR#, INTx disable
        }
        if (reg == 0x0c) {
            return 0x0000_ffff;     // cache line size, latency timer
        }
        if (reg == INTERRUPT_LINE) {
            return 0x0000_00ff;
        }
        if (reg >= BAR0 && reg < BAR0 + 24) {
            Bar b = bars[(reg - BAR0) / 4];
            return b == null ? 0 : -b.size() & (b.io() ? ~3 : ~0xf);
        }
        return 0;
    }

    /** {@return where BAR {@code index} decodes now, or -1 when it is off the bus} */
    public synchronized long mappedAt(int index) {
        return mappedAt[index];
    }

    private void remap() {
        if (pio == null) {
            return;
        }
        int command = get(COMMAND);
        for (int i = 0; i < 6; i++) {
            Bar b = bars[i];
            if (b == null) {
                continue;
            }
            int raw = get(BAR0 + 4 * i);
            long base = Integer.toUnsignedLong(raw & (b.io() ? ~3 : ~0xf));
            long sizing = Integer.toUnsignedLong(-b.size()) & (b.io() ? 0xffff_fffcL : 0xffff_fff0L);
            boolean decode = (command & (b.io() ? COMMAND_IO : COMMAND_MEMORY)) != 0;
            long want = decode && base != 0 && base != sizing ? base : -1;
            if (want == mappedAt[i]) {
                continue;
            }
            Bus bus = b.io() ? pio : mmio;
            if (mappedAt[i] >= 0) {
                bus.remove(mappedAt[i]);
                mappedAt[i] = -1;
            }
            if (want >= 0) {
                try {
                    bus.insert(b.device(), want, b.size());
                    mappedAt[i] = want;
                } catch (BusException e) {
                    LOG.log(System.Logger.Level.WARNING, name + ": BAR" + i + " at 0x" + Long.toHexString(want)
                            + " left unmapped: " + e.getMessage());
                }
            }
        }
    }

    private int get(int reg) {
        return config.get(LE_INT, reg);
    }

    private void put(int reg, int v) {
        config.set(LE_INT, reg, v);
    }

    /** Saves the 256 bytes of configuration space (command register and BARs included). */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.write(config.toArray(ValueLayout.JAVA_BYTE));
    }

    /**
     * Restores the configuration space and places the BARs where it says, as the guest's writes had placed
     * them; the read-only registers keep this function's identity.
     */
    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        byte[] b = new byte[256];
        in.readFully(b);
        MemorySegment saved = MemorySegment.ofArray(b);
        for (int reg = 0; reg < 256; reg += 4) {
            int writable = writableMask(reg);
            put(reg, (get(reg) & ~writable) | (saved.get(LE_INT, reg) & writable));
        }
        remap();
    }
}
