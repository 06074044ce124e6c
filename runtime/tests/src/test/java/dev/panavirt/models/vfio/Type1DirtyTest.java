package dev.panavirt.models.vfio;

import dev.panavirt.testsupport.HeapHostMemory;
import static dev.panavirt.models.vfio.Type1Iommu.READ;
import static dev.panavirt.models.vfio.Type1Iommu.WRITE;
import static dev.panavirt.models.vfio.Type1IommuTest.errno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the type1 model reports dirty ({@code vfio_iova_dirty_bitmap}, {@code update_user_bitmap},
 * {@code vfio_iommu_type1_pin_pages}, {@code vfio_iommu_type1_dma_rw_chunk}, {@code _detach_group}).
 */
class Type1DirtyTest {
    static final long PG = 4096;
    static final long BASE = 0x10_0000;

    final HeapHostMemory mem = new HeapHostMemory(BASE, 1 << 20);
    final Type1Iommu c = Type1Iommu.open(mem);

    long[] report(long iova, long size) throws Exception {
        long[] words = new long[(int) ((size / PG + 63) / 64)];
        c.getDirtyBitmap(iova, size, PG, words.length * 8L, 0x1000, BitmapWords.of(words));
        return words;
    }

    @Test
    void dmaRwWritesAreReportedOnce() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, 8 * PG, READ | WRITE);
        g.dmaRw(PG, new byte[1], 0, 1, true);                    // written before tracking: not reported
        c.startDirtyTracking();
        g.dmaRw(PG + 5, new byte[1], 0, 1, true);
        g.dmaRw(3 * PG - 4, new byte[10], 0, 10, true);          // pages 2 and 3
        g.dmaRw(6 * PG, new byte[100], 0, 100, false);           // reads dirty nothing
        assertTrue(c.dirtyBit(2 * PG));
        assertArrayEquals(new long[] {0b1110}, report(0, 8 * PG));
        assertArrayEquals(new long[] {0}, report(0, 8 * PG));
    }

    @Test
    void dmaRwChecks() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, PG, WRITE);                                // write-only: dma_rw wants READ too
        c.map(PG, BASE, PG, READ);
        c.map(2 * PG, 0x5000_0000L, PG, READ | WRITE);           // not backed
        errno(Errno.EPERM, () -> g.dmaRw(0, new byte[4], 0, 4, true));
        errno(Errno.EPERM, () -> g.dmaRw(PG, new byte[4], 0, 4, true));
        errno(Errno.EFAULT, () -> g.dmaRw(2 * PG, new byte[4], 0, 4, true));
        errno(Errno.EINVAL, () -> g.dmaRw(3 * PG, new byte[4], 0, 4, false));
        errno(Errno.EINVAL, () -> g.dmaRw(PG, new byte[4], 0, 0, false));
        byte[] b = {1, 2, 3, 4};
        mem.bytes[8] = 42;
        g.dmaRw(PG + 8, b, 0, 4, false);
        assertEquals(42, b[0]);
    }

    @Test
    void pinnedPagesAreReportedAtEveryReportWhilePinned() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, 8 * PG, READ | WRITE);
        g.pinPages(5 * PG, 1, READ);                              // pinned before START: pre-set by START
        c.startDirtyTracking();
        g.pinPages(0, 2, READ | WRITE);
        assertArrayEquals(new long[] {0b100011}, report(0, 8 * PG));
        assertArrayEquals(new long[] {0b100011}, report(0, 8 * PG), "re-populated with the pinned pages");
        g.unpinPages(0, 2);
        assertArrayEquals(new long[] {0b100011}, report(0, 8 * PG), "set at the last report, before the unpin");
        assertArrayEquals(new long[] {0b100000}, report(0, 8 * PG));
        assertEquals(1, c.mappingAt(0).pinnedPages());
    }

    /**
     * A mapping aligned to a bitmap word is reported a chunk (4096 pages) at a time: chunks never dirtied as one
     * fill of zeros, dirtied ones word by word, the partial last word masked; a chunk made after a report shows
     * in the next one.
     */
    @Test
    void alignedReportsOverSeveralChunks() throws Exception {
        long chunk = 4096 * PG;
        HeapHostMemory high = new HeapHostMemory(2 * chunk, 1 << 20);     // readable and writable: the second chunk's start
        Type1Iommu t = Type1Iommu.open(new HostMemory() {         // pinnable: all of it
            @Override
            public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
                high.read(vaddr, dst, offset, length);
            }

            @Override
            public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
                high.write(vaddr, src, offset, length);
            }

            @Override
            public boolean backed(long vaddr, long size) {
                return true;
            }
        });
        Type1Iommu.Group g = t.attachGroup(IommuGroupKind.EMULATED);
        long size = 2 * chunk + 70 * PG;                          // two chunks and 70 pages: last word partial
        t.map(0, chunk, size, READ | WRITE);
        t.startDirtyTracking();
        long[] words = new long[(int) ((size / PG + 63) / 64)];
        java.util.Arrays.fill(words, -1);
        t.getDirtyBitmap(0, size, PG, words.length * 8L, 0x1000, BitmapWords.of(words));
        assertArrayEquals(new long[words.length], words, "nothing dirty: every word written, with zeros");
        g.dmaRw(chunk + PG, new byte[1], 0, 1, true);             // chunk 1, made after the report
        g.pinPages(chunk + 3 * PG, 1, READ);
        g.pinPages(2 * chunk + 69 * PG, 1, READ);                 // the last page: bit 5 of the last word (129)
        for (int round = 0; round < 2; round++) {
            t.getDirtyBitmap(0, size, PG, words.length * 8L, 0x1000, BitmapWords.of(words));
            long[] expect = new long[words.length];
            expect[64] = round == 0 ? 0b1010 : 0b1000;            // the write once, the pinned page every time
            expect[129] = 1L << 5;
            assertArrayEquals(expect, words, "round " + round);
        }
    }

    @Test
    void pinChecks() throws Exception {
        Type1Iommu.Group plain = c.attachGroup(IommuGroupKind.IOMMU);
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, 4 * PG, READ);
        errno(Errno.EINVAL, () -> plain.pinPages(0, 1, READ));
        errno(Errno.EINVAL, () -> g.pinPages(0, 0, READ));
        errno(Errno.E2BIG, () -> g.pinPages(0, 513, READ));
        errno(Errno.EPERM, () -> g.pinPages(0, 1, WRITE));
        errno(Errno.EINVAL, () -> g.pinPages(2 * PG, 4, READ));  // runs off the mapping
        assertEquals(0, c.mappingAt(0).pinnedPages(), "the pages of the failed call are released");
        assertEquals(2, g.pinPages(0, 2, READ));
        assertEquals(2, g.pinPages(PG, 2, READ));
        assertEquals(3, c.mappingAt(0).pinnedPages());
    }

    @Test
    void nonPinnedScopeReportsEveryMappedPageAtEveryReport() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.IOMMU_PINNING);
        c.map(0, BASE, 3 * PG, READ | WRITE);
        c.map(4 * PG, BASE, 70 * PG, READ | WRITE);
        c.startDirtyTracking();
        assertEquals(1, c.nonPinnedGroups());
        long[] all = report(0, 128 * PG);
        assertEquals(0b111 | (-1L << 4), all[0]);
        assertEquals((1L << 10) - 1, all[1], "pages 64..73");
        assertArrayEquals(all, report(0, 128 * PG), "again: the device's writes are invisible");
        g.pinPages(PG, 1, READ);                                   // opts into pinned-page scope
        assertEquals(0, c.nonPinnedGroups());
        assertArrayEquals(new long[] {0b10, 0}, report(0, 128 * PG));
    }

    @Test
    void detachingANonPinnedGroupWhileTrackingDirtiesEverything() throws Exception {
        c.attachGroup(IommuGroupKind.EMULATED);
        Type1Iommu.Group iommu = c.attachGroup(IommuGroupKind.IOMMU);
        c.map(0, BASE, 4 * PG, READ | WRITE);
        c.startDirtyTracking();
        assertArrayEquals(new long[] {0b1111}, report(0, 4 * PG));
        iommu.detach();
        assertFalse(c.mappingAt(0).iommuMapped());
        assertArrayEquals(new long[] {0b1111}, report(0, 4 * PG), "populate_bitmap_full");
        assertArrayEquals(new long[] {0}, report(0, 4 * PG));
    }

    @Test
    void aMappingStartingMidWordOrsInTheUsersWord() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(3 * PG, BASE, 130 * PG, READ | WRITE);
        c.startDirtyTracking();
        for (long page : new long[] {0, 63, 64, 129}) {
            g.dmaRw(3 * PG + page * PG, new byte[1], 0, 1, true);
        }
        long[] words = {1L | 1L << 40, -1L, -1L, -1L};
        c.getDirtyBitmap(0, 256 * PG, PG, 32, 0x1000, BitmapWords.of(words));
        assertEquals(1L | 1L << 40 | 1L << 3, words[0], "the user's first word is ORed in, whole");
        assertEquals(1L << 2 | 1L << 3, words[1], "pages 63, 64 of the mapping: bits 66, 67");
        assertEquals(1L << 4, words[2], "page 129: bit 132");
        assertEquals(-1L, words[3], "words past the mapping are not written");
    }

    @Test
    void adjacentMappingsShareAWord() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, 3 * PG, READ | WRITE);
        c.map(3 * PG, BASE, 2 * PG, READ | WRITE);
        c.startDirtyTracking();
        g.dmaRw(0, new byte[1], 0, 1, true);
        g.dmaRw(4 * PG, new byte[1], 0, 1, true);
        long[] words = {-1L};
        c.getDirtyBitmap(0, 5 * PG, PG, 8, 0x1000, BitmapWords.of(words));
        assertEquals(0b10001, words[0], "the first mapping overwrites the word, the second ORs into it");
    }

    @Test
    void unmapWithBitmapReportsThenDiscards() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        List<long[]> told = new ArrayList<>();
        g.onDmaUnmap((iova, size) -> {
            told.add(new long[] {iova, size});
            g.unpinPages(iova, (int) (size / PG));
        });
        c.map(0, BASE, 2 * PG, READ | WRITE);
        c.map(2 * PG, BASE, 2 * PG, READ | WRITE);
        c.startDirtyTracking();
        g.dmaRw(PG, new byte[1], 0, 1, true);
        g.pinPages(2 * PG, 1, READ);
        long[] words = {0};
        long n = c.unmapDma(48, Type1Iommu.UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, PG, 8, 0x1000, BitmapWords.of(words));
        assertEquals(4 * PG, n);
        assertEquals(0b110, words[0]);
        assertEquals(1, told.size(), "the pinning driver was told to unpin");
        assertEquals(0, c.mappingCount());
        assertEquals(Type1Iommu.DEFAULT_DMA_ENTRY_LIMIT, c.dmaAvail());
    }

    @Test
    void aFaultWritingTheBitmapStopsTheUnmap() throws Exception {
        c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, PG, READ | WRITE);
        c.map(64 * PG, BASE, PG, READ | WRITE);
        c.startDirtyTracking();
        long[] words = {0};                                        // only one word: the second mapping faults
        errno(Errno.EFAULT, () -> c.unmapDma(48, Type1Iommu.UNMAP_GET_DIRTY_BITMAP, 0, 65 * PG, PG, 16, 0x1000,
                BitmapWords.of(words)));
        assertEquals(1, c.mappingCount(), "the first mapping went, the one that faulted stays");
    }

    @Test
    void stopForgetsAndStartBeginsClean() throws Exception {
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, 2 * PG, READ | WRITE);
        c.startDirtyTracking();
        g.dmaRw(0, new byte[1], 0, 1, true);
        c.stopDirtyTracking();
        c.startDirtyTracking();
        assertArrayEquals(new long[] {0}, report(0, 2 * PG));
    }
}
