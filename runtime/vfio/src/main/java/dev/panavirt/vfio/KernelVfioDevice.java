package dev.panavirt.vfio;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_device_info;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.bindings.vfio.vfio_info_cap_header;
import dev.panavirt.bindings.vfio.vfio_irq_info;
import dev.panavirt.bindings.vfio.vfio_irq_set;
import dev.panavirt.bindings.vfio.vfio_region_info;
import dev.panavirt.bindings.vfio.vfio_region_info_cap_sparse_mmap;
import dev.panavirt.bindings.vfio.vfio_region_sparse_mmap_area;
import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A VFIO device descriptor from {@link VfioGroup#device(String)}: regions read and written with
 * {@code pread}/{@code pwrite} at the region's offset in the descriptor, or mapped; interrupts delivered to
 * eventfds; reset (drivers/vfio/vfio_main.c {@code vfio_device_fops_*}; for PCI devices
 * drivers/vfio/pci/vfio_pci_core.c {@code vfio_pci_core_ioctl}, {@code vfio_pci_rw}, {@code vfio_pci_core_mmap}).
 *
 * <p><b>Close order.</b> {@link #close()} turns off every interrupt index {@link #enableIrqs} turned on
 * ({@code VFIO_DEVICE_SET_IRQS} with count 0), then unmaps every segment {@link #map} returned (they become
 * inaccessible: using one afterwards throws {@link IllegalStateException} instead of touching freed memory),
 * then closes the descriptor. The group and the container close their devices first in the same way.
 *
 * <p><b>Errors.</b> Bad indexes, offsets and sizes get the kernel's errno as an {@link ErrnoException}; only
 * what the kernel cannot be asked is refused before it: a heap segment where a process address is needed and a
 * negative offset ({@link IllegalArgumentException}), an access width other than 1, 2, 4 or 8
 * ({@link IllegalArgumentException}), and any call after {@link #close()} ({@link IllegalStateException}).
 *
 * <p>The 1-, 2-, 4- and 8-byte accesses and {@link #unmaskIrq} allocate nothing (they use the calling thread's
 * {@link Scratch}), so any thread may issue them at once.
 */
public final class KernelVfioDevice implements VfioDevice {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int IRQ_SET_HEADER = (int) vfio_irq_set.sizeof();
    private static final long UNKNOWN = -1;

    private final VfioGroup group;
    private final Fd fd;
    private final String name;
    /** Owns the mappings {@link #map} made: closing it unmaps them. */
    private final Arena mappings = Arena.ofShared();
    /**
     * Each region's offset in the descriptor, by index, read at its first access ({@link #UNKNOWN} before: a
     * device need not have every index below its region count, e.g. a PCI function without VGA has no
     * region 8, and GET_REGION_INFO answers EINVAL for it).
     */
    private final long[] regionOffsets;
    /** Bit i: interrupt index i was turned on by {@link #enableIrqs} and not off since. */
    private volatile long enabledIrqs;
    private volatile boolean closed;

    private KernelVfioDevice(VfioGroup group, Fd fd, String name, long[] regionOffsets) {
        this.group = group;
        this.fd = fd;
        this.name = name;
        this.regionOffsets = regionOffsets;
    }

    /** Takes {@code fd}; reads the number of regions, closing {@code fd} if that fails. */
    static KernelVfioDevice adopt(VfioGroup group, Fd fd, String name) throws ErrnoException {
        try {
            long[] offsets = new long[info(fd).numRegions()];
            java.util.Arrays.fill(offsets, UNKNOWN);
            return new KernelVfioDevice(group, fd, name, offsets);
        } catch (ErrnoException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** {@inheritDoc} */
    @Override
    public String name() {
        return name;
    }

    /** The group this device was opened from. */
    public VfioGroup group() {
        return group;
    }

    /**
     * The device descriptor number (for {@code KVM_DEV_VFIO_FILE_ADD} and calls this class does not wrap);
     * valid until {@link #close()}.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public int rawFd() {
        ensureOpen();
        return fd.raw();
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public DeviceInfo info() throws ErrnoException {
        ensureOpen();
        return info(fd);
    }

    private static DeviceInfo info(Fd fd) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = vfio_device_info.allocate(a);
            vfio_device_info.argsz(s, (int) vfio_device_info.sizeof());
            Ioctl.call(fd, "VFIO_DEVICE_GET_INFO", vfio_h.VFIO_DEVICE_GET_INFO(), s, null);
            return new DeviceInfo(vfio_device_info.flags(s), vfio_device_info.num_regions(s),
                    vfio_device_info.num_irqs(s));
        }
    }

    /**
     * {@inheritDoc} Asks with the bare {@code struct vfio_region_info} first and again with the size the kernel
     * answers when the region has a capability chain; of the chain, {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP} is
     * read (for PCI: the BAR holding the MSI-X table, vfio_pci_core.c {@code msix_mmappable_cap} and
     * {@code vfio_pci_ioctl_get_region_info}).
     *
     * @throws ErrnoException EINVAL for an index the device does not have
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public RegionInfo regionInfo(int index) throws ErrnoException {
        ensureOpen();
        return regionInfo(fd, index);
    }

    private static RegionInfo regionInfo(Fd fd, int index) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            int headerSize = (int) vfio_region_info.sizeof();
            MemorySegment s = vfio_region_info.allocate(a);
            vfio_region_info.argsz(s, headerSize);
            vfio_region_info.index(s, index);
            Ioctl.call(fd, "VFIO_DEVICE_GET_REGION_INFO", vfio_h.VFIO_DEVICE_GET_REGION_INFO(), s, "region " + index);
            int wanted = vfio_region_info.argsz(s);
            if (wanted > headerSize) {
                s = a.allocate(wanted, 8);
                vfio_region_info.argsz(s, wanted);
                vfio_region_info.index(s, index);
                Ioctl.call(fd, "VFIO_DEVICE_GET_REGION_INFO", vfio_h.VFIO_DEVICE_GET_REGION_INFO(), s,
                        "region " + index + " argsz " + wanted);
            }
            int flags = vfio_region_info.flags(s);
            List<RegionInfo.Area> areas = new ArrayList<>();
            if ((flags & vfio_h.VFIO_REGION_INFO_FLAG_CAPS()) != 0) {
                long offset = Integer.toUnsignedLong(vfio_region_info.cap_offset(s));
                int guard = 0;
                while (offset != 0 && offset + vfio_info_cap_header.sizeof() <= s.byteSize() && guard++ < 64) {
                    MemorySegment cap = s.asSlice(offset);
                    if (Short.toUnsignedInt(vfio_info_cap_header.id(cap)) == vfio_h.VFIO_REGION_INFO_CAP_SPARSE_MMAP()) {
                        int n = vfio_region_info_cap_sparse_mmap.nr_areas(cap);
                        for (int i = 0; i < n; i++) {
                            MemorySegment area = vfio_region_info_cap_sparse_mmap.areas(cap, i);
                            areas.add(new RegionInfo.Area(vfio_region_sparse_mmap_area.offset(area),
                                    vfio_region_sparse_mmap_area.size(area)));
                        }
                    }
                    offset = Integer.toUnsignedLong(vfio_info_cap_header.next(cap));
                }
            }
            return new RegionInfo(index, flags, vfio_region_info.size(s), vfio_region_info.offset(s), areas);
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EINVAL for an index the device does not have (vfio_pci_core.c
     *         {@code vfio_pci_ioctl_get_irq_info})
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public IrqInfo irqInfo(int index) throws ErrnoException {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = vfio_irq_info.allocate(a);
            vfio_irq_info.argsz(s, (int) vfio_irq_info.sizeof());
            vfio_irq_info.index(s, index);
            Ioctl.call(fd, "VFIO_DEVICE_GET_IRQ_INFO", vfio_h.VFIO_DEVICE_GET_IRQ_INFO(), s, "irq index " + index);
            return new IrqInfo(index, vfio_irq_info.flags(s), vfio_irq_info.count(s));
        }
    }

    /** The descriptor offset of {@code offset} in {@code region}; the kernel answers EINVAL for a bad region. */
    private long position(int region, long offset) throws ErrnoException {
        if (offset < 0) {
            throw new IllegalArgumentException("negative region offset: " + offset);
        }
        long[] offsets = regionOffsets;
        if (region < 0 || region >= offsets.length) {
            return regionInfo(region).offset() + offset; // the kernel's EINVAL, or a region beyond the count
        }
        long base = offsets[region];
        if (base == UNKNOWN) {
            base = regionInfo(region).offset();
            offsets[region] = base; // the same value whichever thread stores it
        }
        return base + offset;
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EINVAL for a region the device does not have or a range past its end (vfio_pci_rdwr.c
     *         {@code vfio_pci_bar_rw}); EIO when the kernel transferred fewer bytes than asked
     * @throws IllegalArgumentException if {@code dst} is a heap segment or {@code offset} is negative
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void read(int region, long offset, MemorySegment dst) throws ErrnoException {
        VfioContainer.requireNative(dst, "destination");
        ensureOpen();
        transfer(false, region, offset, dst, dst.byteSize());
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException as {@link #read(int, long, MemorySegment)}
     * @throws IllegalArgumentException if {@code src} is a heap segment or {@code offset} is negative
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void write(int region, long offset, MemorySegment src) throws ErrnoException {
        VfioContainer.requireNative(src, "source");
        ensureOpen();
        transfer(true, region, offset, src, src.byteSize());
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException as {@link #read(int, long, MemorySegment)}
     * @throws IllegalArgumentException for a width other than 1, 2, 4 or 8, or a negative offset
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public long read(int region, long offset, int size) throws ErrnoException {
        checkWidth(size);
        ensureOpen();
        MemorySegment buf = Scratch.current().buffer();
        transfer(false, region, offset, buf, size);
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(buf.get(ValueLayout.JAVA_BYTE, 0));
            case 2 -> Short.toUnsignedLong(buf.get(LE_SHORT, 0));
            case 4 -> Integer.toUnsignedLong(buf.get(LE_INT, 0));
            default -> buf.get(LE_LONG, 0);
        };
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException as {@link #read(int, long, MemorySegment)}
     * @throws IllegalArgumentException for a width other than 1, 2, 4 or 8, or a negative offset
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void write(int region, long offset, int size, long value) throws ErrnoException {
        checkWidth(size);
        ensureOpen();
        MemorySegment buf = Scratch.current().buffer();
        switch (size) {
            case 1 -> buf.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
            case 2 -> buf.set(LE_SHORT, 0, (short) value);
            case 4 -> buf.set(LE_INT, 0, (int) value);
            default -> buf.set(LE_LONG, 0, value);
        }
        transfer(true, region, offset, buf, size);
    }

    private static void checkWidth(int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("access width must be 1, 2, 4 or 8 bytes: " + size);
        }
    }

    private void transfer(boolean write, int region, long offset, MemorySegment buf, long count) throws ErrnoException {
        long pos = position(region, offset);
        MemorySegment capture = Scratch.capture();
        int raw = fd.raw();
        long done = 0;
        while (done < count) {
            MemorySegment at = done == 0 ? buf : buf.asSlice(done);
            long rc = write ? Libc.pwrite(capture, raw, at, count - done, pos + done)
                    : Libc.pread(capture, raw, at, count - done, pos + done);
            if (rc == -Errno.EINTR) {
                continue;
            }
            if (rc <= 0) {
                throw new ErrnoException(write ? "pwrite" : "pread", rc == 0 ? Errno.EIO : (int) -rc,
                        (rc == 0 ? "no progress after " + done + " bytes, " : "") + "region " + region + " offset 0x"
                                + Long.toHexString(offset) + " size " + count + " on " + fd.description());
            }
            done += rc;
        }
    }

    /**
     * {@inheritDoc} A region with a sparse-mmap capability is mapped area by area into a reservation of the
     * region's size; the rest of the range has no access (touching it faults the process, as in C).
     *
     * @throws ErrnoException named {@code mmap}: EINVAL for a region that may not be mapped, has size 0 or does
     *         not exist (vfio_pci_core.c {@code vfio_pci_core_mmap}); ENOMEM without address space
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public MemorySegment map(int region) throws ErrnoException {
        ensureOpen();
        RegionInfo info = regionInfo(region);
        int prot = (info.readable() ? Libc.PROT_READ : 0) | (info.writable() ? Libc.PROT_WRITE : 0);
        long size = info.size();
        MemorySegment capture = Scratch.capture();
        synchronized (mappings) {
            ensureOpen();
            if (info.sparseAreas().isEmpty()) {
                long addr = Libc.mmap(capture, 0, size, prot, Libc.MAP_SHARED, fd.raw(), info.offset());
                checkMmap(addr, region, info.offset(), size);
                return own(addr, size);
            }
            long base = Libc.mmap(capture, 0, size, Libc.PROT_NONE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS
                    | Libc.MAP_NORESERVE, -1, 0);
            checkMmap(base, region, -1, size);
            for (RegionInfo.Area area : info.sparseAreas()) {
                long addr = Libc.mmap(capture, base + area.offset(), area.size(), prot, Libc.MAP_SHARED | Libc.MAP_FIXED,
                        fd.raw(), info.offset() + area.offset());
                if (addr < 0 && addr > -4096) {
                    Libc.munmap(capture, base, size);
                    checkMmap(addr, region, info.offset() + area.offset(), area.size());
                }
            }
            return own(base, size);
        }
    }

    private void checkMmap(long addr, int region, long offset, long size) throws ErrnoException {
        if (addr < 0 && addr > -4096) {
            throw new ErrnoException("mmap", (int) -addr, "region " + region + (offset >= 0 ? " at descriptor offset 0x"
                    + Long.toHexString(offset) : " (reservation)") + ", " + size + " bytes on " + fd.description());
        }
    }

    private MemorySegment own(long addr, long size) {
        return MemorySegment.ofAddress(addr).reinterpret(size, mappings,
                s -> Libc.munmap(Scratch.capture(), s.address(), size));
    }

    /**
     * {@inheritDoc} A {@code null} element de-assigns that vector.
     *
     * @throws ErrnoException EINVAL for an index or vector range the device does not have, or when another
     *         interrupt type is on (PCI devices use one of INTx, MSI and MSI-X at a time: vfio_pci_intrs.c
     *         {@code vfio_pci_set_irqs_ioctl}); EBADF for a closed eventfd
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void enableIrqs(int index, int start, EventFd... eventfds) throws ErrnoException {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(IRQ_SET_HEADER + 4L * eventfds.length, 8);
            fillIrqSet(s, IRQ_SET_HEADER + 4 * eventfds.length,
                    vfio_h.VFIO_IRQ_SET_DATA_EVENTFD() | vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), index, start,
                    eventfds.length);
            for (int i = 0; i < eventfds.length; i++) {
                s.set(ValueLayout.JAVA_INT, IRQ_SET_HEADER + 4L * i, eventfds[i] == null ? -1 : eventfds[i].rawFd());
            }
            Ioctl.call(fd, "VFIO_DEVICE_SET_IRQS", vfio_h.VFIO_DEVICE_SET_IRQS(), s,
                    "eventfd trigger index " + index + " start " + start + " count " + eventfds.length);
        }
        if (index >= 0 && index < 64) {
            synchronized (this) {
                enabledIrqs |= 1L << index;
            }
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EINVAL for an index the device does not have, or (vfio-pci) one that is not on
     *         (vfio_pci_intrs.c {@code vfio_pci_set_intx_trigger}, {@code vfio_pci_set_msi_trigger})
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void disableIrqs(int index) throws ErrnoException {
        ensureOpen();
        int rc = setIrqsNone(vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), index, 0, 0);
        if (rc < 0) {
            throw Ioctl.failure(fd, "VFIO_DEVICE_SET_IRQS", -rc, vfio_h.VFIO_DEVICE_SET_IRQS(),
                    "disable index " + index);
        }
        if (index >= 0 && index < 64) {
            synchronized (this) {
                enabledIrqs &= ~(1L << index);
            }
        }
    }

    /**
     * {@inheritDoc} Allocates nothing.
     *
     * @throws ErrnoException ENOTTY for an index without masking (on vfio-pci only INTx has it; MSI and MSI-X
     *         do not: vfio_pci_intrs.c {@code vfio_pci_set_irqs_ioctl}); EINVAL for a vector the index does not
     *         have or an INTx that is off ({@code vfio_set_irqs_validate_and_prepare}, {@code vfio_pci_set_intx_unmask})
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void unmaskIrq(int index, int vector) throws ErrnoException {
        ensureOpen();
        int rc = setIrqsNone(vfio_h.VFIO_IRQ_SET_ACTION_UNMASK(), index, vector, 1);
        if (rc < 0) {
            throw Ioctl.failure(fd, "VFIO_DEVICE_SET_IRQS", -rc, vfio_h.VFIO_DEVICE_SET_IRQS(),
                    "unmask index " + index + " vector " + vector);
        }
    }

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_NONE | ACTION_TRIGGER} and a count: the kernel signals the
     * vectors' eventfds itself, as if the device had interrupted (a loopback check of the eventfd wiring,
     * vfio_pci_intrs.c {@code vfio_pci_set_intx_trigger}, {@code vfio_pci_set_msi_trigger}). Allocates nothing.
     *
     * @throws ErrnoException EINVAL for an index or vector range that is not on
     * @throws IllegalStateException after {@link #close()}
     */
    public void triggerIrq(int index, int vector) throws ErrnoException {
        ensureOpen();
        int rc = setIrqsNone(vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), index, vector, 1);
        if (rc < 0) {
            throw Ioctl.failure(fd, "VFIO_DEVICE_SET_IRQS", -rc, vfio_h.VFIO_DEVICE_SET_IRQS(),
                    "trigger index " + index + " vector " + vector);
        }
    }

    private int setIrqsNone(int action, int index, int start, int count) {
        MemorySegment s = Scratch.current().buffer();
        fillIrqSet(s, IRQ_SET_HEADER, vfio_h.VFIO_IRQ_SET_DATA_NONE() | action, index, start, count);
        return Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_DEVICE_SET_IRQS(), s);
    }

    private static void fillIrqSet(MemorySegment s, int argsz, int flags, int index, int start, int count) {
        vfio_irq_set.argsz(s, argsz);
        vfio_irq_set.flags(s, flags);
        vfio_irq_set.index(s, index);
        vfio_irq_set.start(s, start);
        vfio_irq_set.count(s, count);
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EINVAL when the device offers no reset (vfio_pci_core.c {@code vfio_pci_core_ioctl});
     *         the reset's own errors otherwise
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void reset() throws ErrnoException {
        ensureOpen();
        Ioctl.call(fd, "VFIO_DEVICE_RESET", vfio_h.VFIO_DEVICE_RESET(), 0L, "device " + name);
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Turns off the interrupts it turned on, unmaps its regions and closes the descriptor, in that order.
     * Idempotent.
     */
    @Override
    public void close() {
        long irqs;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            irqs = enabledIrqs;
            enabledIrqs = 0;
        }
        if (fd.isOpen()) {
            for (int index = 0; index < 64; index++) {
                if ((irqs & 1L << index) != 0) {
                    setIrqsNone(vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), index, 0, 0); // nothing to do on failure
                }
            }
        }
        synchronized (mappings) {
            mappings.close();
        }
        fd.close();
        group.closed(this);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("VFIO device " + name + " is closed");
        }
    }

    @Override
    public String toString() {
        return "KernelVfioDevice[" + name + (closed ? ", closed" : "") + "]";
    }
}
