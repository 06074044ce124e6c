package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

/**
 * Dirty-page tracking of the type1 IOMMU while the edu device writes by DMA, written once for every backend:
 * {@link VfioDirtyTrackingTest} (the kernel, in the lane), {@link ModelDirtyTrackingTest} and
 * {@link PreciseModelDirtyTrackingTest} (the models). The same steps and the same assertions; what a report
 * holds legitimately depends on how the device reaches memory, so each assertion names both candidates, every
 * page of the mappings in the range and the pages the device wrote since the last report, and the flavour's
 * {@link #expectedDirty} picks by the kernel's rule (vfio_iommu_type1.c, SEMANTICS D.7).
 */
abstract class DirtyTrackingContract {
    static final long PAGE = 4096;
    static final long A = 0x100000, A_PAGES = 16;
    static final long B = 0x200000, B_PAGES = 4;
    static final long C = 0x180000, C_PAGES = 2;

    /** Opens the backend: an edu device in a fresh type1v2 container. */
    abstract EduBackend open() throws ErrnoException, IOException;

    /**
     * What a report holds, given every page of the mappings in its range ({@code everyMappedPage}) and the pages
     * the device wrote since their last report ({@code writtenPages}).
     */
    abstract BitSet expectedDirty(BitSet everyMappedPage, BitSet writtenPages);

    @Test
    void dirtyPagesAtEveryReport() throws ErrnoException, IOException {
        try (Arena arena = Arena.ofShared(); EduBackend edu = open()) {
            Iommu iommu = edu.iommu();
            EduDriver driver = new EduDriver(edu.device(), iommu);
            driver.enableBusMaster();
            MemorySegment src = arena.allocate(PAGE, PAGE);
            MemorySegment a = arena.allocate(A_PAGES * PAGE, PAGE);
            MemorySegment b = arena.allocate(B_PAGES * PAGE, PAGE);
            src.fill((byte) 0xa5);
            driver.mapBuffer(0x10000, src, Iommu.READ);
            driver.mapBuffer(A, a, Iommu.READ | Iommu.WRITE);
            driver.mapBuffer(B, b, Iommu.READ | Iommu.WRITE);
            // edu's buffer gets src
            driver.dmaToDevice(0x10000, EduDriver.BUFFER, 2048, false);
            driver.awaitDma(Duration.ofSeconds(20));

            iommu.startDirtyTracking();
            // the device writes page 2 of A only
            dmaToRam(driver, A + 2 * PAGE);
            assertArrayEquals(src.asSlice(0, 2048).toArray(ValueLayout.JAVA_BYTE),
                    a.asSlice(2 * PAGE, 2048).toArray(ValueLayout.JAVA_BYTE));

            long span = B + B_PAGES * PAGE - A; // A .. end of B: 260 pages
            MemorySegment bitmap = arena.allocate((span / PAGE + 63) / 64 * 8, 8);
            bitmap.fill((byte) 0);
            iommu.readDirty(A, span, PAGE, bitmap);
            assertEquals(expectedDirty(pages(span, A, A, A_PAGES, B, B_PAGES), pages(span, A, A + 2 * PAGE, 1)),
                    bits(bitmap), "first report: all of A and B, or A's page 2; nothing between");
            bitmap.fill((byte) 0);
            iommu.readDirty(A, span, PAGE, bitmap);
            assertEquals(expectedDirty(pages(span, A, A, A_PAGES, B, B_PAGES), pages(span, A)), bits(bitmap),
                    "second report: all of A and B again, or nothing (page 2 was reported)");
            // only A's range
            MemorySegment small = arena.allocate(8, 8);
            iommu.readDirty(A, A_PAGES * PAGE, PAGE, small);
            assertEquals(expectedDirty(pages(A_PAGES * PAGE, A, A, A_PAGES), pages(A_PAGES * PAGE, A)), bits(small));

            // a mapping made while tracking is in the next report; the device writes page 1 of B
            MemorySegment c = arena.allocate(C_PAGES * PAGE, PAGE);
            driver.mapBuffer(C, c, Iommu.READ);
            dmaToRam(driver, B + PAGE);
            bitmap.fill((byte) 0);
            iommu.readDirty(A, span, PAGE, bitmap);
            assertEquals(expectedDirty(pages(span, A, A, A_PAGES, C, C_PAGES, B, B_PAGES), pages(span, A, B + PAGE, 1)),
                    bits(bitmap));

            // unmap with the bitmap after the device wrote page 5 of A: A's pages reported, then A is gone
            dmaToRam(driver, A + 5 * PAGE);
            small.fill((byte) 0);
            assertEquals(A_PAGES * PAGE, iommu.unmapAndReadDirty(A, A_PAGES * PAGE, PAGE, small));
            assertEquals(expectedDirty(pages(A_PAGES * PAGE, A, A, A_PAGES), pages(A_PAGES * PAGE, A, A + 5 * PAGE, 1)),
                    bits(small));
            bitmap.fill((byte) 0);
            iommu.readDirty(A, span, PAGE, bitmap);
            assertEquals(expectedDirty(pages(span, A, C, C_PAGES, B, B_PAGES), pages(span, A)), bits(bitmap),
                    "A was unmapped");

            iommu.stopDirtyTracking();
            assertEquals(22, VfioContainerTest.errno(() -> iommu.readDirty(A, span, PAGE, bitmap)), "EINVAL once stopped");
        }
    }

    /** One 2048-byte DMA write by the device from its buffer to {@code iova}, waited for. */
    private static void dmaToRam(EduDriver driver, long iova) throws ErrnoException {
        driver.dmaToRam(EduDriver.BUFFER, iova, 2048, false);
        driver.awaitDma(Duration.ofSeconds(20));
    }

    /** The bits of a report of {@code span} bytes from {@code base}: {@code runs} are (iova, pages) pairs. */
    static BitSet pages(long span, long base, long... runs) {
        BitSet want = new BitSet((int) (span / PAGE));
        for (int i = 0; i < runs.length; i += 2) {
            int first = (int) ((runs[i] - base) / PAGE);
            want.set(first, first + (int) runs[i + 1]);
        }
        return want;
    }

    private static BitSet bits(MemorySegment bitmap) {
        return BitSet.valueOf(bitmap.toArray(ValueLayout.JAVA_LONG));
    }
}
