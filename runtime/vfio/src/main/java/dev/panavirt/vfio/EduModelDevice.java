package dev.panavirt.vfio;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.models.vfio.IommuGroupKind;
import dev.panavirt.models.vfio.Type1Iommu;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * {@link VfioDevice} served by the edu model ({@link EduDevice}, QEMU's {@code hw/misc/edu.c}) behind a
 * {@link ModelIommu}, answering as vfio-pci does ({@code drivers/vfio/pci/vfio_pci_core.c}): regions BAR0
 * (1 MiB, read/write) and config space (256 bytes), the other BARs and the ROM empty, no VGA region;
 * interrupts INTx (eventfd, maskable, automasked), MSI (one vector), MSI-X, ERR none, REQ one. Interrupts
 * signal the eventfds given to {@link #enableIrqs}.
 *
 * <p>BAR0 is not mappable: the model cannot see stores to a plain memory segment, so {@link #map} fails with
 * {@code EINVAL}, as {@code vfio_pci_core_mmap} does for a BAR without mmap support, and region 0 lacks
 * {@code VFIO_REGION_INFO_FLAG_MMAP}. Drivers use {@link #read(int, long, int)} and
 * {@link #write(int, long, int, long)} instead.
 *
 * <p>Region accesses must lie inside the region ({@code EINVAL} otherwise, where the kernel would return a
 * short count); a segment access is split into naturally aligned 8-, 4-, 2- and 1-byte accesses as
 * {@code vfio_pci_core_do_io_rw} splits it.
 */
public final class EduModelDevice implements VfioDevice {

    /** Region indexes. */
    public static final int BAR0 = 0, ROM = 6, CONFIG = 7, VGA = 8, NUM_REGIONS = 9;
    /** Interrupt indexes. */
    public static final int INTX = 0, MSI = 1, MSIX = 2, ERR = 3, REQ = 4, NUM_IRQS = 5;

    private static final int RW = 1 | 2;
    private static final long REGION_SHIFT = 40;

    private final String name;
    private final EduDevice edu;
    private final Type1Iommu.Group group;
    private EventFd intxFd;
    private EventFd msiFd;
    private int irqType = -1;
    private long lostSignals;
    private boolean closed;

    private EduModelDevice(String name, EduDevice edu, Type1Iommu.Group group) {
        this.name = name;
        this.edu = edu;
        this.group = group;
        edu.interrupts(this::trigger);
    }

    /**
     * An edu device behind {@code iommu}.
     *
     * @param precise false: an IOMMU-backed group like vfio-pci (the device's DMA is invisible to the kernel,
     *                every mapped page is reported dirty); true: an emulated group like an mdev (DMA through
     *                {@code vfio_dma_rw}, only the pages written are reported)
     * @param timing  when the factorial and DMA complete ({@link EduDevice.Timing})
     * @throws ErrnoException as {@link Type1Iommu#attachGroup} fails
     */
    public static EduModelDevice create(ModelIommu iommu, boolean precise, EduDevice.Timing timing)
            throws ErrnoException {
        Type1Iommu.Group g = iommu.attachGroup(precise ? IommuGroupKind.EMULATED : IommuGroupKind.IOMMU);
        return new EduModelDevice(precise ? "edu-mdev" : "0000:00:03.0", new EduDevice(g, timing), g);
    }

    /** The model, for what the interface does not say (counters, timing steps). */
    public EduDevice model() {
        return edu;
    }

    /** Eventfd signals that failed (the eventfd was closed under the device). */
    public synchronized long lostSignals() {
        return lostSignals;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DeviceInfo info() {
        open();
        return new DeviceInfo(1 | 2, NUM_REGIONS, NUM_IRQS);
    }

    @Override
    public RegionInfo regionInfo(int index) throws ErrnoException {
        open();
        long offset = (long) index << REGION_SHIFT;
        return switch (index) {
            case BAR0 -> new RegionInfo(index, RW, EduDevice.BAR0_SIZE, offset, List.of());
            case CONFIG -> new RegionInfo(index, RW, EduDevice.CONFIG_SIZE, offset, List.of());
            case 1, 2, 3, 4, 5, ROM -> new RegionInfo(index, 0, 0, offset, List.of());
            default -> throw new ErrnoException("VFIO_DEVICE_GET_REGION_INFO", Errno.EINVAL,
                    "region " + index + (index == VGA ? ": no VGA" : ": no such region"));
        };
    }

    @Override
    public IrqInfo irqInfo(int index) throws ErrnoException {
        open();
        return switch (index) {
            case INTX -> new IrqInfo(index, 1 | 2 | 4, 1);
            case MSI, REQ -> new IrqInfo(index, 1 | 8, 1);
            case MSIX, ERR -> new IrqInfo(index, 1 | 8, 0);
            default -> throw new ErrnoException("VFIO_DEVICE_GET_IRQ_INFO", Errno.EINVAL, "index " + index);
        };
    }

    @Override
    public void read(int region, long offset, MemorySegment dst) throws ErrnoException {
        check("pread", region, offset, dst.byteSize());
        for (long at = 0; at < dst.byteSize(); ) {
            int w = width(offset + at, dst.byteSize() - at);
            long v = access(region, offset + at, w, false, 0);
            for (int i = 0; i < w; i++) {
                dst.set(ValueLayout.JAVA_BYTE, at + i, (byte) (v >>> (8 * i)));
            }
            at += w;
        }
    }

    @Override
    public void write(int region, long offset, MemorySegment src) throws ErrnoException {
        check("pwrite", region, offset, src.byteSize());
        for (long at = 0; at < src.byteSize(); ) {
            int w = width(offset + at, src.byteSize() - at);
            long v = 0;
            for (int i = 0; i < w; i++) {
                v |= (src.get(ValueLayout.JAVA_BYTE, at + i) & 0xffL) << (8 * i);
            }
            access(region, offset + at, w, true, v);
            at += w;
        }
    }

    @Override
    public long read(int region, long offset, int size) throws ErrnoException {
        checkSize("pread", size);
        check("pread", region, offset, size);
        return access(region, offset, size, false, 0);
    }

    @Override
    public void write(int region, long offset, int size, long value) throws ErrnoException {
        checkSize("pwrite", size);
        check("pwrite", region, offset, size);
        access(region, offset, size, true, value);
    }

    /** Always {@code EINVAL}: no region of the model is mappable (see the class comment). */
    @Override
    public MemorySegment map(int region) throws ErrnoException {
        open();
        throw new ErrnoException("mmap", Errno.EINVAL, "region " + region + " of the edu model is not mappable");
    }

    @Override
    public synchronized void enableIrqs(int index, int start, EventFd... eventfds) throws ErrnoException {
        open();
        if (eventfds.length == 0) {
            disableIrqs(index);
            return;
        }
        int count = index >= 0 && index < NUM_IRQS ? irqInfo(index).count() : 0;
        if (index < 0 || index >= NUM_IRQS || start < 0 || start + eventfds.length > count) {
            throw new ErrnoException("VFIO_DEVICE_SET_IRQS", Errno.EINVAL, "index " + index + ", start " + start
                    + ", count " + eventfds.length + ": the index has " + count + " vectors");
        }
        if ((index == INTX || index == MSI) && irqType != -1 && irqType != index) {
            throw new ErrnoException("VFIO_DEVICE_SET_IRQS", Errno.EINVAL, "index " + index
                    + " while index " + irqType + " is enabled");
        }
        if (index == INTX) {
            intxFd = eventfds[0];
            irqType = INTX;
            edu.enableIntx(true);
        } else if (index == MSI) {
            msiFd = eventfds[0];
            irqType = MSI;
            edu.enableMsi(true);
        }
        // REQ: the model never asks for the device back; the eventfd is accepted and never signalled.
    }

    @Override
    public synchronized void disableIrqs(int index) throws ErrnoException {
        open();
        if (index < 0 || index >= NUM_IRQS) {
            throw new ErrnoException("VFIO_DEVICE_SET_IRQS", Errno.EINVAL, "index " + index);
        }
        if (index == INTX && irqType == INTX) {
            edu.enableIntx(false);
            intxFd = null;
            irqType = -1;
        } else if (index == MSI && irqType == MSI) {
            edu.enableMsi(false);
            msiFd = null;
            irqType = -1;
        }
    }

    @Override
    public void unmaskIrq(int index, int vector) throws ErrnoException {
        open();
        if (index < 0 || index >= NUM_IRQS) {
            throw new ErrnoException("VFIO_DEVICE_SET_IRQS", Errno.EINVAL, "index " + index);
        }
        if (index != INTX) {
            throw new ErrnoException("VFIO_DEVICE_SET_IRQS", Errno.ENOTTY, "index " + index + " cannot be unmasked");
        }
        if (vector != 0) {
            throw new ErrnoException("VFIO_DEVICE_SET_IRQS", Errno.EINVAL, "INTx has one vector, not " + vector);
        }
        edu.unmaskIntx();
    }

    @Override
    public void reset() {
        open();
        edu.reset();
    }

    /** Turns interrupts off and detaches the device's group from the IOMMU; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        edu.enableIntx(false);
        edu.enableMsi(false);
        intxFd = null;
        msiFd = null;
        irqType = -1;
        closed = true;
        group.detach();
    }

    private synchronized void trigger(int index, int vector) {
        EventFd fd = index == EduDevice.INTX ? intxFd : msiFd;
        if (fd == null) {
            return;
        }
        try {
            fd.signal(1);
        } catch (ErrnoException | IllegalStateException e) {
            lostSignals++;
        }
    }

    private long access(int region, long offset, int width, boolean write, long value) {
        if (region == BAR0) {
            if (write) {
                edu.mmioWrite(offset, width, value);
                return 0;
            }
            return edu.mmioRead(offset, width);
        }
        if (write) {
            edu.configWrite((int) offset, width, value);
            return 0;
        }
        return edu.configRead((int) offset, width);
    }

    private static int width(long offset, long left) {
        for (int w = 8; w > 1; w >>= 1) {
            if (left >= w && (offset & (w - 1)) == 0) {
                return w;
            }
        }
        return 1;
    }

    private static void checkSize(String op, int size) throws ErrnoException {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new ErrnoException(op, Errno.EINVAL, "access of " + size + " bytes");
        }
    }

    private void check(String op, int region, long offset, long length) throws ErrnoException {
        open();
        long size = region == BAR0 ? EduDevice.BAR0_SIZE : region == CONFIG ? EduDevice.CONFIG_SIZE : 0;
        if (size == 0 || offset < 0 || length < 0 || offset > size - length) {
            throw new ErrnoException(op, Errno.EINVAL, length + " bytes at 0x" + Long.toHexString(offset)
                    + " of region " + region + " (" + size + " bytes)");
        }
    }

    private void open() {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the device is closed");
            }
        }
    }
}
