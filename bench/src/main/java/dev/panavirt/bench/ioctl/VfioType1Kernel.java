package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.RatioTo;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bindings.vfio.vfio_bitmap;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dirty_bitmap;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dirty_bitmap_get;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dma_map;
import dev.panavirt.bindings.vfio.vfio_iommu_type1_dma_unmap;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.VfioContainer;
import dev.panavirt.vfio.session.VfioSessions;
import dev.panavirt.vfio.VfioGroup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The kernel's VFIO type1 IOMMU ({@code drivers/vfio/vfio_iommu_type1.c}) doing what {@code model.VfioType1}
 * measures on the model, for comparison: time per {@code VFIO_IOMMU_MAP_DMA} + {@code VFIO_IOMMU_UNMAP_DMA} pair
 * (4 KiB and 2 MiB) through {@link VfioContainer} and as a C loop of the same two ioctls, and per
 * {@code VFIO_IOMMU_DIRTY_PAGES} {@code GET_BITMAP} against {@code MemorySegment.copy} of a bitmap the same size.
 *
 * <p><b>Where it runs.</b> It needs {@code /dev/vfio/vfio} and QEMU's edu device (1234:11e8) bound to vfio-pci
 * behind an IOMMU: the nested lane ({@code lane/run --exec -- java -jar bench/target/panavirt-bench.jar --include
 * VfioType1Kernel ...}). Elsewhere {@code bench/run} skips the class with {@link #unavailable()}'s reason, and a
 * fork started anyway fails in setup with that reason. In the lane the kernel is itself emulated (QEMU TCG), so
 * the numbers compare panavirt with C and the kernel with the model on the same machine; they are reported, not
 * targeted.
 *
 * <p><b>Setup.</b> The legacy sequence {@code KernelEduFixture} uses: a container, the edu device's group
 * (from its {@code iommu_group} link) attached, {@code VFIO_TYPE1v2_IOMMU}; no device is opened, DMA mapping
 * needs none. The container pins the pages of every mapping (MAP_DMA faults them in and takes a pin, UNMAP_DMA
 * drops it), so the buffers are native, page aligned and pre-faulted: one 2 MiB buffer aligned to 2 MiB, the
 * 4 KiB buffer its first page (as in the model's benchmark). GET_BITMAP cannot cover the model's 64 GiB in the
 * lane's 2 GiB guest, since the kernel pins what it maps: it reads a 64 MiB mapping of 4 KiB pages (16384 pages,
 * a 2 KiB bitmap) with tracking on for the whole fork. vfio-pci never pins pages through the kernel's pinning
 * interface, so the kernel reports every page dirty at every call ({@code vfio_iova_dirty_bitmap}): 2 KiB of
 * ones, the model's {@code getBitmapAllDirty} case at 1/1024 of its size.
 */
@Operation(value = "VFIO type1 kernel", order = 31,
        note = "VfioContainer on the kernel's type1v2 (edu's group attached, no device opened); MAP/UNMAP of a "
                + "pre-faulted native buffer (C: a gcc loop of the same two ioctls, 100 pairs per downcall); "
                + "GET_BITMAP of one 64 MiB mapping of 4 KiB pages into a caller-owned 2 KiB segment, tracking on, "
                + "every page dirty (vfio-pci pins nothing); baseline: MemorySegment.copy of 2 KiB")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
public class VfioType1Kernel {
    /** Pairs (or GET_BITMAPs) per C downcall. */
    static final int N = 100;
    static final long PAGE = 4096;
    static final long SIZE_4K = PAGE;
    static final long SIZE_2M = 2L << 20;
    /** The GET_BITMAP mapping: 64 MiB of 4 KiB pages, 16384 pages, a 2 KiB bitmap. */
    static final long TRACKED = 64L << 20;
    static final long BITMAP_BYTES = TRACKED / PAGE / 8;
    /** Where the MAP/UNMAP pairs and the tracked mapping sit in IOVA space (above 4 GiB, clear of the MSI window). */
    static final long IOVA = 1L << 32;
    static final long TRACKED_IOVA = 2L << 32;
    static final int RW = Iommu.READ | Iommu.WRITE;

    /**
     * Why this benchmark cannot run here (no usable {@code /dev/vfio/vfio}, no edu device, or no IOMMU group for
     * it), or empty when it can. {@code bench/run} skips the class with this reason.
     */
    public static Optional<String> unavailable() {
        Path node = Path.of(VfioContainer.PATH);
        if (!Files.isReadable(node) || !Files.isWritable(node)) {
            return Optional.of(node + " is missing or not read-write (run it in the lane: lane/run --exec -- java "
                    + "-jar bench/target/panavirt-bench.jar --include VfioType1Kernel)");
        }
        Optional<String> edu = VfioSessions.findEdu();
        if (edu.isEmpty()) {
            return Optional.of("no QEMU edu device (1234:11e8) under /sys/bus/pci/devices");
        }
        if (!Files.exists(Path.of("/sys/bus/pci/devices", edu.get(), "iommu_group"))) {
            return Optional.of("the edu device " + edu.get() + " has no IOMMU group");
        }
        return Optional.empty();
    }

    /** A type1v2 container with the edu device's group attached, and a shared arena for the DMA buffers. */
    public abstract static class Kernel {
        VfioContainer container;
        Arena arena;

        @Setup
        public void setup() throws ErrnoException {
            Optional<String> why = unavailable();
            if (why.isPresent()) {
                throw new IllegalStateException("VfioType1Kernel needs the kernel's VFIO type1 and an edu device: "
                        + why.get());
            }
            arena = Arena.ofShared();
            container = VfioContainer.open();
            try {
                VfioGroup group = VfioGroup.open(VfioGroup.groupNumberOf(VfioSessions.findEdu().orElseThrow()));
                try {
                    group.setContainer(container);
                } catch (ErrnoException | RuntimeException e) {
                    group.close();
                    throw e;
                }
                container.setIommu(vfio_h.VFIO_TYPE1v2_IOMMU());
                build();
            } catch (ErrnoException | RuntimeException e) {
                tearDown();
                throw e;
            } catch (IOException e) {   // the group link (ErrnoException is an IOException too)
                tearDown();
                throw new UncheckedIOException(e);
            }
        }

        /** The state's mappings and arguments, once the container is ready. */
        abstract void build() throws ErrnoException;

        /** Native memory from the arena, pre-faulted (the kernel would fault it in on the first MAP_DMA). */
        MemorySegment buffer(long size, long alignment) {
            MemorySegment s = arena.allocate(size, alignment);
            s.fill((byte) 0);
            return s;
        }

        /** Closes the container (unmapping and unpinning everything, closing the group), then frees the memory. */
        @TearDown
        public void tearDown() {
            if (container != null) {
                container.close();
            }
            if (arena != null) {
                arena.close();
            }
        }
    }

    /** MAP_DMA + UNMAP_DMA: the buffers, and the C loop's filled argument structures. */
    @State(Scope.Thread)
    public static class Maps extends Kernel {
        MemorySegment buffer2m;
        MemorySegment buffer4k;
        MemorySegment map2m;
        MemorySegment unmap2m;
        MemorySegment map4k;
        MemorySegment unmap4k;

        @Override
        void build() {
            buffer2m = buffer(SIZE_2M, SIZE_2M);
            buffer4k = buffer2m.asSlice(0, SIZE_4K);
            Arena args = Arena.ofAuto();   // no session acquire per downcall (see the README)
            map2m = mapArg(args, buffer2m);
            unmap2m = unmapArg(args, SIZE_2M);
            map4k = mapArg(args, buffer4k);
            unmap4k = unmapArg(args, SIZE_4K);
        }

        private static MemorySegment mapArg(Arena args, MemorySegment buffer) {
            MemorySegment m = args.allocate(vfio_iommu_type1_dma_map.layout());
            vfio_iommu_type1_dma_map.argsz(m, (int) vfio_iommu_type1_dma_map.sizeof());
            vfio_iommu_type1_dma_map.flags(m, RW);
            vfio_iommu_type1_dma_map.vaddr(m, buffer.address());
            vfio_iommu_type1_dma_map.iova(m, IOVA);
            vfio_iommu_type1_dma_map.size(m, buffer.byteSize());
            return m;
        }

        private static MemorySegment unmapArg(Arena args, long size) {
            MemorySegment u = args.allocate(vfio_iommu_type1_dma_unmap.layout());
            vfio_iommu_type1_dma_unmap.argsz(u, (int) vfio_iommu_type1_dma_unmap.sizeof());
            vfio_iommu_type1_dma_unmap.flags(u, 0);
            vfio_iommu_type1_dma_unmap.iova(u, IOVA);
            vfio_iommu_type1_dma_unmap.size(u, size);
            return u;
        }
    }

    /** GET_BITMAP: one 64 MiB mapping, tracking on, the caller-owned 2 KiB bitmaps and the C loop's argument. */
    @State(Scope.Thread)
    public static class Bitmap extends Kernel {
        MemorySegment bitmap;
        MemorySegment cBitmap;
        MemorySegment dirtyArg;

        @Override
        void build() throws ErrnoException {
            container.map(TRACKED_IOVA, buffer(TRACKED, SIZE_2M), RW);
            container.startDirtyTracking();
            Arena args = Arena.ofAuto();
            bitmap = args.allocate(BITMAP_BYTES, 8);
            cBitmap = args.allocate(BITMAP_BYTES, 8);
            long header = vfio_iommu_type1_dirty_bitmap.sizeof();
            dirtyArg = args.allocate(header + vfio_iommu_type1_dirty_bitmap_get.sizeof(), 8);
            vfio_iommu_type1_dirty_bitmap.argsz(dirtyArg, (int) dirtyArg.byteSize());
            vfio_iommu_type1_dirty_bitmap.flags(dirtyArg, vfio_h.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP());
            MemorySegment range = dirtyArg.asSlice(header);
            vfio_iommu_type1_dirty_bitmap_get.iova(range, TRACKED_IOVA);
            vfio_iommu_type1_dirty_bitmap_get.size(range, TRACKED);
            MemorySegment b = vfio_iommu_type1_dirty_bitmap_get.bitmap(range);
            vfio_bitmap.pgsize(b, PAGE);
            vfio_bitmap.size(b, BITMAP_BYTES);
            vfio_bitmap.data(b, cBitmap);
        }
    }

    /** The baseline's two 2 KiB native segments. */
    @State(Scope.Thread)
    public static class Copy {
        MemorySegment src;
        MemorySegment dst;

        @Setup
        public void setup() {
            src = Arena.ofAuto().allocate(BITMAP_BYTES, 8);
            dst = Arena.ofAuto().allocate(BITMAP_BYTES, 8);
            src.fill((byte) 0xff);
        }
    }

    /** MAP_DMA + UNMAP_DMA of a 2 MiB buffer through {@link VfioContainer}. */
    @Benchmark
    @RatioTo("mapUnmap2mC")
    public long mapUnmap2m(Maps s) throws ErrnoException {
        s.container.map(IOVA, s.buffer2m, RW);
        return s.container.unmap(IOVA, SIZE_2M);
    }

    /** MAP_DMA + UNMAP_DMA of a 4 KiB buffer through {@link VfioContainer}. */
    @Benchmark
    @RatioTo("mapUnmap4kC")
    public long mapUnmap4k(Maps s) throws ErrnoException {
        s.container.map(IOVA, s.buffer4k, RW);
        return s.container.unmap(IOVA, SIZE_4K);
    }

    /** The C baseline: the same two ioctls of 2 MiB, {@value #N} pairs per downcall. */
    @Benchmark
    @OperationsPerInvocation(N)
    public long mapUnmap2mC(Maps s) {
        return CHarness.mapUnmapLoop(s.container.rawFd(), vfio_h.VFIO_IOMMU_MAP_DMA(), s.map2m,
                vfio_h.VFIO_IOMMU_UNMAP_DMA(), s.unmap2m, N);
    }

    /** The C baseline: the same two ioctls of 4 KiB, {@value #N} pairs per downcall. */
    @Benchmark
    @OperationsPerInvocation(N)
    public long mapUnmap4kC(Maps s) {
        return CHarness.mapUnmapLoop(s.container.rawFd(), vfio_h.VFIO_IOMMU_MAP_DMA(), s.map4k,
                vfio_h.VFIO_IOMMU_UNMAP_DMA(), s.unmap4k, N);
    }

    /** GET_BITMAP of 64 MiB through {@link VfioContainer#readDirty}: every page dirty, 2 KiB of ones. */
    @Benchmark
    @RatioTo("copyBitmap")
    public MemorySegment getBitmapAllDirty(Bitmap s) throws ErrnoException {
        s.container.readDirty(TRACKED_IOVA, TRACKED, PAGE, s.bitmap);
        return s.bitmap;
    }

    /** The same GET_BITMAP as a C loop, {@value #N} per downcall. */
    @Benchmark
    @OperationsPerInvocation(N)
    @RatioTo("copyBitmap")
    public long getBitmapAllDirtyC(Bitmap s) {
        return CHarness.ioctlLoop(s.container.rawFd(), vfio_h.VFIO_IOMMU_DIRTY_PAGES(), s.dirtyArg, N);
    }

    /** The baseline: {@code MemorySegment.copy} of a 2 KiB native segment into another. */
    @Benchmark
    public MemorySegment copyBitmap(Copy s) {
        MemorySegment.copy(s.src, 0, s.dst, 0, BITMAP_BYTES);
        return s.dst;
    }
}
