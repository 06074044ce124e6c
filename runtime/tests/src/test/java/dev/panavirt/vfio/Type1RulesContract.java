package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The type1 IOMMU's rules for MAP_DMA, UNMAP_DMA and DIRTY_PAGES as a driver meets them through {@link Iommu}
 * (SEMANTICS.md D.5-D.7), with the edu device's group attached: a differential test, the same inputs and the
 * same errnos on every backend. {@link VfioContainerTest} runs it on the kernel's container in the nested lane
 * (with its kernel-only tests), {@link ModelType1RulesTest} on the type1 model answering as the lane's 6.12.
 */
abstract class Type1RulesContract {
    static final long PAGE = 4096;
    /** VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU. */
    static final int TYPE1 = 1, TYPE1V2 = 3;

    Arena arena;

    /** Opens the edu device's group in a fresh container of IOMMU {@code type}. */
    abstract EduBackend open(int type) throws ErrnoException, IOException;

    /** MAP_DMA of a raw process address, flags as given ({@code VFIO_IOMMU_MAP_DMA} without a segment). */
    abstract void mapRaw(Iommu iommu, long iova, long vaddr, long size, int flags) throws ErrnoException;

    /** The errno of a range wrapping past 2^64: EINVAL up to 6.12, EOVERFLOW after (SEMANTICS D.9). */
    abstract int wrapErrno();

    @BeforeEach
    void arena() {
        arena = Arena.ofShared();
    }

    @AfterEach
    void free() {
        arena.close();
    }

    static int errno(Executable call) {
        return assertThrows(ErrnoException.class, call).errno();
    }

    @Test
    void mapErrors() throws ErrnoException, IOException {
        try (EduBackend edu = open(TYPE1V2)) {
            Iommu c = edu.iommu();
            MemorySegment buf = arena.allocate(4 * PAGE, PAGE);
            MemorySegment page = buf.asSlice(0, PAGE);
            int rw = Iommu.READ | Iommu.WRITE;
            assertEquals(Errno.EINVAL, errno(() -> c.map(0x100001, page, rw)), "unaligned iova");
            assertEquals(Errno.EINVAL, errno(() -> c.map(0x100000, buf.asSlice(0, PAGE + 1), rw)), "unaligned size");
            assertEquals(Errno.EINVAL, errno(() -> c.map(0x100000, buf.asSlice(1, PAGE), rw)), "unaligned vaddr");
            assertEquals(Errno.EINVAL, errno(() -> c.map(0x100000, buf.asSlice(0, 0), rw)), "size 0");
            assertEquals(Errno.EINVAL, errno(() -> c.map(0x100000, page, 0)), "neither READ nor WRITE");
            assertEquals(Errno.EINVAL, errno(() -> mapRaw(c, 0x100000, buf.address(), PAGE, 0x8)), "unknown flag");
            assertEquals(wrapErrno(), errno(() -> c.map(-PAGE, buf.asSlice(0, 2 * PAGE), rw)), "iova range wraps");
            assertEquals(wrapErrno(), errno(() -> mapRaw(c, 0x100000, -PAGE, 2 * PAGE, rw)), "vaddr range wraps");
            assertThrows(IllegalArgumentException.class, () -> c.map(0x100000, MemorySegment.ofArray(new byte[4096]), rw));
            assertEquals(Errno.EFAULT, errno(() -> mapRaw(c, 0x100000, 0x1000, PAGE, rw)), "nothing mapped at vaddr 0x1000");

            // overlaps
            c.map(0x100000, buf.asSlice(0, 2 * PAGE), rw);
            assertEquals(Errno.EEXIST, errno(() -> c.map(0x100000, buf.asSlice(2 * PAGE, PAGE), rw)), "same start");
            assertEquals(Errno.EEXIST, errno(() -> c.map(0x101000, buf.asSlice(2 * PAGE, 2 * PAGE), rw)), "tail");
            assertEquals(Errno.EEXIST, errno(() -> c.map(0xff000, buf.asSlice(2 * PAGE, 2 * PAGE), rw)), "head");
            c.map(0x102000, buf.asSlice(2 * PAGE, 2 * PAGE), rw); // adjacent is fine; never merged
            assertEquals(2 * PAGE, c.unmap(0x102000, 2 * PAGE));

            // outside the IOVA ranges
            List<IommuInfo.IovaRange> ranges = c.info().iovaRanges();
            IommuInfo.IovaRange first = ranges.getFirst();
            if (first.end() != -1L) {
                long gap = first.end() + 1;
                assertEquals(Errno.EINVAL, errno(() -> c.map(gap, page, rw)),
                        "iova 0x" + Long.toHexString(gap) + " past range " + first + " of " + ranges);
            }
            assertEquals(2 * PAGE, c.unmapAll());
        }
    }

