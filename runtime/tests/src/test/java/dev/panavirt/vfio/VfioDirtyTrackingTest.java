package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.BitSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import dev.panavirt.testsupport.RequiresDevice;

/**
 * Dirty-page tracking of the genuine type1 IOMMU while the edu device writes by DMA. vfio-pci never pins pages
 * through the kernel's pinning interface, so its group keeps the container out of "pinned page scope" and the
 * kernel reports every page of every IOMMU-mapped mapping dirty at every report, written or not
 * (vfio_iommu_type1.c {@code vfio_iova_dirty_bitmap}, {@code vfio_dma_populate_bitmap}; SEMANTICS D.7).
 */
@Tag("vfio")
@RequiresDevice("vfio")
class VfioDirtyTrackingTest {
    private static final long PAGE = 4096;
    private static final long A = 0x100000, A_PAGES = 16;
    private static final long B = 0x200000, B_PAGES = 4;
    private static final long C = 0x180000, C_PAGES = 2;

    @Test
    void everyMappedPageIsDirtyAtEveryReport() throws ErrnoException, IOException {
        try (Arena arena = Arena.ofShared();
                KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU())) {
            Iommu iommu = edu.container;
            EduDriver driver = new EduDriver(edu.device, iommu);
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
            driver.dmaToRam(EduDriver.BUFFER, A + 2 * PAGE, 2048, false);
            driver.awaitDma(Duration.ofSeconds(20));
            assertArrayEquals(src.asSlice(0, 2048).toArray(ValueLayout.JAVA_BYTE),
                    a.asSlice(2 * PAGE, 2048).toArray(ValueLayout.JAVA_BYTE));

            long span = B + B_PAGES * PAGE - A; // A .. end of B: 260 pages
            MemorySegment bitmap = arena.allocate((span / PAGE + 63) / 64 * 8, 8);
            for (int report = 0; report < 2; report++) {
                bitmap.fill((byte) 0);
                iommu.readDirty(A, span, PAGE, bitmap);
                assertEquals(expected(span, A, A, A_PAGES, B, B_PAGES), bits(bitmap), "report " + report
                        + ": all of A and B, written or not, and nothing between");
            }
            // only A's range
            MemorySegment small = arena.allocate(8, 8);
            iommu.readDirty(A, A_PAGES * PAGE, PAGE, small);
            assertEquals(expected(A_PAGES * PAGE, A, A, A_PAGES), bits(small));

            // a mapping made while tracking is dirty from its first report
            MemorySegment c = arena.allocate(C_PAGES * PAGE, PAGE);
            driver.mapBuffer(C, c, Iommu.READ);
            bitmap.fill((byte) 0);
            iommu.readDirty(A, span, PAGE, bitmap);
            assertEquals(expected(span, A, A, A_PAGES, C, C_PAGES, B, B_PAGES), bits(bitmap));

            // unmap with the bitmap: A's pages reported, then A is gone
            small.fill((byte) 0);
            assertEquals(A_PAGES * PAGE, iommu.unmapAndReadDirty(A, A_PAGES * PAGE, PAGE, small));
            assertEquals(expected(A_PAGES * PAGE, A, A, A_PAGES), bits(small));
            bitmap.fill((byte) 0);
            iommu.readDirty(A, span, PAGE, bitmap);
            assertEquals(expected(span, A, C, C_PAGES, B, B_PAGES), bits(bitmap), "A was unmapped");

            iommu.stopDirtyTracking();
            assertEquals(22, VfioContainerTest.errno(() -> iommu.readDirty(A, span, PAGE, bitmap)), "EINVAL once stopped");
            System.out.println("type1 dirty report over 0x" + Long.toHexString(A) + "+0x" + Long.toHexString(span)
                    + " after one DMA write to one page: every page of every mapping (vfio-pci pins nothing)");
        }
    }

    /** The bits expected for a report of {@code span} bytes from {@code base}: {@code mappings} are (iova, pages) pairs. */
    private static BitSet expected(long span, long base, long... mappings) {
        BitSet want = new BitSet((int) (span / PAGE));
        for (int i = 0; i < mappings.length; i += 2) {
            int first = (int) ((mappings[i] - base) / PAGE);
            want.set(first, first + (int) mappings[i + 1]);
        }
        return want;
    }

    private static BitSet bits(MemorySegment bitmap) {
        return BitSet.valueOf(bitmap.toArray(ValueLayout.JAVA_LONG));
    }
}
