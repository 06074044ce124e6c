package dev.panavirt.vmm.pci;

import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * QEMU's {@code -device pci-testdev} (hw/misc/pci-testdev.c): Red Hat's PCI test device, 1b36:0005, class 00ff,
 * with a 4 KiB memory BAR 0 and a 256-port I/O BAR 1. Both BARs hold the same protocol
 * ({@code pci_testdev_write}, {@code pci_testdev_read}): writing a test number to offset 0 selects one of three
 * tests ({@code no-eventfd}, {@code wildcard-eventfd}, {@code datamatch-eventfd}) and clears its count; the BAR
 * then reads as the test's header (test, width, offset, data, count, NUL-terminated name, byte by byte); each
 * write to the header's offset (with the header's data and width, for the data-matching test) adds one to the
 * count. kvm-unit-tests' {@code lib/pci-testdev.c} ({@code pci_testdev_one}) checks that 16 writes count 16, or
 * 0 where an ioeventfd swallowed them. Here no test uses an ioeventfd: every write reaches the model and counts.
 */
public final class PciTestdev extends PciFunction {
    /** Red Hat's PCI vendor id and the test device's id. */
    public static final int VENDOR = 0x1b36, DEVICE = 0x0005;
    /** BAR sizes: QEMU's {@code IOTEST_MEMSIZE * 2} and {@code IOTEST_IOSIZE * 2}. */
    public static final int MEM_SIZE = 4096, IO_SIZE = 256;
    private static final String[] TESTS = {"no-eventfd", "wildcard-eventfd", "datamatch-eventfd"};
    private static final int DATAMATCH = 0xfa, NOMATCH = 0xce;
    private static final int HEADER = 16;   // test, width, pad[2], offset, data, pad[3], count

    private final Region mem = new Region(0, MEM_SIZE / 2), io = new Region(1, IO_SIZE / 2);

    /** The device with its BARs declared; place them with {@link #attach}. */
    public PciTestdev() {
        super("pci-testdev", VENDOR, DEVICE, 0, 0x00_ff_00);
        setBar(0, new Bar(false, MEM_SIZE, mem));
        setBar(1, new Bar(true, IO_SIZE, io));
    }

    /** One BAR's test state: {@code type} 0 for memory, 1 for I/O; tests' offsets start at {@code testBase}. */
    /** Saves the configuration space and, per BAR, the selected test and each test's hit count. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        super.saveState(out);
        mem.save(out);
        io.save(out);
    }

    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        super.loadState(in);
        mem.load(in);
        io.load(in);
    }

    private static final class Region implements BusDevice {
        private final int type, testBase;
        private final byte[][] headers = new byte[TESTS.length][];
        private int current = -1;

        Region(int type, int testBase) {
            this.type = type;
            this.testBase = testBase;
            for (int t = 0; t < TESTS.length; t++) {
                int i = type * TESTS.length + t;
                byte[] nm = ((type == 0 ? "mmio-" : "portio-") + TESTS[t]).getBytes(StandardCharsets.US_ASCII);
                byte[] h = new byte[HEADER + nm.length + 1];
                h[0] = (byte) i;
                h[1] = 1;                                       // width: byte accesses
                int off = testBase + i;                         // IOTEST_SIZE(i) + i * IOTEST_ACCESS_WIDTH
                h[4] = (byte) off;
                h[5] = (byte) (off >> 8);
                h[8] = (byte) (t == 1 ? NOMATCH : DATAMATCH);
                System.arraycopy(nm, 0, h, HEADER, nm.length);
                headers[t] = h;
            }
        }

        synchronized void save(DataOutput out) throws IOException {
            out.writeByte(current);
            for (byte[] h : headers) {
                out.write(h, 12, 4);
            }
        }

        synchronized void load(DataInput in) throws IOException {
            int c = in.readByte();
            if (c < -1 || c >= TESTS.length) {
                throw new IOException("pci-testdev: selected test " + c + " is outside -1.." + (TESTS.length - 1));
            }
            byte[] counts = new byte[4 * headers.length];
            in.readFully(counts);
            current = c;
            for (int t = 0; t < headers.length; t++) {
                System.arraycopy(counts, 4 * t, headers[t], 12, 4);
            }
        }

        @Override
        public synchronized void read(long base, long offset, MemorySegment d) {
            if (current < 0) {
                return;
            }
            byte[] h = headers[current];
            // QEMU's ops are byte-wide (impl.max_access_size 1): a wider read is assembled from single bytes
            long v = 0;
            for (int k = 0; k < d.byteSize(); k++) {
                long at = offset + k;
                if (at + 1 < h.length) {
                    v |= (h[(int) at] & 0xffL) << (8 * k);
                }
            }
            BusData.set(d, v);
        }

        @Override
        public synchronized void write(long base, long offset, MemorySegment d) {
            long value = BusData.get(d);
            for (int k = 0; k < d.byteSize(); k++) {        // byte by byte, as QEMU splits it
                writeByte(offset + k, (int) (value >>> (8 * k)) & 0xff);
            }
        }

        private void writeByte(long addr, int v) {
            if (addr == 0) {
                current = v < TESTS.length ? v : -1;
                if (current >= 0) {
                    byte[] h = headers[current];
                    h[12] = h[13] = h[14] = h[15] = 0;
                }
                return;
            }
            if (current < 0) {
                return;
            }
            byte[] h = headers[current];
            int off = (h[4] & 0xff) | (h[5] & 0xff) << 8;
            if (addr != off || (current != 1 && v != (h[8] & 0xff))) {
                return;
            }
            int count = (h[12] & 0xff) | (h[13] & 0xff) << 8 | (h[14] & 0xff) << 16 | (h[15] & 0xff) << 24;
            count++;
            h[12] = (byte) count;
            h[13] = (byte) (count >> 8);
            h[14] = (byte) (count >> 16);
            h[15] = (byte) (count >> 24);
        }
    }
}