    @Test
    void unmapRules() throws ErrnoException, IOException {
        try (EduBackend edu = open(TYPE1V2)) {
            Iommu c = edu.iommu();
            MemorySegment buf = arena.allocate(6 * PAGE, PAGE);
            int rw = Iommu.READ | Iommu.WRITE;
            c.map(0x200000, buf.asSlice(0, 4 * PAGE), rw);
            c.map(0x204000, buf.asSlice(4 * PAGE, 2 * PAGE), rw);
            assertEquals(Errno.EINVAL, errno(() -> c.unmap(0x201000, PAGE)), "starts inside a mapping (v2)");
            assertEquals(Errno.EINVAL, errno(() -> c.unmap(0x200000, PAGE)), "ends inside a mapping (v2)");
            assertEquals(Errno.EINVAL, errno(() -> c.unmap(0x203000, 2 * PAGE)), "cuts both");
            assertEquals(Errno.EINVAL, errno(() -> c.unmap(0x200001, PAGE)), "unaligned iova");
            assertEquals(Errno.EINVAL, errno(() -> c.unmap(0x200000, PAGE + 1)), "unaligned size");
            assertEquals(Errno.EINVAL, errno(() -> c.unmap(0x200000, 0)), "size 0");
            assertEquals(wrapErrno(), errno(() -> c.unmap(-PAGE, 2 * PAGE)), "wrapping range");
            assertEquals(0, c.unmap(0x800000, PAGE), "nothing mapped there");
            assertEquals(6 * PAGE, c.unmap(0x100000, 0x200000), "both mappings, whole, in one call");
            assertEquals(0, c.unmap(0x200000, 6 * PAGE));
            c.map(0x200000, buf.asSlice(0, 4 * PAGE), rw);
            c.map(0x300000, buf.asSlice(4 * PAGE, 2 * PAGE), rw);
            assertEquals(6 * PAGE, c.unmapAll());
            assertEquals(0, c.unmapAll());
        }
    }

    @Test
    void dirtyTrackingErrors() throws ErrnoException, IOException {
        try (EduBackend edu = open(TYPE1V2)) {
            Iommu c = edu.iommu();
            long iova = 0x400000;
            long size = 68 * PAGE; // 68 pages: two bitmap words
            c.map(iova, arena.allocate(size, PAGE), Iommu.READ | Iommu.WRITE);
            MemorySegment bitmap = arena.allocate(16, 8);
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova, size, PAGE, bitmap)), "tracking off");
            assertEquals(Errno.EINVAL, errno(() -> c.unmapAndReadDirty(iova, size, PAGE, bitmap)), "tracking off");
            c.startDirtyTracking();
            c.startDirtyTracking(); // idempotent
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova, size, PAGE, bitmap.asSlice(0, 8))), "bitmap too small");
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova, size, PAGE, bitmap.asSlice(0, 0))), "empty bitmap");
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova, size, 2 * PAGE, bitmap)), "not the IOMMU page size");
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova + 1, size, PAGE, bitmap)), "unaligned iova");
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova, 0, PAGE, bitmap)), "size 0");
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova + PAGE, size - PAGE, PAGE, bitmap)), "bisects the mapping");
            assertEquals(wrapErrno(), errno(() -> c.readDirty(-PAGE, 2 * PAGE, PAGE, bitmap)), "wrapping range");
            assertEquals(Errno.EINVAL, errno(() -> c.unmapAndReadDirty(iova, size, 2 * PAGE, bitmap)), "unmap: pgsize");
            assertEquals(Errno.EINVAL, errno(() -> c.unmapAndReadDirty(iova, size, PAGE, bitmap.asSlice(0, 8))),
                    "unmap: bitmap too small");
            assertThrows(IllegalArgumentException.class, () -> c.readDirty(iova, size, PAGE, MemorySegment.ofArray(new long[2])));
            c.readDirty(iova, size, PAGE, bitmap);
            c.stopDirtyTracking();
            c.stopDirtyTracking(); // idempotent
            assertEquals(Errno.EINVAL, errno(() -> c.readDirty(iova, size, PAGE, bitmap)), "tracking stopped");
            assertEquals(size, c.unmap(iova, size));
        }
    }

    /**
     * A type1 (v1) container: dirty tracking is refused outright (EACCES), and UNMAP follows the old rules: a
     * mapping that starts before the range is left alone (0 bytes), one that starts in it goes whole. The edu
     * group is the only one, so the v2 container of the other tests is closed before this one opens it.
     */
    @Test
    void type1v1Container() throws ErrnoException, IOException {
        try (EduBackend edu = open(TYPE1)) {
            Iommu c = edu.iommu();
            assertEquals(Errno.EACCES, errno(c::startDirtyTracking));
            assertEquals(Errno.EACCES, errno(c::stopDirtyTracking));
            MemorySegment bitmap = arena.allocate(8, 8);
            assertEquals(Errno.EACCES, errno(() -> c.readDirty(0x200000, PAGE, PAGE, bitmap)));
            c.map(0x200000, arena.allocate(4 * PAGE, PAGE), Iommu.READ);
            assertEquals(0, c.unmap(0x201000, PAGE), "v1: a mapping starting below the range stays");
            assertEquals(4 * PAGE, c.unmap(0x200000, PAGE), "v1: a mapping starting in the range goes whole");
            assertEquals(0, c.unmapAll());
        }
    }
}
