package dev.panavirt.bench.model;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.RatioTo;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.models.vfio.HostMemory;
import dev.panavirt.models.vfio.IommuGroupKind;
import dev.panavirt.models.vfio.Type1Iommu;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.ModelIommu;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The VFIO type1 IOMMU model ({@link Type1Iommu}, which follows {@code drivers/vfio/vfio_iommu_type1.c}):
 * time per {@code VFIO_IOMMU_MAP_DMA} + {@code VFIO_IOMMU_UNMAP_DMA} pair, and per
 * {@code VFIO_IOMMU_DIRTY_PAGES} {@code GET_BITMAP} of a 64 GiB mapping of 4 KiB pages, against the baseline
 * the issue names: copying that report's 2 MiB bitmap ({@link #copyBitmap}, measured in the same run; the report
 * gives GET_BITMAP / copy).
 *
 * <p><b>Why a reservation stands in for 64 GiB.</b> The model never touches the memory behind a mapping on
 * MAP_DMA, UNMAP_DMA, pinning or GET_BITMAP: it only checks that {@code [vaddr, vaddr + size)} is backed
 * (the kernel's {@code vfio_pin_pages_remote} would fault the pages in; the model asks its {@code HostMemory}).
 * {@link ModelIommu}'s host memory is the set of segments passed to {@link Iommu#map}, so a 64 GiB
 * {@code PROT_NONE}, {@code MAP_NORESERVE} anonymous mapping (address space only, no memory, no commit charge)
 * goes through exactly the path a real buffer does: the public {@link Iommu} adapter, its segment bounds checks,
 * the model's argument checks, and {@code update_user_bitmap}'s word loop writing into a caller-owned native
 * segment. A stub {@code HostMemory} driving {@link Type1Iommu} directly would skip the adapter, which is the
 * part users call; it is used only for the "type1 direct" MAP/UNMAP rows, to show what the adapter costs.
 *
 * <p><b>The two GET_BITMAP cases.</b> With an IOMMU-backed group that never pins ({@code IommuGroupKind.IOMMU},
 * plain vfio-pci) the kernel cannot see device writes and reports every page dirty
 * ({@code num_non_pinned_groups}, {@code vfio_iova_dirty_bitmap} → {@code update_user_bitmap} with
 * {@code bitmap_set} of the whole range): all ones, 2 MiB of {@code 0xff}. With an emulated group the report is
 * precise: 16 pages pinned by the group, one every 4 GiB, which stay dirty after every report (pinned pages are
 * re-marked, {@code vfio_dma_populate_bitmap}), so each call reports the same 16 bits in a 2 MiB bitmap of
 * zeros: the model's sparse bitmap is walked in full. Tracking stays on for the whole fork.
 */
@Operation(value = "VFIO type1 model", order = 30,
        note = "ModelIommu (the Iommu adapter over Type1Iommu, latest-kernel profile); MAP/UNMAP with an IOMMU group "
                + "attached; GET_BITMAP of one 64 GiB mapping of 4 KiB pages (a PROT_NONE reservation the model never "
                + "touches) into a caller-owned 2 MiB native segment, tracking on; baseline: MemorySegment.copy of a "
                + "2 MiB native segment")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
public class VfioType1 {
    /** The large mapping: 64 GiB of 4 KiB pages, 2^24 pages, so a 2 MiB bitmap. */
    static final long BIG = 64L << 30;
    static final long PAGE = 4096;
    static final long BITMAP_BYTES = BIG / PAGE / 8;
    /** Where the mappings sit in IOVA space. */
    static final long IOVA = 1L << 32;
    static final long SIZE_2M = 2L << 20;
    static final long SIZE_4K = PAGE;
    /** Pages the emulated group keeps pinned (dirty) in the precise case: one every 4 GiB. */
    static final int PINNED = 16;
    static final int RW = Iommu.READ | Iommu.WRITE;

    /** Memory that backs every range and is never read or written: what the model needs to map and pin. */
    static final HostMemory BACKED = new HostMemory() {
        @Override
        public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
            throw new ErrnoException("copy_from_user", Errno.EFAULT, "the benchmark's host memory is never read");
        }

        @Override
        public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
            throw new ErrnoException("copy_to_user", Errno.EFAULT, "the benchmark's host memory is never written");
        }

        @Override
        public boolean backed(long vaddr, long size) {
            return true;
        }
    };

    /** 64 GiB of address space, no memory: {@code PROT_NONE}, {@code MAP_NORESERVE}. */
    static MemorySegment reserve(Arena arena) throws ErrnoException {
        return Mmap.map(arena, BIG, Libc.PROT_NONE, Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, null, 0,
                "64 GiB reservation for the type1 model's GET_BITMAP");
    }

    /** MAP_DMA + UNMAP_DMA: a container with an IOMMU group, through the adapter and directly. */
    @State(Scope.Thread)
    public static class Maps {
        ModelIommu iommu;
        Type1Iommu type1;
        MemorySegment buffer2m;
        MemorySegment buffer4k;

        @Setup
        public void setup() throws ErrnoException {
            iommu = ModelIommu.open();
            iommu.attachGroup(IommuGroupKind.IOMMU);
            type1 = Type1Iommu.open(Type1Iommu.TYPE1V2, Type1Iommu.Options.defaults(), BACKED);
            type1.attachGroup(IommuGroupKind.IOMMU);
            buffer2m = Arena.ofAuto().allocate(SIZE_2M, SIZE_2M);
            buffer4k = buffer2m.asSlice(0, SIZE_4K);
        }

        @TearDown
        public void tearDown() {
            iommu.close();
        }
    }

    /** GET_BITMAP: one 64 GiB mapping, tracking on, a 2 MiB caller-owned bitmap (a state per group kind below). */
    public abstract static class Bitmap {
        Arena arena;
        ModelIommu iommu;
        MemorySegment bitmap;

        /** The group the container serves. */
        abstract IommuGroupKind kind();

        @Setup
        public void setup() throws ErrnoException {
            arena = Arena.ofShared();
            iommu = ModelIommu.open();
            Type1Iommu.Group group = iommu.attachGroup(kind());
            iommu.map(IOVA, reserve(arena), RW);
            iommu.startDirtyTracking();
            if (kind() == IommuGroupKind.EMULATED) {
                for (int i = 0; i < PINNED; i++) {
                    group.pinPages(IOVA + i * (BIG / PINNED), 1, RW);
                }
            }
            bitmap = Arena.ofAuto().allocate(BITMAP_BYTES, 8);
        }

        @TearDown
        public void tearDown() {
            iommu.close();
            arena.close();
        }
    }

    /** A group without pinning scope: every page reported dirty. */
    @State(Scope.Thread)
    public static class AllDirty extends Bitmap {
        @Override
        IommuGroupKind kind() {
            return IommuGroupKind.IOMMU;
        }
    }

    /** An emulated group: precise, 16 pinned pages reported dirty. */
    @State(Scope.Thread)
    public static class FewDirty extends Bitmap {
        @Override
        IommuGroupKind kind() {
            return IommuGroupKind.EMULATED;
        }
    }

    /** The baseline's two 2 MiB native segments. */
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

    /** MAP_DMA + UNMAP_DMA of a 2 MiB buffer through {@link ModelIommu}. */
    @Benchmark
    public long mapUnmap2m(Maps s) throws ErrnoException {
        s.iommu.map(IOVA, s.buffer2m, RW);
        return s.iommu.unmap(IOVA, SIZE_2M);
    }

    /** MAP_DMA + UNMAP_DMA of a 4 KiB buffer through {@link ModelIommu}. */
    @Benchmark
    public long mapUnmap4k(Maps s) throws ErrnoException {
        s.iommu.map(IOVA, s.buffer4k, RW);
        return s.iommu.unmap(IOVA, SIZE_4K);
    }

    /** MAP_DMA + UNMAP_DMA of 2 MiB on {@link Type1Iommu} directly (no adapter, host memory that backs all). */
    @Benchmark
    public long type1MapUnmap2m(Maps s) throws ErrnoException {
        s.type1.map(IOVA, s.buffer2m.address(), SIZE_2M, RW);
        return s.type1.unmap(IOVA, SIZE_2M);
    }

    /** MAP_DMA + UNMAP_DMA of 4 KiB on {@link Type1Iommu} directly. */
    @Benchmark
    public long type1MapUnmap4k(Maps s) throws ErrnoException {
        s.type1.map(IOVA, s.buffer4k.address(), SIZE_4K, RW);
        return s.type1.unmap(IOVA, SIZE_4K);
    }

    /** GET_BITMAP of 64 GiB with every page dirty (IOMMU group without pinning scope): 2 MiB of ones. */
    @Benchmark
    @RatioTo(value = "copyBitmap", atMost = 2)
    public MemorySegment getBitmapAllDirty(AllDirty s) throws ErrnoException {
        s.iommu.readDirty(IOVA, BIG, PAGE, s.bitmap);
        return s.bitmap;
    }

    /** GET_BITMAP of 64 GiB with 16 pinned pages dirty (emulated group): 16 bits in 2 MiB of zeros. */
    @Benchmark
    @RatioTo(value = "copyBitmap", atMost = 2)
    public MemorySegment getBitmapFewDirty(FewDirty s) throws ErrnoException {
        s.iommu.readDirty(IOVA, BIG, PAGE, s.bitmap);
        return s.bitmap;
    }

    /** The baseline: {@code MemorySegment.copy} of a 2 MiB native segment into another. */
    @Benchmark
    public MemorySegment copyBitmap(Copy s) {
        MemorySegment.copy(s.src, 0, s.dst, 0, BITMAP_BYTES);
        return s.dst;
    }
}
