package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_bitmap;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.bindings.vfio.vfio_info_cap_header;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dirty_bitmap;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dirty_bitmap_get;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dma_map;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dma_unmap;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_info;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_info_cap_iova_range;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_info_cap_migration;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_info_dma_avail;
import dev.panavirt.bindings.vfio.vfio_iova_range;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A VFIO container ({@code /dev/vfio/vfio}) and the type1 IOMMU behind it: the legacy container/group API of
 * drivers/vfio/container.c and drivers/vfio/vfio_iommu_type1.c.
 *
 * <p>The sequence the kernel wants: {@link #open()}, attach at least one group with
 * {@link VfioGroup#setContainer(VfioContainer)}, then {@link #setIommu(int)} (the kernel refuses an IOMMU type
 * for a container without groups, container.c {@code vfio_ioctl_set_iommu}), then the DMA and dirty-page calls
 * of {@link Iommu}, and devices from the groups.
 *
 * <p><b>Close order.</b> {@link #close()} tears down in the order the kernel needs, whatever state the
 * caller left: (1) the devices of every attached group are closed (their region mappings unmapped and
 * their interrupts turned off, so nothing of a device still runs); (2) every DMA mapping still present is
 * removed with one {@code VFIO_IOMMU_UNMAP_DMA} of {@code VFIO_DMA_UNMAP_FLAG_ALL}, so the pages the kernel
 * pinned are unpinned before the caller frees the memory behind them; (3) every attached group is closed,
 * which unsets it from this container (the last one also releases the IOMMU, vfio_iommu_type1.c
 * {@code vfio_iommu_type1_detach_group}); (4) the container descriptor is closed. Errors on the way are
 * ignored: the descriptors go regardless, and the kernel unpins whatever is left when the IOMMU is released.
 *
 * <p><b>Errors.</b> Every ioctl failure is an {@link ErrnoException} naming the ioctl, the errno, the
 * arguments and the container; this class checks nothing the kernel checks itself, so bad arguments get the
 * kernel's own errno (SEMANTICS: the order of checks in {@code vfio_dma_do_map}, {@code vfio_dma_do_unmap}
 * and {@code vfio_iommu_type1_dirty_pages}). Only what cannot be handed to the kernel at all is refused
 * before it: a heap segment where a process address is needed ({@link IllegalArgumentException}), and any
 * call after {@link #close()} ({@link IllegalStateException}).
 *
 * <p><b>Allocation and threads.</b> The map, unmap and dirty-page calls fill argument structures this
 * container allocated once and allocate nothing themselves (only failures build an exception); calls on one
 * container are serialised on it, so any thread may use it.
 */
public final class VfioContainer implements Iommu {
    /** The path of the container device node. */
    public static final String PATH = "/dev/vfio/vfio";

    /** {@code sizeof(struct vfio_iommu_type1_dma_unmap)} plus the {@code struct vfio_bitmap} that follows it. */
    private static final int UNMAP_BITMAP_ARGSZ = (int) (vfio_iommu_type1_dma_unmap.sizeof() + vfio_bitmap.sizeof());
    /** {@code sizeof(struct vfio_iommu_type1_dirty_bitmap)} plus the {@code _get} range that follows it. */
    private static final int DIRTY_GET_ARGSZ =
            (int) (vfio_iommu_type1_dirty_bitmap.sizeof() + vfio_iommu_type1_dirty_bitmap_get.sizeof());

    private final Fd fd;
    private final Object lock = new Object();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment mapArg;
    private final MemorySegment unmapArg;
    /** The {@code struct vfio_bitmap} inside {@link #unmapArg}. */
    private final MemorySegment unmapBitmap;
    private final MemorySegment dirtyArg;
    /** The {@code struct vfio_iommu_type1_dirty_bitmap_get} inside {@link #dirtyArg}, and its bitmap. */
    private final MemorySegment dirtyRange;
    private final MemorySegment dirtyRangeBitmap;
    private final List<VfioGroup> groups = new ArrayList<>();
    private volatile int iommuType;
    private volatile boolean closed;

    private VfioContainer(Fd fd) {
        this.fd = fd;
        this.mapArg = arena.allocate(vfio_iommu_type1_dma_map.layout());
        this.unmapArg = arena.allocate(UNMAP_BITMAP_ARGSZ, 8);
        this.dirtyArg = arena.allocate(DIRTY_GET_ARGSZ, 8);
        // Slices made once: a slice per call would be an allocation per call.
        this.unmapBitmap = unmapArg.asSlice(vfio_iommu_type1_dma_unmap.sizeof(), vfio_bitmap.sizeof());
        this.dirtyRange = dirtyArg.asSlice(vfio_iommu_type1_dirty_bitmap.sizeof(),
                vfio_iommu_type1_dirty_bitmap_get.sizeof());
        this.dirtyRangeBitmap = vfio_iommu_type1_dirty_bitmap_get.bitmap(dirtyRange);
    }

    /**
     * Opens {@code /dev/vfio/vfio}: a new, empty container.
     *
     * @throws ErrnoException from open(2): ENOENT where the vfio module is not loaded, EACCES without
     *         permission on the node
     */
    public static VfioContainer open() throws ErrnoException {
        return new VfioContainer(Fd.open(PATH, Libc.O_RDWR));
    }

    /** The descriptor, for {@link VfioGroup#setContainer}. */
    Fd fd() {
        return fd;
    }

    /**
     * The container descriptor number (for {@code KVM_DEV_VFIO_FILE_ADD} and calls this class does not wrap);
     * valid until {@link #close()}.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public int rawFd() {
        ensureOpen();
        return fd.raw();
    }

    /**
     * {@code VFIO_GET_API_VERSION}: {@code VFIO_API_VERSION} (0) on every kernel that has the legacy API
     * (container.c, {@code vfio_fops_unl_ioctl}).
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public int apiVersion() throws ErrnoException {
        ensureOpen();
        return Ioctl.call(fd, "VFIO_GET_API_VERSION", vfio_h.VFIO_GET_API_VERSION(), 0L, "on the container");
    }

    /**
     * {@inheritDoc} Before {@link #setIommu} the answer is the union over the IOMMU drivers the kernel has
     * (container.c, {@code vfio_container_ioctl_check_extension}); after it, the chosen driver's (type1:
     * {@code vfio_iommu_type1_check_extension}). Unknown ids answer 0, never an error.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int checkExtension(int extension) throws ErrnoException {
        ensureOpen();
        int rc = Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_CHECK_EXTENSION(), extension);
        if (rc < 0) {
            throw Ioctl.failure(fd, "VFIO_CHECK_EXTENSION", -rc, vfio_h.VFIO_CHECK_EXTENSION(), "extension " + extension);
        }
        return rc;
    }

    /**
     * {@code VFIO_SET_IOMMU}: chooses the IOMMU model, {@code VFIO_TYPE1_IOMMU} (1, unmaps may split and
     * coalesce) or {@code VFIO_TYPE1v2_IOMMU} (3, unmaps must not bisect a mapping; dirty tracking).
     *
     * @throws ErrnoException EINVAL when no group is attached yet, an IOMMU is already set, or no driver
     *         offers {@code type}; EPERM for a group without interrupt remapping on a host that does not allow
     *         unsafe interrupts (container.c {@code vfio_ioctl_set_iommu}; vfio_iommu_type1.c
     *         {@code vfio_iommu_type1_open}, {@code vfio_iommu_type1_attach_group})
     * @throws IllegalStateException after {@link #close()}
     */
    public void setIommu(int type) throws ErrnoException {
        ensureOpen();
        Ioctl.call(fd, "VFIO_SET_IOMMU", vfio_h.VFIO_SET_IOMMU(), type, "type " + type);
        iommuType = type;
    }

    /** The type {@link #setIommu} set; 0 before, and again once the last group has left. */
    public int iommuType() {
        return iommuType;
    }

    /**
     * {@inheritDoc} Asks with the bare 24-byte {@code struct vfio_iommu_type1_info} first; the kernel answers
     * the size the whole capability chain needs in {@code argsz} (vfio_iommu_type1.c
     * {@code vfio_iommu_type1_get_info}), and a second call with that size fetches the chain, whose
     * {@code MIGRATION}, {@code DMA_AVAIL} and {@code IOVA_RANGE} capabilities are parsed. Allocates.
     *
     * @throws ErrnoException EINVAL before {@link #setIommu} (no IOMMU driver to pass the ioctl to: container.c
     *         {@code vfio_fops_unl_ioctl}); so do the other IOMMU calls
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public IommuInfo info() throws ErrnoException {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            int headerSize = (int) vfio_iommu_type1_info.sizeof();
            MemorySegment info = a.allocate(vfio_iommu_type1_info.layout());
            vfio_iommu_type1_info.argsz(info, headerSize);
            Ioctl.call(fd, "VFIO_IOMMU_GET_INFO", vfio_h.VFIO_IOMMU_GET_INFO(), info, "argsz " + headerSize);
            int wanted = vfio_iommu_type1_info.argsz(info);
            if (wanted > headerSize) {
                info = a.allocate(wanted, 8);
                vfio_iommu_type1_info.argsz(info, wanted);
                Ioctl.call(fd, "VFIO_IOMMU_GET_INFO", vfio_h.VFIO_IOMMU_GET_INFO(), info, "argsz " + wanted);
            }
            return parseInfo(info);
        }
    }

    private static IommuInfo parseInfo(MemorySegment info) {
        int flags = vfio_iommu_type1_info.flags(info);
        long pageSizes = (flags & vfio_h.VFIO_IOMMU_INFO_PGSIZES()) != 0 ? vfio_iommu_type1_info.iova_pgsizes(info) : 0;
        List<IommuInfo.IovaRange> ranges = new ArrayList<>();
        Optional<IommuInfo.Migration> migration = Optional.empty();
        OptionalInt dmaAvail = OptionalInt.empty();
        if ((flags & vfio_h.VFIO_IOMMU_INFO_CAPS()) != 0) {
            long offset = Integer.toUnsignedLong(vfio_iommu_type1_info.cap_offset(info));
            int guard = 0;
            while (offset != 0 && offset + vfio_info_cap_header.sizeof() <= info.byteSize() && guard++ < 64) {
                MemorySegment cap = info.asSlice(offset);
                int id = Short.toUnsignedInt(vfio_info_cap_header.id(cap));
                if (id == vfio_h.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE()) {
                    int n = vfio_iommu_type1_info_cap_iova_range.nr_iovas(cap);
                    for (int i = 0; i < n; i++) {
                        MemorySegment r = vfio_iommu_type1_info_cap_iova_range.iova_ranges(cap, i);
                        ranges.add(new IommuInfo.IovaRange(vfio_iova_range.start(r), vfio_iova_range.end(r)));
                    }
                } else if (id == vfio_h.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION()) {
                    migration = Optional.of(new IommuInfo.Migration(vfio_iommu_type1_info_cap_migration.flags(cap),
                            vfio_iommu_type1_info_cap_migration.pgsize_bitmap(cap),
                            vfio_iommu_type1_info_cap_migration.max_dirty_bitmap_size(cap)));
                } else if (id == vfio_h.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL()) {
                    dmaAvail = OptionalInt.of(vfio_iommu_type1_info_dma_avail.avail(cap));
                }
                offset = Integer.toUnsignedLong(vfio_info_cap_header.next(cap));
            }
        }
        return new IommuInfo(pageSizes, ranges, migration, dmaAvail);
    }

    /**
     * {@inheritDoc} The kernel pins the pages ({@code vfio_dma_do_map}); they stay pinned until unmapped.
     *
     * @throws ErrnoException EINVAL for size 0, an address, IOVA or size that is not a multiple of the smallest
     *         page size, no access bit, a range outside the allowed IOVA ranges, or (on 6.12; EOVERFLOW on newer
     *         kernels) an IOVA range that wraps; EEXIST when the range overlaps a mapping; ENOSPC when
     *         {@code dma_entry_limit} mappings exist; ENOMEM past RLIMIT_MEMLOCK; EFAULT for an address the
     *         process has not mapped
     * @throws IllegalArgumentException if {@code buffer} is a heap segment
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void map(long iova, MemorySegment buffer, int access) throws ErrnoException {
        requireNative(buffer, "DMA buffer");
        map(iova, buffer.address(), buffer.byteSize(), access);
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA} of {@code size} bytes at process address {@code vaddr}, exactly as given: for
     * memory this process mapped by other means, and for checking the kernel's own argument checks.
     *
     * @param access {@link #READ}, {@link #WRITE}, or both; passed to the kernel unchecked
     * @throws ErrnoException as {@link #map(long, MemorySegment, int)}
     * @throws IllegalStateException after {@link #close()}
     */
    public void map(long iova, long vaddr, long size, int access) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment m = mapArg;
            vfio_iommu_type1_dma_map.argsz(m, (int) vfio_iommu_type1_dma_map.sizeof());
            vfio_iommu_type1_dma_map.flags(m, access);
            vfio_iommu_type1_dma_map.vaddr(m, vaddr);
            vfio_iommu_type1_dma_map.iova(m, iova);
            vfio_iommu_type1_dma_map.size(m, size);
            int rc = Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_IOMMU_MAP_DMA(), m);
            if (rc < 0) {
                throw Ioctl.failure(fd, "VFIO_IOMMU_MAP_DMA", -rc, vfio_h.VFIO_IOMMU_MAP_DMA(),
                        "iova 0x" + Long.toHexString(iova) + " vaddr 0x" + Long.toHexString(vaddr) + " size 0x"
                                + Long.toHexString(size) + " flags " + access);
            }
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EINVAL for size 0, an unaligned IOVA or size, a wrapping range (6.12; EOVERFLOW
     *         newer), or on a v2 container a range that cuts a mapping in two (vfio_iommu_type1.c
     *         {@code vfio_dma_do_unmap}); a v1 container instead unmaps nothing of a mapping that starts below
     *         {@code iova} and the whole of one that starts inside
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public long unmap(long iova, long size) throws ErrnoException {
        return unmap(iova, size, 0, 0, MemorySegment.NULL, "VFIO_IOMMU_UNMAP_DMA");
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public long unmapAll() throws ErrnoException {
        return unmap(0, 0, vfio_h.VFIO_DMA_UNMAP_FLAG_ALL(), 0, MemorySegment.NULL, "VFIO_IOMMU_UNMAP_DMA(ALL)");
    }

    /**
     * {@inheritDoc} Allocates nothing.
     *
     * @throws ErrnoException EINVAL when tracking is off, {@code pageSize} is not the smallest IOMMU page size,
     *         or {@code bitmap} is empty, larger than 256 MiB or too small for {@code size / pageSize} bits; and
     *         the errnos of {@link #unmap(long, long)}
     * @throws IllegalArgumentException if {@code bitmap} is a heap segment
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public long unmapAndReadDirty(long iova, long size, long pageSize, MemorySegment bitmap) throws ErrnoException {
        requireNative(bitmap, "dirty bitmap");
        return unmap(iova, size, vfio_h.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP(), pageSize, bitmap,
                "VFIO_IOMMU_UNMAP_DMA(GET_DIRTY_BITMAP)");
    }

    private long unmap(long iova, long size, int flags, long pageSize, MemorySegment bitmap, String name)
            throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment u = unmapArg;
            boolean withBitmap = flags == vfio_h.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP();
            vfio_iommu_type1_dma_unmap.argsz(u, withBitmap ? UNMAP_BITMAP_ARGSZ : (int) vfio_iommu_type1_dma_unmap.sizeof());
            vfio_iommu_type1_dma_unmap.flags(u, flags);
            vfio_iommu_type1_dma_unmap.iova(u, iova);
            vfio_iommu_type1_dma_unmap.size(u, size);
            if (withBitmap) {
                MemorySegment b = unmapBitmap;
                vfio_bitmap.pgsize(b, pageSize);
                vfio_bitmap.size(b, bitmap.byteSize());
                vfio_bitmap.data(b, bitmap);
            }
            int rc = Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_IOMMU_UNMAP_DMA(), u);
            if (rc < 0) {
                throw Ioctl.failure(fd, name, -rc, vfio_h.VFIO_IOMMU_UNMAP_DMA(), "iova 0x" + Long.toHexString(iova)
                        + " size 0x" + Long.toHexString(size)
                        + (withBitmap ? " pgsize " + pageSize + " bitmap " + bitmap.byteSize() + " bytes" : ""));
            }
            return vfio_iommu_type1_dma_unmap.size(u);
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EACCES on a v1 ({@code VFIO_TYPE1_IOMMU}) container (vfio_iommu_type1.c
     *         {@code vfio_iommu_type1_dirty_pages}); ENOMEM when the bitmaps cannot be allocated
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void startDirtyTracking() throws ErrnoException {
        dirtyPages(vfio_h.VFIO_IOMMU_DIRTY_PAGES_FLAG_START(), "VFIO_IOMMU_DIRTY_PAGES(START)");
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EACCES on a v1 container
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void stopDirtyTracking() throws ErrnoException {
        dirtyPages(vfio_h.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP(), "VFIO_IOMMU_DIRTY_PAGES(STOP)");
    }

    private void dirtyPages(int flag, String name) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment d = dirtyArg;
            vfio_iommu_type1_dirty_bitmap.argsz(d, (int) vfio_iommu_type1_dirty_bitmap.sizeof());
            vfio_iommu_type1_dirty_bitmap.flags(d, flag);
            int rc = Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_IOMMU_DIRTY_PAGES(), d);
            if (rc < 0) {
                throw Ioctl.failure(fd, name, -rc, vfio_h.VFIO_IOMMU_DIRTY_PAGES(), null);
            }
        }
    }

    /**
     * {@inheritDoc} Allocates nothing. Where some attached group's device never pins pages through the
     * kernel's pinning interface (vfio-pci never does), every page of every IOMMU-mapped mapping is reported
     * dirty at every call (vfio_iommu_type1.c {@code vfio_iova_dirty_bitmap}, {@code update_user_bitmap}).
     * Bits are ORed into the bitmap in whole 64-bit words, so pass a zeroed one.
     *
     * @throws ErrnoException EINVAL when tracking is off, {@code pageSize} is not the smallest IOMMU page size,
     *         {@code iova} or {@code size} is unaligned or {@code size} is 0, the range cuts a mapping in two, or
     *         the bitmap is empty, over 256 MiB or too small; EACCES on a v1 container
     * @throws IllegalArgumentException if {@code bitmap} is a heap segment
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void readDirty(long iova, long size, long pageSize, MemorySegment bitmap) throws ErrnoException {
        requireNative(bitmap, "dirty bitmap");
        synchronized (lock) {
            ensureOpen();
            MemorySegment d = dirtyArg;
            vfio_iommu_type1_dirty_bitmap.argsz(d, DIRTY_GET_ARGSZ);
            vfio_iommu_type1_dirty_bitmap.flags(d, vfio_h.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP());
            MemorySegment range = dirtyRange;
            vfio_iommu_type1_dirty_bitmap_get.iova(range, iova);
            vfio_iommu_type1_dirty_bitmap_get.size(range, size);
            MemorySegment b = dirtyRangeBitmap;
            vfio_bitmap.pgsize(b, pageSize);
            vfio_bitmap.size(b, bitmap.byteSize());
            vfio_bitmap.data(b, bitmap);
            int rc = Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_IOMMU_DIRTY_PAGES(), d);
            if (rc < 0) {
                throw Ioctl.failure(fd, "VFIO_IOMMU_DIRTY_PAGES(GET_BITMAP)", -rc, vfio_h.VFIO_IOMMU_DIRTY_PAGES(),
                        "iova 0x" + Long.toHexString(iova) + " size 0x" + Long.toHexString(size) + " pgsize "
                                + pageSize + " bitmap " + bitmap.byteSize() + " bytes");
            }
        }
    }

    /** Records a group that {@link VfioGroup#setContainer} attached. */
    void attached(VfioGroup group) {
        synchronized (groups) {
            groups.add(group);
        }
    }

    /**
     * Forgets a group that was unset or closed; when it was the last, the kernel released the IOMMU with it
     * (container.c {@code vfio_group_detach_container}), so the type is unset too.
     */
    void detached(VfioGroup group) {
        synchronized (groups) {
            groups.remove(group);
            if (groups.isEmpty()) {
                iommuType = 0;
            }
        }
    }

    /** The groups attached now. */
    public List<VfioGroup> groups() {
        synchronized (groups) {
            return List.copyOf(groups);
        }
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes the devices of the attached groups, unmaps every DMA mapping, closes the groups and then the
     * container, in that order (see the class description). Idempotent.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            List<VfioGroup> attached = groups();
            for (VfioGroup g : attached) {
                g.closeDevices();
            }
            if (iommuType != 0 && fd.isOpen()) {
                MemorySegment u = unmapArg;
                vfio_iommu_type1_dma_unmap.argsz(u, (int) vfio_iommu_type1_dma_unmap.sizeof());
                vfio_iommu_type1_dma_unmap.flags(u, vfio_h.VFIO_DMA_UNMAP_FLAG_ALL());
                vfio_iommu_type1_dma_unmap.iova(u, 0);
                vfio_iommu_type1_dma_unmap.size(u, 0);
                Ioctl.raw(Scratch.capture(), fd, vfio_h.VFIO_IOMMU_UNMAP_DMA(), u); // nothing more to do on failure
            }
            for (VfioGroup g : attached) {
                g.close();
            }
            closed = true;
            fd.close();
            arena.close();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("VFIO container is closed");
        }
    }

    static void requireNative(MemorySegment s, String what) {
        if (!s.isNative()) {
            throw new IllegalArgumentException(what + " must be native memory (a heap segment has no stable address): " + s);
        }
    }

    @Override
    public String toString() {
        return "VfioContainer[" + fd + (iommuType != 0 ? ", type " + iommuType : "") + "]";
    }
}
