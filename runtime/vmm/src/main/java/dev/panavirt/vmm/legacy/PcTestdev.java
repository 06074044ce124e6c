package dev.panavirt.vmm.legacy;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * QEMU's {@code -device pc-testdev} (hw/misc/pc-testdev.c, {@code testdev_realizefn}), the ISA test device
 * kvm-unit-tests' x86 kernels drive:
 *
 * <ul>
 * <li>ports {@code 0x2000}-{@code 0x2017}: a byte written at {@code 0x2000 + n} drives ISA interrupt line
 *     {@code n} to 1 (non-zero) or 0 (zero), {@code test_irq_line}; the machine routes line {@code n} to the PIC
 *     and IOAPIC pins of a PC (so {@code ioapic.c} raises and lowers IOAPIC pins from the guest);</li>
 * <li>ports {@code 0xe0}-{@code 0xe3} and {@code 0xe8}-{@code 0xeb}: one 32-bit register seen through both
 *     windows, each access reading or writing the bytes it covers ({@code test_ioport_read/write}): the
 *     emulator tests' string and port I/O target;</li>
 * <li>port {@code 0xe4}: a 32-bit write of a guest-physical address "flushes" its page: QEMU takes the host page
 *     away and gives it back ({@code mprotect} NONE, then READ|WRITE), so KVM must drop its mapping of that page
 *     and fault it in again ({@code test_flush_page});</li>
 * <li>{@link #IORAM_BASE} (64 KiB of MMIO): RAM behind MMIO exits, so an instruction operating on it runs through
 *     KVM's instruction emulator ({@code test_iomem_read/write}, kvm-unit-tests' {@code IORAM_BASE_PHYS} and
 *     {@code IORAM_LEN} in x86/ioram.h, used by {@code emulator.c}).</li>
 * </ul>
 *
 * <p>{@link #attach} puts all of it on the machine's buses, {@link #attachWithoutWordWindow} all but port
 * {@code 0xe0}, for a machine that uses that port for something else (panavirt's own guests make their ucalls
 * there). Accesses allocate nothing.
 */
public final class PcTestdev implements DeviceState {
    /** First IRQ-line port. */
    public static final int IRQ_PORT = 0x2000;
    /** Number of IRQ-line ports: one per ISA/IOAPIC line 0-23. */
    public static final int IRQ_LINES = 24;
    /** The 32-bit data register's word-wide window. */
    public static final int DATA_PORT = 0xe0;
    /** The flush-page port. */
    public static final int FLUSH_PORT = 0xe4;
    /** The 32-bit data register's byte-wise window (same register as {@link #DATA_PORT}). */
    public static final int DATA_BYTE_PORT = 0xe8;
    /** Guest-physical base of the IORAM. */
    public static final long IORAM_BASE = 0xff00_0000L;
    /** IORAM size: QEMU's {@code IOMEM_LEN}, kvm-unit-tests' {@code IORAM_LEN}. */
    public static final int IORAM_SIZE = 0x1_0000;

    /** Drives one interrupt line. */
    @FunctionalInterface
    public interface IrqLines {
        /** Sets ISA/IOAPIC line {@code line} to {@code level}. */
        void set(int line, boolean level) throws ErrnoException;
    }

    /** Makes the hypervisor drop and re-establish its mapping of one guest page. */
    @FunctionalInterface
    public interface PageFlusher {
        /** Flushes the guest page at page-aligned guest-physical {@code gpa}. */
        void flush(long gpa) throws ErrnoException;
    }

    private static final System.Logger LOG = System.getLogger(PcTestdev.class.getName());

    private final IrqLines irqLines;
    private final PageFlusher flusher;
    private final MemorySegment ioram = MemorySegment.ofArray(new byte[IORAM_SIZE]);
    private int data;

    /**
     * Creates the device.
     *
     * @param irqLines where IRQ-line writes go (the machine: {@code KVM_IRQ_LINE})
     * @param flusher  what the flush-page port does
     */
    public PcTestdev(IrqLines irqLines, PageFlusher flusher) {
        this.irqLines = irqLines;
        this.flusher = flusher;
    }

    /** Inserts the ports into {@code pio} and the IORAM into {@code mmio}. */
    public void attach(Bus pio, Bus mmio) {
        attachWithoutWordWindow(pio, mmio);
        pio.insert(dataDevice(), DATA_PORT, 4);
    }

    /** As {@link #attach}, but leaves port {@link #DATA_PORT} alone (insert {@link #dataDevice()} there later). */
    public void attachWithoutWordWindow(Bus pio, Bus mmio) {
        pio.insert(irqDevice(), IRQ_PORT, IRQ_LINES);
        pio.insert(flushDevice(), FLUSH_PORT, 4);
        pio.insert(dataDevice(), DATA_BYTE_PORT, 4);
        mmio.insert(ioramDevice(), IORAM_BASE, IORAM_SIZE);
    }

    /** The IRQ-line ports: {@code offset} is the line. */
    public BusDevice irqDevice() {
        return new BusDevice() {
            @Override
            public void write(long base, long offset, MemorySegment d) {
                try {
                    irqLines.set((int) offset, BusData.get(d) != 0);
                } catch (ErrnoException e) {
                    LOG.log(System.Logger.Level.WARNING, "pc-testdev: cannot drive IRQ line " + offset + ": "
                            + e.getMessage());
                }
            }
        };
    }

    /** One window onto the 32-bit data register. */
    public BusDevice dataDevice() {
        return new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment d) {
                int shift = (int) (offset & 3) * 8;
                synchronized (PcTestdev.this) {
                    BusData.set(d, Integer.toUnsignedLong(data) >>> shift);
                }
            }

            @Override
            public void write(long base, long offset, MemorySegment d) {
                int shift = (int) (offset & 3) * 8;
                long width = Math.min(d.byteSize(), 4 - (offset & 3));
                int mask = (int) (((1L << (width * 8)) - 1) << shift);
                synchronized (PcTestdev.this) {
                    data = (data & ~mask) | ((int) (BusData.get(d) << shift) & mask);
                }
            }
        };
    }

    /** The flush-page port. */
    public BusDevice flushDevice() {
        return new BusDevice() {
            @Override
            public void write(long base, long offset, MemorySegment d) {
                if (d.byteSize() != 4) {
                    return;         // QEMU's test_flush_ops take 4-byte writes only
                }
                long page = BusData.get(d) & ~0xfffL;
                try {
                    flusher.flush(page);
                } catch (ErrnoException | RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "pc-testdev: cannot flush guest page 0x"
                            + Long.toHexString(page) + ": " + e.getMessage());
                }
            }
        };
    }

    /** The IORAM. */
    public BusDevice ioramDevice() {
        return new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment d) {
                long n = Math.min(d.byteSize(), IORAM_SIZE - offset);
                MemorySegment.copy(ioram, offset, d, 0, n);
            }

            @Override
            public void write(long base, long offset, MemorySegment d) {
                long n = Math.min(d.byteSize(), IORAM_SIZE - offset);
                MemorySegment.copy(d, 0, ioram, offset, n);
            }
        };
    }

    /** {@return the data register's value} */
    public synchronized int data() {
        return data;
    }

    /** {@return the IORAM byte at {@code offset}} */
    public byte ioramByte(int offset) {
        return ioram.get(ValueLayout.JAVA_BYTE, offset);
    }

    /** Saves the scratch register and the 64 KiB IORAM. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeInt(data);
        out.write(ioram.toArray(ValueLayout.JAVA_BYTE));
    }

    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        int d = in.readInt();
        byte[] ram = new byte[IORAM_SIZE];
        in.readFully(ram);
        data = d;
        MemorySegment.copy(ram, 0, ioram, ValueLayout.JAVA_BYTE, 0, IORAM_SIZE);
    }
}
