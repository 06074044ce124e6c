package dev.panavirt.vmm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Routes guest accesses on one address space (port I/O or MMIO) to the {@link BusDevice}s registered on it.
 *
 * <p>Each device owns a non-overlapping {@link BusRange}. An access goes to the range with the greatest base not
 * above the address, provided the whole access fits inside that range; an access that runs past the end of its
 * range, or hits no range, is <em>unmapped</em>. Unmapped accesses are not errors: reads return zeros (or the byte
 * given at construction), writes are
 * dropped, and both are counted ({@link #unmappedReads()}, {@link #unmappedWrites()}) and logged for the first
 * few occurrences only, because a guest probing hardware can produce them at a high rate.
 *
 * <h2>Concurrency and allocation</h2>
 * The layout is an immutable snapshot of three parallel sorted arrays (bases, inclusive ends, devices) behind a
 * volatile field. {@link #insert}, {@link #remove} and {@link #move} build a new snapshot under a lock and publish
 * it; {@link #read} and {@link #write} take no lock, read the field once and binary-search the arrays, so several
 * vCPU threads can access the bus while another thread changes it, and each access sees either the old or the new
 * layout in full. The access path allocates nothing. A device removed or moved may still receive an access that
 * had already looked it up in the previous snapshot.
 *
 * <p>Devices are held strongly; the bus does not manage their lifetime.
 */
public final class Bus {

    /** How many unmapped accesses a bus logs, unless told otherwise; later ones are only counted. */
    public static final int DEFAULT_UNMAPPED_LOG_LIMIT = 16;

    private static final System.Logger LOG = System.getLogger(Bus.class.getName());

    /** One published layout. Never mutated after construction. */
    private static final class Layout {
        static final Layout EMPTY = new Layout(new long[0], new long[0], new BusDevice[0]);

        final long[] bases;
        final long[] ends;
        final BusDevice[] devices;

        Layout(long[] bases, long[] ends, BusDevice[] devices) {
            this.bases = bases;
            this.ends = ends;
            this.devices = devices;
        }

        /** Index of the range with the greatest base {@code <= addr} (unsigned), or -1. */
        int floor(long addr) {
            long[] b = bases;
            int lo = 0;
            int hi = b.length - 1;
            int found = -1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (Long.compareUnsigned(b[mid], addr) <= 0) {
                    found = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return found;
        }

        /** Index of the range that holds all of {@code [addr, addr + len - 1]}, or -1. */
        int find(long addr, long len) {
            int i = floor(addr);
            // ends[i] - addr is the number of bytes left in the range after addr; it is negative (huge unsigned)
            // when addr is past the end. len 0 becomes -1, which never fits.
            if (i < 0 || Long.compareUnsigned(addr, ends[i]) > 0
                    || Long.compareUnsigned(len - 1, ends[i] - addr) > 0) {
                return -1;
            }
            return i;
        }

        int indexOfBase(long base) {
            int i = floor(base);
            return i >= 0 && bases[i] == base ? i : -1;
        }

        Layout without(int index) {
            int n = bases.length;
            long[] b = new long[n - 1];
            long[] e = new long[n - 1];
            BusDevice[] d = new BusDevice[n - 1];
            System.arraycopy(bases, 0, b, 0, index);
            System.arraycopy(ends, 0, e, 0, index);
            System.arraycopy(devices, 0, d, 0, index);
            System.arraycopy(bases, index + 1, b, index, n - index - 1);
            System.arraycopy(ends, index + 1, e, index, n - index - 1);
            System.arraycopy(devices, index + 1, d, index, n - index - 1);
            return new Layout(b, e, d);
        }

        /** Returns a layout with the range added, or throws OVERLAP; {@code busName} is for the message. */
        Layout with(BusRange range, BusDevice device, String busName) {
            // Ranges are sorted and disjoint, so only the neighbours around the insertion point can overlap.
            int before = floor(range.base());
            if (before >= 0 && Long.compareUnsigned(ends[before], range.base()) >= 0) {
                throw overlap(busName, range, before);
            }
            int at = before + 1;
            if (at < bases.length && Long.compareUnsigned(bases[at], range.end()) <= 0) {
                throw overlap(busName, range, at);
            }
            int n = bases.length;
            long[] b = new long[n + 1];
            long[] e = new long[n + 1];
            BusDevice[] d = new BusDevice[n + 1];
            System.arraycopy(bases, 0, b, 0, at);
            System.arraycopy(ends, 0, e, 0, at);
            System.arraycopy(devices, 0, d, 0, at);
            b[at] = range.base();
            e[at] = range.end();
            d[at] = device;
            System.arraycopy(bases, at, b, at + 1, n - at);
            System.arraycopy(ends, at, e, at + 1, n - at);
            System.arraycopy(devices, at, d, at + 1, n - at);
            return new Layout(b, e, d);
        }

        BusRange range(int i) {
            return new BusRange(bases[i], ends[i] - bases[i] + 1);
        }

        private BusException overlap(String busName, BusRange range, int existing) {
            return new BusException(BusException.Kind.OVERLAP,
                    busName + " bus: " + range + " overlaps " + range(existing));
        }
    }

    private final String name;
    private final int unmappedLogLimit;
    private final Object layoutLock = new Object();
    private final byte unmappedByte;
    private volatile Layout layout = Layout.EMPTY;

    // LongAdder: unmapped accesses (port 0x80 delays, probes) can come from every vCPU at once.
    private final LongAdder unmappedReads = new LongAdder();
    private final LongAdder unmappedWrites = new LongAdder();
    private final AtomicInteger unmappedLogged = new AtomicInteger();

    /**
     * Creates an empty bus that logs the first {@value #DEFAULT_UNMAPPED_LOG_LIMIT} unmapped accesses.
     *
     * @param name short name used in messages, such as {@code "pio"} or {@code "mmio"}
     */
    public Bus(String name) {
        this(name, DEFAULT_UNMAPPED_LOG_LIMIT);
    }

    /**
     * Creates an empty bus.
     *
     * @param name short name used in messages, such as {@code "pio"} or {@code "mmio"}
     * @param unmappedLogLimit how many unmapped accesses to log before only counting them; 0 logs none
     */
    public Bus(String name, int unmappedLogLimit) {
        this(name, unmappedLogLimit, (byte) 0);
    }

    /**
     * Creates an empty bus whose unmapped reads return {@code unmappedByte} in every byte: 0xff for a PC's port
     * I/O, where nothing drives the ISA data lines and their pull-ups read as all ones (QEMU's
     * {@code unassigned_io_ops} in system/ioport.c answers -1 the same way).
     *
     * @param name short name used in messages
     * @param unmappedLogLimit how many unmapped accesses to log before only counting them; 0 logs none
     * @param unmappedByte the value of each byte of an unmapped read
     */
    public Bus(String name, int unmappedLogLimit, byte unmappedByte) {
        this.unmappedByte = unmappedByte;
        this.name = Objects.requireNonNull(name, "name");
        if (unmappedLogLimit < 0) {
            throw new IllegalArgumentException("unmappedLogLimit must be >= 0, was " + unmappedLogLimit);
        }
        this.unmappedLogLimit = unmappedLogLimit;
    }

    /** {@return the name given at construction} */
    public String name() {
        return name;
    }

    /**
     * Registers a device at {@code [base, base + size - 1]}.
     *
     * @param device the device; it may be registered at several ranges
     * @param base first address, unsigned
     * @param size number of addresses, unsigned
     * @throws BusException {@link BusException.Kind#ZERO_SIZED_RANGE} if size is 0,
     *     {@link BusException.Kind#INVALID_RANGE} if the range runs past {@code 2^64 - 1},
     *     {@link BusException.Kind#OVERLAP} if it overlaps a registered range
     */
    public void insert(BusDevice device, long base, long size) {
        Objects.requireNonNull(device, "device");
        BusRange range = new BusRange(base, size);
        synchronized (layoutLock) {
            layout = layout.with(range, device, name);
        }
    }

    /**
     * Unregisters the range that starts exactly at {@code base}.
     *
     * @param base the base address the device was inserted at
     * @return the device that was registered there
     * @throws BusException {@link BusException.Kind#MISSING_ADDRESS_RANGE} if no range starts at {@code base}
     */
    public BusDevice remove(long base) {
        synchronized (layoutLock) {
            Layout current = layout;
            int i = current.indexOfBase(base);
            if (i < 0) {
                throw missing(base);
            }
            BusDevice device = current.devices[i];
            layout = current.without(i);
            return device;
        }
    }

    /**
     * Moves the range that starts at {@code oldBase} to start at {@code newBase}, keeping its size and device, as a
     * guest does when it reprograms a PCI BAR. The bus is unchanged if the move is rejected.
     *
     * @param oldBase current base of the range
     * @param newBase new base of the range
     * @throws BusException {@link BusException.Kind#MISSING_ADDRESS_RANGE} if no range starts at {@code oldBase},
     *     {@link BusException.Kind#INVALID_RANGE} if the moved range would run past {@code 2^64 - 1},
     *     {@link BusException.Kind#OVERLAP} if it would overlap another range
     */
    public void move(long oldBase, long newBase) {
        synchronized (layoutLock) {
            Layout current = layout;
            int i = current.indexOfBase(oldBase);
            if (i < 0) {
                throw missing(oldBase);
            }
            if (oldBase == newBase) {
                return;
            }
            BusRange moved = new BusRange(newBase, current.ends[i] - current.bases[i] + 1);
            // Check against the layout without the old range, so a move may overlap its own old position.
            layout = current.without(i).with(moved, current.devices[i], name);
        }
    }

    /**
     * Delivers a guest read to the device that maps all of {@code [addr, addr + data.byteSize() - 1]}.
     * {@code data} is zero-filled first, so it holds zeros wherever the device stores nothing, and in full when the
     * access is unmapped (or the unmapped byte given at construction). Allocates nothing.
     *
     * @param addr unsigned address of the first byte
     * @param data window receiving the little-endian value; its size is the access width
     * @return true if a device handled the read, false if the access was unmapped (and counted)
     */
    public boolean read(long addr, MemorySegment data) {
        data.fill((byte) 0);
        Layout l = layout;
        int i = l.find(addr, data.byteSize());
        if (i < 0) {
            if (unmappedByte != 0) {
                data.fill(unmappedByte);
            }
            unmappedReads.increment();
            noteUnmapped(addr, data.byteSize(), false);
            return false;
        }
        long base = l.bases[i];
        l.devices[i].read(base, addr - base, data);
        return true;
    }

    /**
     * Delivers a guest write to the device that maps all of {@code [addr, addr + data.byteSize() - 1]}.
     * Allocates nothing.
     *
     * @param addr unsigned address of the first byte
     * @param data window holding the little-endian value; its size is the access width
     * @return true if a device handled the write, false if the access was unmapped (dropped and counted)
     */
    public boolean write(long addr, MemorySegment data) {
        Layout l = layout;
        int i = l.find(addr, data.byteSize());
        if (i < 0) {
            unmappedWrites.increment();
            noteUnmapped(addr, data.byteSize(), true);
            return false;
        }
        long base = l.bases[i];
        l.devices[i].write(base, addr - base, data);
        return true;
    }

    /** {@return how many reads hit no device (or straddled the end of one) since construction} */
    public long unmappedReads() {
        return unmappedReads.sum();
    }

    /** {@return how many writes hit no device (or straddled the end of one) since construction} */
    public long unmappedWrites() {
        return unmappedWrites.sum();
    }

    /**
     * Finds the device whose range contains an address. Allocates; meant for setup and diagnostics.
     *
     * @param addr unsigned address
     * @return the device, or empty if the address is unmapped
     */
    public Optional<BusDevice> deviceAt(long addr) {
        Layout l = layout;
        int i = l.find(addr, 1);
        return i < 0 ? Optional.empty() : Optional.of(l.devices[i]);
    }

    /** {@return the registered ranges in ascending unsigned address order, as an immutable snapshot} */
    public List<BusRange> ranges() {
        Layout l = layout;
        List<BusRange> out = new ArrayList<>(l.bases.length);
        for (int i = 0; i < l.bases.length; i++) {
            out.add(l.range(i));
        }
        return List.copyOf(out);
    }

    @Override
    public String toString() {
        return "Bus[" + name + ", " + Arrays.toString(ranges().toArray()) + "]";
    }

    private BusException missing(long base) {
        return new BusException(BusException.Kind.MISSING_ADDRESS_RANGE,
                name + " bus: no range starts at 0x" + Long.toHexString(base));
    }

    private void noteUnmapped(long addr, long width, boolean write) {
        // Plain read first so that, once the limit is reached, the hot path neither writes shared state nor logs.
        if (unmappedLogged.get() >= unmappedLogLimit) {
            return;
        }
        int n = unmappedLogged.getAndIncrement();
        if (n >= unmappedLogLimit) {
            return;
        }
        LOG.log(System.Logger.Level.WARNING, String.format("%s bus: unmapped %d-byte %s at 0x%x%s",
                name, width, write ? "write" : "read", addr,
                n == unmappedLogLimit - 1 ? " (further unmapped accesses are only counted)" : ""));
    }
}
