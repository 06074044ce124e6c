package dev.panavirt.models.vfio;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A software VFIO type1 IOMMU container: DMA mappings, their accounting, the pinning API of emulated
 * devices, and dirty-page tracking, with the kernel's argument checks in the kernel's order and its errnos
 * ({@code drivers/vfio/vfio_iommu_type1.c}). Each ioctl is one method taking the ioctl's fields
 * ({@link #mapDma}, {@link #unmapDma}, {@link #dirtyPages}, {@link #getInfo}, {@link #checkExtension});
 * {@link Group} is an attached group and carries what the kernel offers a device driver
 * ({@code vfio_pin_pages}, {@code vfio_unpin_pages}, {@code vfio_dma_rw}) and, for IOMMU-backed groups, the
 * hardware translation a device's DMA goes through.
 *
 * <p>Process memory behind a mapping's {@code vaddr} is a {@link HostMemory}; dirty bitmaps are written
 * through {@link BitmapWords}, allocating nothing. Failures are {@link ErrnoException}s naming the ioctl, with
 * the kernel's errno. The {@link KernelProfile} picks 6.12's or current upstream's answers where they differ.
 *
 * <p>Where the model differs from the kernel: when a mapping with pinned pages is unmapped, the pinning
 * groups' {@link Group#onDmaUnmap listeners} are told (as {@code vfio_notify_dma_unmap} tells drivers) and the
 * pages still pinned afterwards are released by the model, where the kernel would retry and then BUG; pinning
 * requires a page-aligned iova. Methods are {@code synchronized}: one lock, as the kernel's
 * {@code iommu->lock}.
 */
public final class Type1Iommu {

    /** IOMMU types ({@code VFIO_TYPE1_IOMMU}, {@code VFIO_TYPE1v2_IOMMU}, {@code VFIO_TYPE1_NESTING_IOMMU}). */
    public static final int TYPE1 = 1, TYPE1V2 = 3, TYPE1_NESTING = 6;
    /** Extension ids answered by {@link #checkExtension}. */
    public static final int DMA_CC_IOMMU = 4, UNMAP_ALL = 9, UPDATE_VADDR = 10;
    /** {@code VFIO_DMA_MAP_FLAG_*}; also the prot bits of a mapping. */
    public static final int READ = 1, WRITE = 2, MAP_VADDR = 4;
    /** {@code VFIO_DMA_UNMAP_FLAG_*}. */
    public static final int UNMAP_GET_DIRTY_BITMAP = 1, UNMAP_FLAG_ALL = 2, UNMAP_VADDR = 4;
    /** {@code VFIO_IOMMU_DIRTY_PAGES_FLAG_*}. */
    public static final int DIRTY_START = 1, DIRTY_STOP = 2, DIRTY_GET_BITMAP = 4;
    /** {@code sizeof} of the ioctl structs: dma_map 32, dma_unmap 24, vfio_bitmap 24, dirty_bitmap 8, _get 40. */
    public static final int MAP_SIZE = 32, UNMAP_SIZE = 24, BITMAP_SIZE = 24, DIRTY_SIZE = 8, DIRTY_GET_SIZE = 40;
    /** {@code dma_entry_limit}'s default. */
    public static final int DEFAULT_DMA_ENTRY_LIMIT = 65535;
    /** The host page size and {@code PAGE_MASK}: the page-size bitmap before any domain. */
    public static final long PAGE_SIZE = 4096, PAGE_MASK = ~(PAGE_SIZE - 1);
    /** The page sizes an x86 IOMMU domain offers by default: 4 KiB, 2 MiB, 1 GiB. */
    public static final long X86_DOMAIN_PGSIZES = 0x4020_1000L;
    /** {@code DIRTY_BITMAP_SIZE_MAX}: largest user bitmap, bytes. */
    public static final long DIRTY_BITMAP_SIZE_MAX = 0x1000_0000L;
    /** {@code DIRTY_BITMAP_PAGES_MAX}: most pages one mapping's bitmap may cover. */
    public static final long DIRTY_BITMAP_PAGES_MAX = Integer.MAX_VALUE;
    /** x86-64's {@code TASK_SIZE_MAX} with 4-level paging: {@code access_ok}'s limit. */
    public static final long TASK_SIZE_MAX = 0x7fff_ffff_f000L;
    /** {@code VFIO_PIN_PAGES_MAX_ENTRIES}. */
    public static final int PIN_PAGES_MAX = 512;

    private static final long MAP_REQ = vfio_h.VFIO_IOMMU_MAP_DMA(), UNMAP_REQ = vfio_h.VFIO_IOMMU_UNMAP_DMA(),
            DIRTY_REQ = vfio_h.VFIO_IOMMU_DIRTY_PAGES(), INFO_REQ = vfio_h.VFIO_IOMMU_GET_INFO(),
            SET_IOMMU_REQ = vfio_h.VFIO_SET_IOMMU();

    /**
     * One allowed IOVA range, both ends inclusive ({@code struct vfio_iova_range}).
     *
     * @param start first address
     * @param end   last address
     */
    public record IovaRange(long start, long end) {
        /** Whether {@code [first, last]} lies inside. */
        public boolean contains(long first, long last) {
            return Long.compareUnsigned(first, start) >= 0 && Long.compareUnsigned(last, end) <= 0;
        }
    }

    /**
     * How the container is set up.
     *
     * @param profile           which kernel's answers
     * @param dmaEntryLimit     {@code dma_entry_limit}: mappings a container may hold
     * @param domainPgsizes     page sizes of the IOMMU domain IOMMU-backed groups attach to
     * @param iovaRanges        the domain's allowed IOVA ranges (aperture minus reserved regions); they apply
     *                          while an IOMMU-backed group is attached, an emulated-only container has none
     * @param cacheCoherent     whether the domain enforces cache coherency ({@code VFIO_DMA_CC_IOMMU})
     * @param lockedMemoryLimit {@code RLIMIT_MEMLOCK} in bytes for pinning, or -1 for none (CAP_IPC_LOCK)
     */
    public record Options(KernelProfile profile, int dmaEntryLimit, long domainPgsizes, List<IovaRange> iovaRanges,
            boolean cacheCoherent, long lockedMemoryLimit) {

        /** @throws NullPointerException if a component is null */
        public Options {
            Objects.requireNonNull(profile);
            iovaRanges = List.copyOf(iovaRanges);
        }

        /** Upstream behaviour, 65535 entries, x86 page sizes, one range {@code [0, 2^64-1]}, no memlock limit. */
        public static Options defaults() {
            return new Options(KernelProfile.LATEST, DEFAULT_DMA_ENTRY_LIMIT, X86_DOMAIN_PGSIZES,
                    List.of(new IovaRange(0, -1L)), true, -1);
        }

        /** These options answering as {@code p}. */
        public Options withProfile(KernelProfile p) {
            return new Options(p, dmaEntryLimit, domainPgsizes, iovaRanges, cacheCoherent, lockedMemoryLimit);
        }

        /** These options with {@code limit} mappings. */
        public Options withDmaEntryLimit(int limit) {
            return new Options(profile, limit, domainPgsizes, iovaRanges, cacheCoherent, lockedMemoryLimit);
        }

        /** These options with the domain's IOVA ranges. */
        public Options withIovaRanges(List<IovaRange> ranges) {
            return new Options(profile, dmaEntryLimit, domainPgsizes, ranges, cacheCoherent, lockedMemoryLimit);
        }

        /** These options with the domain's page sizes. */
        public Options withDomainPgsizes(long pgsizes) {
            return new Options(profile, dmaEntryLimit, pgsizes, iovaRanges, cacheCoherent, lockedMemoryLimit);
        }

        /** These options with a locked-memory limit in bytes (-1: none). */
        public Options withLockedMemoryLimit(long bytes) {
            return new Options(profile, dmaEntryLimit, domainPgsizes, iovaRanges, cacheCoherent, bytes);
        }
    }

    /** Told to release pinned pages in a range that is being unmapped ({@code vfio_device_ops.dma_unmap}). */
    @FunctionalInterface
    public interface DmaUnmapListener {
        /** The driver must {@link Group#unpinPages unpin} its pages in {@code [iova, iova + size)}. */
        void dmaUnmap(long iova, long size);
    }

    /** {@code struct vfio_dma}. */
    private static final class Dma {
        final long iova;
        long vaddr;
        final long size;
        final int prot;
        boolean iommuMapped;
        boolean vaddrInvalid;
        DirtyBits bits;
        long[] pinIova = new long[0];
        int[] pinRef = new int[0];
        int pins;

        Dma(long iova, long vaddr, long size, int prot) {
            this.iova = iova;
            this.vaddr = vaddr;
            this.size = size;
            this.prot = prot;
        }

        long last() {
            return iova + size - 1;
        }

        boolean contains(long a) {
            return Long.compareUnsigned(a - iova, size) < 0;
        }

        int pinIndex(long pageIova) {
            for (int i = 0; i < pins; i++) {
                if (pinIova[i] == pageIova) {
                    return i;
                }
            }
            return -1;
        }
    }

    private final Options options;
    private final boolean v2;
    private final HostMemory host;
    private Dma[] dmas = new Dma[16];
    private int count;
    private int dmaAvail;
    private boolean tracking;
    private int vaddrInvalidCount;
    private int nonPinnedGroups;
    private int iommuGroups;
    private int emulatedGroups;
    private long pgsizeBitmap = PAGE_MASK;
    private final List<Group> groups = new ArrayList<>();

    private Type1Iommu(int type, Options options, HostMemory host) {
        this.options = options;
        this.v2 = type != TYPE1;
        this.host = host;
        this.dmaAvail = options.dmaEntryLimit();
    }

    /**
     * {@code VFIO_SET_IOMMU}: a container of {@code type} ({@code vfio_iommu_type1_open}): 1 gives v1
     * semantics, 3 and 6 give v2.
     *
     * @throws ErrnoException {@code EINVAL} for any other type
     */
    public static Type1Iommu open(int type, Options options, HostMemory host) throws ErrnoException {
        if (type != TYPE1 && type != TYPE1V2 && type != TYPE1_NESTING) {
            throw new ErrnoException("VFIO_SET_IOMMU", Errno.EINVAL, SET_IOMMU_REQ,
                    "type " + type + " is not a type1 IOMMU (1, 3 or 6)");
        }
        return new Type1Iommu(type, Objects.requireNonNull(options), Objects.requireNonNull(host));
    }

    /** A v2 container with {@link Options#defaults()}. */
    public static Type1Iommu open(HostMemory host) {
        return new Type1Iommu(TYPE1V2, Options.defaults(), host);
    }

    /** The options the container was opened with. */
    public Options options() {
        return options;
    }

    /** Whether the container has v2 semantics. */
    public boolean v2() {
        return v2;
    }

    // ---------------------------------------------------------------------------------------- queries

    /** The page-size bitmap ({@code pgsize_bitmap}). */
    public synchronized long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    /** The smallest page size: the granule of every iova, vaddr, size and bitmap page. */
    public synchronized long minPageSize() {
        return Long.lowestOneBit(pgsizeBitmap);
    }

    /** Mappings that may still be created. */
    public synchronized int dmaAvail() {
        return dmaAvail;
    }

    /** Current mappings. */
    public synchronized int mappingCount() {
        return count;
    }

    /** Whether dirty tracking is on. */
    public synchronized boolean tracking() {
        return tracking;
    }

    /** {@code num_non_pinned_groups}. */
    public synchronized int nonPinnedGroups() {
        return nonPinnedGroups;
    }

    /** The allowed IOVA ranges: the domain's while an IOMMU-backed group is attached, else none (all allowed). */
    public synchronized List<IovaRange> iovaRanges() {
        return iommuGroups > 0 ? options.iovaRanges() : List.of();
    }

    /** The mappings in IOVA order (a copy). */
    public synchronized List<DmaMapping> mappings() {
        List<DmaMapping> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Dma d = dmas[i];
            out.add(new DmaMapping(d.iova, d.vaddr, d.size, d.prot, d.iommuMapped, d.vaddrInvalid, d.pins));
        }
        return out;
    }

    /** The mapping that contains {@code iova}, or {@code null}. */
    public synchronized DmaMapping mappingAt(long iova) {
        int i = containing(iova);
        if (i < 0) {
            return null;
        }
        Dma d = dmas[i];
        return new DmaMapping(d.iova, d.vaddr, d.size, d.prot, d.iommuMapped, d.vaddrInvalid, d.pins);
    }

    /**
     * Whether page {@code iova} of a mapping is marked dirty in the model's own bitmap (what the next report
     * adds to for non-pinned scope aside). False when tracking is off or nothing is mapped there.
     */
    public synchronized boolean dirtyBit(long iova) {
        int i = containing(iova);
        if (i < 0 || dmas[i].bits == null) {
            return false;
        }
        return dmas[i].bits.get((iova - dmas[i].iova) >>> shift());
    }

    /** Bytes counted against the locked-memory limit: IOMMU-mapped mappings, or pinned pages without a domain. */
    public synchronized long lockedBytes() {
        long n = 0;
        for (int i = 0; i < count; i++) {
            Dma d = dmas[i];
            n += d.iommuMapped ? d.size : (iommuGroups == 0 ? d.pins * PAGE_SIZE : 0);
        }
        return n;
    }

    // ---------------------------------------------------------------------------------------- ioctls

    /**
     * {@code VFIO_CHECK_EXTENSION} on the container ({@code vfio_iommu_type1_check_extension}): 1 for the type1
     * types and {@code VFIO_UNMAP_ALL}; {@code VFIO_UPDATE_VADDR} while no emulated group is attached;
     * {@code VFIO_DMA_CC_IOMMU} when there is a domain and it is coherent; the nesting type (6) only in
     * {@link KernelProfile#V6_12}; 0 otherwise.
     */
    public synchronized int checkExtension(long extension) {
        if (extension == TYPE1 || extension == TYPE1V2 || extension == UNMAP_ALL) {
            return 1;
        }
        if (extension == TYPE1_NESTING) {
            return options.profile() == KernelProfile.V6_12 ? 1 : 0;
        }
        if (extension == UPDATE_VADDR) {
            return emulatedGroups == 0 ? 1 : 0;
        }
        if (extension == DMA_CC_IOMMU) {
            return iommuGroups > 0 && options.cacheCoherent() ? 1 : 0;
        }
        return 0;
    }

    /**
     * {@code VFIO_IOMMU_GET_INFO} as values ({@code vfio_iommu_type1_get_info}).
     *
     * @param argsz the caller's {@code argsz} (unsigned); what it changes is in {@link Type1Info#toBytes}
     * @throws ErrnoException {@code EINVAL} if {@code argsz} &lt; 16
     */
    public synchronized Type1Info getInfo(int argsz) throws ErrnoException {
        if (Integer.compareUnsigned(argsz, Type1Info.MINSZ) < 0) {
            throw new ErrnoException("VFIO_IOMMU_GET_INFO", Errno.EINVAL, INFO_REQ,
                    "argsz " + Integer.toUnsignedString(argsz) + " < 16");
        }
        return new Type1Info(pgsizeBitmap, Long.lowestOneBit(pgsizeBitmap), DIRTY_BITMAP_SIZE_MAX, dmaAvail,
                iovaRanges());
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA} ({@code vfio_iommu_type1_map_dma}, {@code vfio_dma_do_map}). Checks, first
     * failure wins: argsz &lt; 32 or unknown flags EINVAL; size 0 EINVAL; iova or vaddr range wrapping past
     * 2^64 EOVERFLOW (EINVAL in 6.12); READ/WRITE with VADDR, or none of them, EINVAL; iova, vaddr or size not
     * a multiple of the smallest page EINVAL; VADDR: no overlapping mapping ENOENT, one that is not
     * vaddr-invalid or not exactly this range EINVAL, else the vaddr is replaced; overlap EEXIST; no entry left
     * ENOSPC; outside every allowed IOVA range EINVAL; with a domain, pinning over the locked-memory limit
     * ENOMEM, unbacked memory EFAULT; while tracking, more than 2^31−1 pages EINVAL.
     */
    public synchronized void mapDma(int argsz, int flags, long vaddr, long iova, long size) throws ErrnoException {
        if (Integer.compareUnsigned(argsz, MAP_SIZE) < 0 || (flags & ~(READ | WRITE | MAP_VADDR)) != 0) {
            throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size,
                    Integer.compareUnsigned(argsz, MAP_SIZE) < 0 ? "argsz < 32" : "unknown flags");
        }
        if (size == 0) {
            throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size, "size is 0");
        }
        if (Long.compareUnsigned(iova + size - 1, iova) < 0 || Long.compareUnsigned(vaddr + size - 1, vaddr) < 0) {
            throw mapError(overflowErrno(), argsz, flags, vaddr, iova, size, "range wraps past 2^64");
        }
        int prot = flags & (READ | WRITE);
        boolean setVaddr = (flags & MAP_VADDR) != 0;
        if ((prot != 0 && setVaddr) || (prot == 0 && !setVaddr)) {
            throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size,
                    setVaddr ? "VADDR with READ/WRITE" : "neither READ, WRITE nor VADDR");
        }
        long pg = minPage();
        if (((size | iova | vaddr) & (pg - 1)) != 0) {
            throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size, "not a multiple of the page size " + pg);
        }
        int hit = firstOverlap(iova, iova + size - 1);
        if (setVaddr) {
            if (hit < 0) {
                throw mapError(Errno.ENOENT, argsz, flags, vaddr, iova, size, "no mapping there");
            }
            Dma d = dmas[hit];
            if (!d.vaddrInvalid || d.iova != iova || d.size != size) {
                throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size,
                        d.vaddrInvalid ? "not exactly the invalidated mapping" : "the mapping's vaddr is valid");
            }
            d.vaddr = vaddr;
            d.vaddrInvalid = false;
            vaddrInvalidCount--;
            return;
        }
        if (hit >= 0) {
            throw mapError(Errno.EEXIST, argsz, flags, vaddr, iova, size,
                    "overlaps the mapping at 0x" + Long.toHexString(dmas[hit].iova));
        }
        if (dmaAvail == 0) {
            throw mapError(Errno.ENOSPC, argsz, flags, vaddr, iova, size,
                    "dma_entry_limit " + options.dmaEntryLimit() + " reached");
        }
        if (!iovaAllowed(iova, iova + size - 1)) {
            throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size, "outside the allowed IOVA ranges");
        }
        if (iommuGroups > 0) {
            long limit = options.lockedMemoryLimit();
            if (limit >= 0 && Long.compareUnsigned(lockedBytes() + size, limit) > 0) {
                throw mapError(Errno.ENOMEM, argsz, flags, vaddr, iova, size, "RLIMIT_MEMLOCK exceeded");
            }
            if (!host.backed(vaddr, size)) {
                throw mapError(Errno.EFAULT, argsz, flags, vaddr, iova, size, "vaddr range is not backed");
            }
        }
        Dma d = new Dma(iova, vaddr, size, prot);
        d.iommuMapped = iommuGroups > 0;
        if (tracking) {
            if ((size >>> Long.numberOfTrailingZeros(pg)) > DIRTY_BITMAP_PAGES_MAX) {
                throw mapError(Errno.EINVAL, argsz, flags, vaddr, iova, size, "too many pages for a dirty bitmap");
            }
            d.bits = new DirtyBits(size >>> shift());
        }
        insert(d);
        dmaAvail--;
    }

    /** {@link #mapDma} with argsz 32. */
    public void map(long iova, long vaddr, long size, int prot) throws ErrnoException {
        mapDma(MAP_SIZE, prot, vaddr, iova, size);
    }

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA} ({@code vfio_iommu_type1_unmap_dma}, {@code vfio_dma_do_unmap}). Checks,
     * first failure wins: argsz &lt; 24 or unknown flags EINVAL; GET_DIRTY_BITMAP with ALL or VADDR EINVAL;
     * GET_DIRTY_BITMAP: argsz &lt; 48, bitmap not a valid user range, or a bitmap too small for
     * {@code size / bitmapPgsize} pages (or empty, or over 256 MiB) EINVAL; VADDR with an emulated group
     * EBUSY; iova not page-aligned EINVAL; ALL with a non-zero iova or size EINVAL; otherwise size 0 or not
     * page-aligned EINVAL, wrap EOVERFLOW (EINVAL in 6.12); GET_DIRTY_BITMAP while not tracking or with another
     * page size EINVAL; v2: a mapping bisected at either end EINVAL. Then mappings starting in the range go
     * (v1 stops at one starting below {@code iova}); their dirty bits are written first when asked (an
     * {@code EFAULT} there stops the walk, mappings already removed stay removed).
     *
     * <p>In {@link KernelProfile#V6_12} a range ending exactly at 2^64−1 (not ALL) unmaps nothing and returns 0.
     *
     * @param bitmapPgsize {@code vfio_bitmap.pgsize} (GET_DIRTY_BITMAP only)
     * @param bitmapSize   {@code vfio_bitmap.size} in bytes
     * @param bitmapData   {@code vfio_bitmap.data}: the user address, for the {@code access_ok} check
     * @param bitmap       where the words go
     * @return bytes unmapped ({@code unmap.size} as written back)
     */
    public synchronized long unmapDma(int argsz, int flags, long iova, long size, long bitmapPgsize, long bitmapSize,
            long bitmapData, BitmapWords bitmap) throws ErrnoException {
        if (Integer.compareUnsigned(argsz, UNMAP_SIZE) < 0
                || (flags & ~(UNMAP_GET_DIRTY_BITMAP | UNMAP_FLAG_ALL | UNMAP_VADDR)) != 0) {
            throw unmapError(Errno.EINVAL, flags, iova, size,
                    Integer.compareUnsigned(argsz, UNMAP_SIZE) < 0 ? "argsz < 24" : "unknown flags");
        }
        boolean getBitmap = (flags & UNMAP_GET_DIRTY_BITMAP) != 0;
        boolean all = (flags & UNMAP_FLAG_ALL) != 0;
        boolean invalidate = (flags & UNMAP_VADDR) != 0;
        if (getBitmap && (all || invalidate)) {
            throw unmapError(Errno.EINVAL, flags, iova, size, "GET_DIRTY_BITMAP with ALL or VADDR");
        }
        if (getBitmap) {
            if (Integer.compareUnsigned(argsz, UNMAP_SIZE + BITMAP_SIZE) < 0) {
                throw unmapError(Errno.EINVAL, flags, iova, size, "argsz < 48 with GET_DIRTY_BITMAP");
            }
            checkBitmap("VFIO_IOMMU_UNMAP_DMA", UNMAP_REQ, size, bitmapPgsize, bitmapSize, bitmapData);
        }
        if (invalidate && emulatedGroups > 0) {
            throw unmapError(Errno.EBUSY, flags, iova, size, "VADDR while an emulated group is attached");
        }
        long pg = minPage();
        if ((iova & (pg - 1)) != 0) {
            throw unmapError(Errno.EINVAL, flags, iova, size, "iova not a multiple of the page size " + pg);
        }
        if (all) {
            if (iova != 0 || size != 0) {
                throw unmapError(Errno.EINVAL, flags, iova, size, "ALL needs iova and size 0");
            }
            size = -1L;
        } else if (size == 0 || (size & (pg - 1)) != 0) {
            throw unmapError(Errno.EINVAL, flags, iova, size, size == 0 ? "size is 0" : "size not page-aligned");
        } else if (Long.compareUnsigned(iova + size - 1, iova) < 0) {
            throw unmapError(overflowErrno(), flags, iova, size, "range wraps past 2^64");
        }
        if (getBitmap && (!tracking || bitmapPgsize != pg)) {
            throw unmapError(Errno.EINVAL, flags, iova, size,
                    !tracking ? "dirty tracking is off" : "bitmap pgsize " + bitmapPgsize + " is not " + pg);
        }
        long last = iova + size - 1;
        if (v2 && !all) {
            checkNotBisected("VFIO_IOMMU_UNMAP_DMA", UNMAP_REQ, iova, last);
        }
        if (options.profile() == KernelProfile.V6_12 && !all && iova + size == 0) {
            return 0;                          // 6.12: iova + size wrapped to 0, the walk ends at once
        }
        long unmapped = 0;
        int first = firstOverlap(iova, last);
        if (first < 0) {
            return 0;
        }
        int i = first;
        while (i < count) {
            Dma d = dmas[i];
            if (Long.compareUnsigned(d.iova, last) > 0) {
                break;
            }
            if (!v2 && Long.compareUnsigned(iova, d.iova) > 0) {
                break;
            }
            if (invalidate) {
                if (d.vaddrInvalid) {
                    for (int j = first; j < i; j++) {
                        dmas[j].vaddrInvalid = false;
                        vaddrInvalidCount--;
                    }
                    throw unmapError(Errno.EINVAL, flags, iova, size,
                            "the mapping at 0x" + Long.toHexString(d.iova) + " is already vaddr-invalid");
                }
                d.vaddrInvalid = true;
                vaddrInvalidCount++;
                unmapped += d.size;
                i++;
                continue;
            }
            if (d.pins > 0) {
                notifyUnmap(d);
            }
            if (getBitmap) {
                report(d, iova, pg, bitmap);
            }
            unmapped += d.size;
            remove(i);
        }
        return unmapped;
    }

    /** {@link #unmapDma} of {@code [iova, iova + size)} without flags. */
    public long unmap(long iova, long size) throws ErrnoException {
        return unmapDma(UNMAP_SIZE, 0, iova, size, 0, 0, 0, null);
    }

    /** {@link #unmapDma} with {@code VFIO_DMA_UNMAP_FLAG_ALL}. */
    public long unmapAll() throws ErrnoException {
        return unmapDma(UNMAP_SIZE, UNMAP_FLAG_ALL, 0, 0, 0, 0, 0, null);
    }

    /**
     * {@code VFIO_IOMMU_DIRTY_PAGES} ({@code vfio_iommu_type1_dirty_pages}). v1 container EACCES; argsz &lt; 8,
     * unknown flags, no flag or more than one EINVAL. START allocates a bitmap per mapping (EINVAL for a mapping
     * of more than 2^31−1 pages, nothing changes) pre-set with its pinned pages; STOP frees them; both are
     * idempotent. GET_BITMAP: argsz − 8 &lt; 40 EINVAL; size 0 EINVAL; wrap EOVERFLOW (6.12: EINVAL, and a
     * range ending exactly at 2^64 wraps); bitmap not a valid user range EINVAL; bitmap size wrong EINVAL;
     * pgsize not the smallest page, iova or size not page-aligned, tracking off, or a mapping bisected at
     * either end EINVAL. Then each mapping starting in the range has its bits written at bit
     * {@code (mapping.iova − iova) / pgsize} and cleared, pinned pages set again.
     *
     * @param argsz        the struct's argsz (8 for START/STOP, 48 for GET_BITMAP)
     * @param iova         GET_BITMAP: first address
     * @param size         GET_BITMAP: bytes
     * @param bitmapPgsize GET_BITMAP: {@code bitmap.pgsize}
     * @param bitmapSize   GET_BITMAP: {@code bitmap.size} in bytes
     * @param bitmapData   GET_BITMAP: {@code bitmap.data}, for the {@code access_ok} check
     * @param bitmap       GET_BITMAP: where the words go
     */
    public synchronized void dirtyPages(int argsz, int flags, long iova, long size, long bitmapPgsize,
            long bitmapSize, long bitmapData, BitmapWords bitmap) throws ErrnoException {
        if (!v2) {
            throw dirtyError(Errno.EACCES, flags, "not a v2 container");
        }
        if (Integer.compareUnsigned(argsz, DIRTY_SIZE) < 0
                || (flags & ~(DIRTY_START | DIRTY_STOP | DIRTY_GET_BITMAP)) != 0) {
            throw dirtyError(Errno.EINVAL, flags, Integer.compareUnsigned(argsz, DIRTY_SIZE) < 0 ? "argsz < 8"
                    : "unknown flags");
        }
        if (Integer.bitCount(flags) != 1) {
            throw dirtyError(Errno.EINVAL, flags, flags == 0 ? "no flag" : "more than one flag");
        }
        if (flags == DIRTY_START) {
            if (!tracking) {
                long shift = shift();
                for (int i = 0; i < count; i++) {
                    if ((dmas[i].size >>> shift) > DIRTY_BITMAP_PAGES_MAX) {
                        throw dirtyError(Errno.EINVAL, flags, "the mapping at 0x" + Long.toHexString(dmas[i].iova)
                                + " has more than 2^31-1 pages");
                    }
                }
                for (int i = 0; i < count; i++) {
                    dmas[i].bits = new DirtyBits(dmas[i].size >>> shift);
                    populatePinned(dmas[i]);
                }
                tracking = true;
            }
            return;
        }
        if (flags == DIRTY_STOP) {
            if (tracking) {
                tracking = false;
                for (int i = 0; i < count; i++) {
                    dmas[i].bits = null;
                }
            }
            return;
        }
        String op = "VFIO_IOMMU_DIRTY_PAGES";
        if (Integer.toUnsignedLong(argsz) - DIRTY_SIZE < DIRTY_GET_SIZE) {
            throw dirtyError(Errno.EINVAL, flags, "argsz " + Integer.toUnsignedString(argsz) + " < 48 for GET_BITMAP");
        }
        if (options.profile() == KernelProfile.V6_12) {
            if (Long.compareUnsigned(iova + size, iova) < 0) {
                throw rangeError(op, DIRTY_REQ, Errno.EINVAL, iova, size, "range wraps past 2^64");
            }
        } else {
            if (size == 0) {
                throw rangeError(op, DIRTY_REQ, Errno.EINVAL, iova, size, "size is 0");
            }
            if (Long.compareUnsigned(iova + size - 1, iova) < 0) {
                throw rangeError(op, DIRTY_REQ, Errno.EOVERFLOW, iova, size, "range wraps past 2^64");
            }
        }
        checkBitmap(op, DIRTY_REQ, size, bitmapPgsize, bitmapSize, bitmapData);
        long pg = minPage();
        if (bitmapPgsize != pg) {
            throw rangeError(op, DIRTY_REQ, Errno.EINVAL, iova, size, "bitmap pgsize " + bitmapPgsize + " is not " + pg);
        }
        if ((iova & (pg - 1)) != 0 || size == 0 || (size & (pg - 1)) != 0) {
            throw rangeError(op, DIRTY_REQ, Errno.EINVAL, iova, size, "iova or size not a multiple of " + pg);
        }
        if (!tracking) {
            throw rangeError(op, DIRTY_REQ, Errno.EINVAL, iova, size, "dirty tracking is off");
        }
        long last = iova + size - 1;
        checkNotBisected(op, DIRTY_REQ, iova, last);
        int i = firstOverlap(iova, last);
        if (i < 0) {
            return;
        }
        for (; i < count; i++) {
            Dma d = dmas[i];
            if (Long.compareUnsigned(d.iova, iova) < 0) {
                continue;
            }
            if (Long.compareUnsigned(d.iova, last) > 0) {
                break;
            }
            report(d, iova, pg, bitmap);
            d.bits.clear();
            populatePinned(d);
        }
    }

    /** {@code DIRTY_PAGES} with START. */
    public void startDirtyTracking() throws ErrnoException {
        dirtyPages(DIRTY_SIZE, DIRTY_START, 0, 0, 0, 0, 0, null);
    }

    /** {@code DIRTY_PAGES} with STOP. */
    public void stopDirtyTracking() throws ErrnoException {
        dirtyPages(DIRTY_SIZE, DIRTY_STOP, 0, 0, 0, 0, 0, null);
    }

    /** {@code DIRTY_PAGES} with GET_BITMAP and argsz 48. */
    public void getDirtyBitmap(long iova, long size, long pgsize, long bitmapSize, long bitmapData,
            BitmapWords bitmap) throws ErrnoException {
        dirtyPages(DIRTY_SIZE + DIRTY_GET_SIZE, DIRTY_GET_BITMAP, iova, size, pgsize, bitmapSize, bitmapData, bitmap);
    }

    // ---------------------------------------------------------------------------------------- groups

    /**
     * Attaches a group ({@code vfio_iommu_type1_attach_group}). The first IOMMU-backed group creates the
     * domain: the page-size bitmap becomes the domain's, the allowed IOVA ranges apply, and existing mappings
     * are pinned and mapped (replayed).
     *
     * @throws ErrnoException {@code EBUSY} while a vaddr is invalidated; {@code EINVAL} when an existing
     *                        mapping lies outside the domain's IOVA ranges; {@code EFAULT} when an existing
     *                        mapping's memory is not backed; {@code ENOMEM} over the locked-memory limit
     */
    public synchronized Group attachGroup(IommuGroupKind kind) throws ErrnoException {
        Objects.requireNonNull(kind);
        if (vaddrInvalidCount > 0) {
            throw new ErrnoException("VFIO_GROUP_SET_CONTAINER", Errno.EBUSY, "a mapping's vaddr is invalidated");
        }
        if (kind != IommuGroupKind.EMULATED && iommuGroups == 0) {
            long locked = 0;
            for (int i = 0; i < count; i++) {
                Dma d = dmas[i];
                boolean inside = options.iovaRanges().isEmpty();
                for (IovaRange r : options.iovaRanges()) {
                    inside |= r.contains(d.iova, d.last());
                }
                if (!inside) {
                    throw new ErrnoException("VFIO_GROUP_SET_CONTAINER", Errno.EINVAL,
                            "the mapping at 0x" + Long.toHexString(d.iova) + " is outside the domain's IOVA ranges");
                }
                if (!host.backed(d.vaddr, d.size)) {
                    throw new ErrnoException("VFIO_GROUP_SET_CONTAINER", Errno.EFAULT,
                            "the mapping at 0x" + Long.toHexString(d.iova) + " is not backed");
                }
                locked += d.size;
            }
            if (options.lockedMemoryLimit() >= 0 && Long.compareUnsigned(locked, options.lockedMemoryLimit()) > 0) {
                throw new ErrnoException("VFIO_GROUP_SET_CONTAINER", Errno.ENOMEM, "RLIMIT_MEMLOCK exceeded");
            }
            long pg = options.domainPgsizes();
            if ((pg & ~PAGE_MASK) != 0) {
                pg = (pg & PAGE_MASK) | PAGE_SIZE;
            }
            pgsizeBitmap = pg & PAGE_MASK;
            for (int i = 0; i < count; i++) {
                dmas[i].iommuMapped = true;
            }
        }
        Group g = new Group(kind);
        groups.add(g);
        if (kind == IommuGroupKind.EMULATED) {
            emulatedGroups++;
        } else {
            iommuGroups++;
            nonPinnedGroups++;
        }
        return g;
    }

    private void detach(Group g) {
        if (!groups.remove(g)) {
            return;
        }
        boolean updateScope = !g.pinnedScope;
        if (g.kind == IommuGroupKind.EMULATED) {
            emulatedGroups--;
            if (emulatedGroups == 0 && iommuGroups == 0) {
                removeAll();
            }
        } else {
            iommuGroups--;
            if (iommuGroups == 0) {
                if (emulatedGroups == 0) {
                    removeAll();
                } else {
                    for (int i = 0; i < count; i++) {
                        dmas[i].iommuMapped = false;
                    }
                }
                pgsizeBitmap = PAGE_MASK;
            }
        }
        if (updateScope) {
            nonPinnedGroups--;
            if (tracking) {
                for (int i = 0; i < count; i++) {
                    dmas[i].bits.setAll();
                }
            }
        }
    }

    /**
     * A group attached to this container, with the kernel's interfaces for the driver of its device:
     * {@code vfio_pin_pages}, {@code vfio_unpin_pages}, {@code vfio_dma_rw}, and (IOMMU-backed groups) the
     * hardware IOMMU's translation of device DMA.
     */
    public final class Group {
        private final IommuGroupKind kind;
        private boolean pinnedScope;
        private DmaUnmapListener listener;

        private Group(IommuGroupKind kind) {
            this.kind = kind;
            this.pinnedScope = kind == IommuGroupKind.EMULATED;
        }

        /** The group's kind. */
        public IommuGroupKind kind() {
            return kind;
        }

        /** The container. */
        public Type1Iommu iommu() {
            return Type1Iommu.this;
        }

        /** Whether the group has opted into pinned-page dirty scope (emulated groups always have). */
        public boolean pinnedScope() {
            synchronized (Type1Iommu.this) {
                return pinnedScope;
            }
        }

        /** Sets who is told to unpin when a mapping with pinned pages is unmapped. */
        public void onDmaUnmap(DmaUnmapListener l) {
            synchronized (Type1Iommu.this) {
                listener = l;
            }
        }

        /** Detaches the group ({@code vfio_iommu_type1_detach_group}); idempotent. */
        public void detach() {
            synchronized (Type1Iommu.this) {
                Type1Iommu.this.detach(this);
            }
        }

        /**
         * {@code vfio_pin_pages} of {@code npage} host pages from {@code iova} ({@code vfio_iommu_type1_pin_pages}).
         * A page already pinned gains a reference. While tracking, each newly pinned page is marked dirty, and it
         * is reported again after every report while it stays pinned. The first success puts the group in
         * pinned-page scope. On failure the pages pinned by this call are released.
         *
         * @param prot {@link #READ} and/or {@link #WRITE}, which the mapping must allow
         * @return {@code npage}
         * @throws ErrnoException EINVAL: npage &lt; 1, a plain {@link IommuGroupKind#IOMMU} group (no unmap
         *                        callback), iova not page-aligned, or a page not mapped; E2BIG: npage &gt; 512;
         *                        EACCES: v1 container; EBUSY: a vaddr is invalidated; EPERM: the mapping lacks
         *                        {@code prot}; EFAULT: memory not backed; ENOMEM: over the locked-memory limit
         */
        public int pinPages(long iova, int npage, int prot) throws ErrnoException {
            synchronized (Type1Iommu.this) {
                if (npage <= 0 || kind == IommuGroupKind.IOMMU || (iova & (PAGE_SIZE - 1)) != 0) {
                    throw pinError(Errno.EINVAL, iova, npage, npage <= 0 ? "npage < 1"
                            : kind == IommuGroupKind.IOMMU ? "the device has no dma_unmap callback" : "iova not page-aligned");
                }
                if (npage > PIN_PAGES_MAX) {
                    throw pinError(Errno.E2BIG, iova, npage, "more than 512 pages");
                }
                if (!v2) {
                    throw pinError(Errno.EACCES, iova, npage, "v1 container");
                }
                if (vaddrInvalidCount > 0) {
                    throw pinError(Errno.EBUSY, iova, npage, "a mapping's vaddr is invalidated");
                }
                boolean account = iommuGroups == 0 && options.lockedMemoryLimit() >= 0;
                for (int i = 0; i < npage; i++) {
                    long page = iova + PAGE_SIZE * i;
                    int di = containing(page);
                    int err = 0;
                    String why = null;
                    if (di < 0 || !dmas[di].contains(page + PAGE_SIZE - 1)) {
                        err = Errno.EINVAL;
                        why = "page 0x" + Long.toHexString(page) + " is not mapped";
                    } else if ((dmas[di].prot & prot) != prot) {
                        err = Errno.EPERM;
                        why = "the mapping does not allow prot " + prot;
                    } else {
                        Dma d = dmas[di];
                        int p = d.pinIndex(page);
                        if (p >= 0) {
                            d.pinRef[p]++;
                            continue;
                        }
                        if (!host.backed(d.vaddr + (page - d.iova), PAGE_SIZE)) {
                            err = Errno.EFAULT;
                            why = "page 0x" + Long.toHexString(page) + " is not backed";
                        } else if (account && lockedBytes() + PAGE_SIZE > options.lockedMemoryLimit()) {
                            err = Errno.ENOMEM;
                            why = "RLIMIT_MEMLOCK exceeded";
                        } else {
                            addPin(d, page);
                            if (tracking) {
                                d.bits.set((page - d.iova) >>> shift(), 1);
                            }
                            continue;
                        }
                    }
                    for (int j = 0; j < i; j++) {
                        unpinOne(iova + PAGE_SIZE * j);
                    }
                    throw pinError(err, iova, npage, why);
                }
                if (!pinnedScope) {
                    pinnedScope = true;
                    nonPinnedGroups--;
                }
                return npage;
            }
        }

        /**
         * {@code vfio_unpin_pages}: drops one reference to each of {@code npage} pages from {@code iova}
         * ({@code vfio_iommu_type1_unpin_pages}); stops at the first page not mapped. Does nothing for
         * {@code npage} outside 1..512 or a plain IOMMU group, where the kernel only warns.
         */
        public void unpinPages(long iova, int npage) {
            synchronized (Type1Iommu.this) {
                if (npage <= 0 || npage > PIN_PAGES_MAX || kind == IommuGroupKind.IOMMU || !v2) {
                    return;
                }
                for (int i = 0; i < npage; i++) {
                    long page = iova + PAGE_SIZE * i;
                    if (containing(page) < 0) {
                        break;
                    }
                    unpinOne(page);
                }
            }
        }

        /**
         * {@code vfio_dma_rw} ({@code vfio_iommu_type1_dma_rw}): a device emulation's copy to or from IOVA
         * space, mapping by mapping. The mapping must allow READ even for a write (as the kernel checks), and
         * WRITE for a write. While tracking, written pages are marked dirty (reported once).
         *
         * @throws ErrnoException EINVAL: length &lt; 1 or an iova not mapped; EBUSY: a vaddr is invalidated;
         *                        EPERM: permissions; EFAULT: memory not backed. Chunks before the failing one
         *                        were copied.
         */
        public void dmaRw(long iova, byte[] buf, int offset, int length, boolean write) throws ErrnoException {
            synchronized (Type1Iommu.this) {
                if (length <= 0) {
                    throw rwError(Errno.EINVAL, iova, length, write, "length < 1");
                }
                if (vaddrInvalidCount > 0) {
                    throw rwError(Errno.EBUSY, iova, length, write, "a mapping's vaddr is invalidated");
                }
                while (length > 0) {
                    int di = containing(iova);
                    if (di < 0) {
                        throw rwError(Errno.EINVAL, iova, length, write, "not mapped");
                    }
                    Dma d = dmas[di];
                    if ((write && (d.prot & WRITE) == 0) || (d.prot & READ) == 0) {
                        throw rwError(Errno.EPERM, iova, length, write, "mapping prot " + d.prot);
                    }
                    long off = iova - d.iova;
                    int n = (int) Math.min(length, d.size - off);
                    if (write) {
                        host.write(d.vaddr + off, buf, offset, n);
                        if (tracking) {
                            long sh = shift();
                            d.bits.set(off >>> sh, ((off + n - 1) >>> sh) - (off >>> sh) + 1);
                        }
                    } else {
                        host.read(d.vaddr + off, buf, offset, n);
                    }
                    iova += n;
                    offset += n;
                    length -= n;
                }
            }
        }

        /**
         * A device's DMA through the hardware IOMMU (IOMMU-backed groups only): translation by the IOMMU-mapped
         * mappings with their permissions, no kernel involvement, so nothing is marked dirty.
         *
         * @throws ErrnoException an IOMMU fault: {@code EFAULT} for an address not mapped (or memory not
         *                        backed), {@code EPERM} for a permission fault; bytes before the faulting
         *                        mapping were transferred
         * @throws IllegalStateException for an emulated group (it has no IOMMU)
         */
        public void deviceDma(long iova, byte[] buf, int offset, int length, boolean write) throws ErrnoException {
            if (kind == IommuGroupKind.EMULATED) {
                throw new IllegalStateException("an emulated group has no IOMMU; use dmaRw");
            }
            synchronized (Type1Iommu.this) {
                while (length > 0) {
                    int di = containing(iova);
                    if (di < 0 || !dmas[di].iommuMapped) {
                        throw new ErrnoException("IOMMU fault", Errno.EFAULT, (write ? "write" : "read")
                                + " at iova 0x" + Long.toHexString(iova) + ": not mapped");
                    }
                    Dma d = dmas[di];
                    if ((d.prot & (write ? WRITE : READ)) == 0) {
                        throw new ErrnoException("IOMMU fault", Errno.EPERM, (write ? "write" : "read")
                                + " at iova 0x" + Long.toHexString(iova) + ": mapping prot " + d.prot);
                    }
                    long off = iova - d.iova;
                    int n = (int) Math.min(length, d.size - off);
                    if (write) {
                        host.write(d.vaddr + off, buf, offset, n);
                    } else {
                        host.read(d.vaddr + off, buf, offset, n);
                    }
                    iova += n;
                    offset += n;
                    length -= n;
                }
            }
        }

        private ErrnoException pinError(int errno, long iova, int npage, String why) {
            return new ErrnoException("vfio_pin_pages", errno, "iova 0x" + Long.toHexString(iova) + ", npage "
                    + npage + ": " + why);
        }

        private ErrnoException rwError(int errno, long iova, int length, boolean write, String why) {
            return new ErrnoException("vfio_dma_rw", errno, (write ? "write" : "read") + " of " + length
                    + " bytes at iova 0x" + Long.toHexString(iova) + ": " + why);
        }
    }

    // ---------------------------------------------------------------------------------------- internals

    private int overflowErrno() {
        return options.profile() == KernelProfile.V6_12 ? Errno.EINVAL : Errno.EOVERFLOW;
    }

    private long minPage() {
        return Long.lowestOneBit(pgsizeBitmap);
    }

    private long shift() {
        return Long.numberOfTrailingZeros(pgsizeBitmap);
    }

    /** {@code access_ok} and {@code verify_bitmap_size}, in that order. */
    private void checkBitmap(String op, long req, long size, long pgsize, long bitmapSize, long data)
            throws ErrnoException {
        if (Long.compareUnsigned(bitmapSize, TASK_SIZE_MAX) > 0
                || Long.compareUnsigned(data, TASK_SIZE_MAX - bitmapSize) > 0) {
            throw new ErrnoException(op, Errno.EINVAL, req, "bitmap 0x" + Long.toHexString(data) + " + "
                    + Long.toUnsignedString(bitmapSize) + " bytes is not a user range");
        }
        long npages = size >>> Long.numberOfTrailingZeros(pgsize);   // Java's 64 acts as x86's tzcnt(0) shift
        long need = ((npages >>> 6) + ((npages & 63) != 0 ? 1 : 0)) * 8;
        if (npages == 0 || bitmapSize == 0 || Long.compareUnsigned(bitmapSize, DIRTY_BITMAP_SIZE_MAX) > 0
                || Long.compareUnsigned(bitmapSize, need) < 0) {
            throw new ErrnoException(op, Errno.EINVAL, req, "bitmap of " + Long.toUnsignedString(bitmapSize)
                    + " bytes for " + Long.toUnsignedString(npages) + " pages of " + Long.toUnsignedString(pgsize));
        }
    }

    private void checkNotBisected(String op, long req, long iova, long last) throws ErrnoException {
        int a = containing(iova);
        if (a >= 0 && dmas[a].iova != iova) {
            throw rangeError(op, req, Errno.EINVAL, iova, last - iova + 1,
                    "bisects the mapping at 0x" + Long.toHexString(dmas[a].iova));
        }
        int b = containing(last);
        if (b >= 0 && dmas[b].last() != last) {
            throw rangeError(op, req, Errno.EINVAL, iova, last - iova + 1,
                    "bisects the mapping at 0x" + Long.toHexString(dmas[b].iova));
        }
    }

    /** {@code update_user_bitmap}: the mapping's bits at bit {@code (d.iova - base) / pg} of the user bitmap. */
    private void report(Dma d, long base, long pg, BitmapWords out) throws ErrnoException {
        long shift = Long.numberOfTrailingZeros(pg);
        long nbits = d.size >>> shift;
        long bitOffset = (d.iova - base) >>> shift;
        long at = bitOffset >>> 6;
        int sh = (int) (bitOffset & 63);
        boolean all = nonPinnedGroups > 0 && d.iommuMapped;
        if (sh == 0) {
            reportAligned(d.bits, all || d.bits.allSet(), nbits, at, out);
            return;
        }
        long words = (nbits + sh + 63) >>> 6;
        long prev = 0;
        for (long w = 0; w < words; w++) {
            long src = all ? allWord(nbits, w) : d.bits.word(w);
            long v = sh == 0 ? src : (src << sh) | (prev >>> (64 - sh));
            if (w == 0 && sh != 0) {
                v |= out.read(at);        // the whole user word is ORed in, as bitmap_or over the shift does
            }
            out.write(at + w, v);
            prev = src;
        }
    }

    /**
     * {@link #report} of a mapping whose first page is bit 0 of user word {@code at} (no shift, nothing ORed in):
     * the same words, written a chunk at a time, so a run of clear words (a chunk never dirtied) or set words (a
     * mapping reported whole) is one {@link BitmapWords#fill}.
     */
    private static void reportAligned(DirtyBits bits, boolean all, long nbits, long at, BitmapWords out)
            throws ErrnoException {
        long full = nbits >>> 6;
        if (all) {
            out.fill(at, full, -1L);
        } else {
            int per = DirtyBits.WORDS_PER_CHUNK;
            for (long w = 0; w < full; w += per) {
                long n = Math.min(per, full - w);
                long[] chunk = bits.chunkWords(w / per);
                if (chunk == null) {
                    out.fill(at + w, n, 0);
                } else {
                    for (int i = 0; i < n; i++) {
                        out.write(at + w + i, chunk[i]);
                    }
                }
            }
        }
        if ((nbits & 63) != 0) {
            out.write(at + full, all ? allWord(nbits, full) : bits.word(full));
        }
    }

    private static long allWord(long nbits, long w) {
        long left = nbits - (w << 6);
        return left >= 64 ? -1L : left <= 0 ? 0 : (1L << left) - 1;
    }

    private void populatePinned(Dma d) {
        long sh = shift();
        for (int i = 0; i < d.pins; i++) {
            d.bits.set((d.pinIova[i] - d.iova) >>> sh, 1);
        }
    }

    private void addPin(Dma d, long page) {
        if (d.pins == d.pinIova.length) {
            int n = Math.max(4, d.pins * 2);
            d.pinIova = Arrays.copyOf(d.pinIova, n);
            d.pinRef = Arrays.copyOf(d.pinRef, n);
        }
        d.pinIova[d.pins] = page;
        d.pinRef[d.pins++] = 1;
    }

    private void unpinOne(long page) {
        int di = containing(page);
        if (di < 0) {
            return;
        }
        Dma d = dmas[di];
        int p = d.pinIndex(page);
        if (p < 0) {
            return;
        }
        if (--d.pinRef[p] == 0) {
            d.pins--;
            d.pinIova[p] = d.pinIova[d.pins];
            d.pinRef[p] = d.pinRef[d.pins];
        }
    }

    private void notifyUnmap(Dma d) {
        for (Group g : List.copyOf(groups)) {
            if (g.kind != IommuGroupKind.IOMMU && g.listener != null) {
                g.listener.dmaUnmap(d.iova, d.size);
            }
        }
        d.pins = 0;                     // what the drivers left pinned, the model releases
    }

    private boolean iovaAllowed(long first, long last) {
        List<IovaRange> ranges = iovaRanges();
        if (ranges.isEmpty()) {
            return true;
        }
        for (IovaRange r : ranges) {
            if (r.contains(first, last)) {
                return true;
            }
        }
        return false;
    }

    /** Index of the first mapping whose start is above {@code a} (unsigned). */
    private int upper(long a) {
        int lo = 0, hi = count;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(dmas[mid].iova, a) <= 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private int containing(long a) {
        int i = upper(a) - 1;
        return i >= 0 && dmas[i].contains(a) ? i : -1;
    }

    /** Index of the lowest mapping overlapping {@code [first, last]}, or -1. */
    private int firstOverlap(long first, long last) {
        int i = upper(first) - 1;
        if (i >= 0 && dmas[i].contains(first)) {
            return i;
        }
        i++;
        return i < count && Long.compareUnsigned(dmas[i].iova, last) <= 0 ? i : -1;
    }

    private void insert(Dma d) {
        int at = upper(d.iova);
        if (count == dmas.length) {
            dmas = Arrays.copyOf(dmas, count * 2);
        }
        System.arraycopy(dmas, at, dmas, at + 1, count - at);
        dmas[at] = d;
        count++;
    }

    private void remove(int i) {
        System.arraycopy(dmas, i + 1, dmas, i, count - i - 1);
        dmas[--count] = null;
        dmaAvail++;
    }

    private void removeAll() {
        while (count > 0) {
            Dma d = dmas[count - 1];
            if (d.vaddrInvalid) {
                vaddrInvalidCount--;
            }
            remove(count - 1);
        }
    }

    private ErrnoException mapError(int errno, int argsz, int flags, long vaddr, long iova, long size, String why) {
        return new ErrnoException("VFIO_IOMMU_MAP_DMA", errno, MAP_REQ, "argsz " + Integer.toUnsignedString(argsz)
                + ", flags 0x" + Integer.toHexString(flags) + ", vaddr 0x" + Long.toHexString(vaddr) + ", iova 0x"
                + Long.toHexString(iova) + ", size 0x" + Long.toHexString(size) + ": " + why);
    }

    private ErrnoException unmapError(int errno, int flags, long iova, long size, String why) {
        return new ErrnoException("VFIO_IOMMU_UNMAP_DMA", errno, UNMAP_REQ, "flags 0x" + Integer.toHexString(flags)
                + ", iova 0x" + Long.toHexString(iova) + ", size 0x" + Long.toHexString(size) + ": " + why);
    }

    private ErrnoException dirtyError(int errno, int flags, String why) {
        return new ErrnoException("VFIO_IOMMU_DIRTY_PAGES", errno, DIRTY_REQ, "flags 0x" + Integer.toHexString(flags)
                + ": " + why);
    }

    private static ErrnoException rangeError(String op, long req, int errno, long iova, long size, String why) {
        return new ErrnoException(op, errno, req, "iova 0x" + Long.toHexString(iova) + ", size 0x"
                + Long.toHexString(size) + ": " + why);
    }
}
