package dev.panavirt.models.vfio;

import dev.panavirt.testsupport.HeapHostMemory;
import static dev.panavirt.models.vfio.Type1Iommu.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The type1 model's ioctls against {@code drivers/vfio/vfio_iommu_type1.c}: every argument check of MAP_DMA,
 * UNMAP_DMA and DIRTY_PAGES in the kernel's order with its errno, in both kernel profiles; GET_INFO's values,
 * bytes and argsz rules; dma_avail; the end of the IOVA space.
 */
class Type1IommuTest {
    static final long PG = 4096;
    static final long BASE = 0x10_0000;
    static final long TOP = -PG;              // the last page of the 64-bit IOVA space

    static void errno(int expected, Executable call) {
        ErrnoException e = assertThrows(ErrnoException.class, call);
        assertEquals(Errno.name(expected), e.errnoName(), e.getMessage());
    }

    static Type1Iommu open(KernelProfile p) throws ErrnoException {
        return Type1Iommu.open(TYPE1V2, Options.defaults().withProfile(p), new HeapHostMemory(BASE, 1 << 20));
    }

    static int overflow(KernelProfile p) {
        return p == KernelProfile.LATEST ? Errno.EOVERFLOW : Errno.EINVAL;
    }

    @Test
    void setIommuTakesTheType1TypesOnly() throws Exception {
        for (int t : new int[] {1, 3, 6}) {
            assertEquals(t != 1, Type1Iommu.open(t, Options.defaults(), HostMemory.NONE).v2());
        }
        for (int t : new int[] {0, 2, 4, 5, 7, 8, 9}) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> Type1Iommu.open(t, Options.defaults(), HostMemory.NONE));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals("VFIO_SET_IOMMU", e.operation());
        }
    }

    @ParameterizedTest
    @EnumSource(KernelProfile.class)
    void checkExtension(KernelProfile p) throws Exception {
        Type1Iommu c = open(p);
        assertEquals(1, c.checkExtension(1));
        assertEquals(1, c.checkExtension(3));
        assertEquals(1, c.checkExtension(9));
        assertEquals(p == KernelProfile.V6_12 ? 1 : 0, c.checkExtension(6));
        for (int x : new int[] {0, 2, 5, 7, 8, 11}) {
            assertEquals(0, c.checkExtension(x), "extension " + x);
        }
        assertEquals(0, c.checkExtension(DMA_CC_IOMMU), "no domain");
        assertEquals(1, c.checkExtension(UPDATE_VADDR));
        c.attachGroup(IommuGroupKind.IOMMU);
        assertEquals(1, c.checkExtension(DMA_CC_IOMMU));
        c.attachGroup(IommuGroupKind.EMULATED);
        assertEquals(0, c.checkExtension(UPDATE_VADDR), "an emulated group is attached");
    }

    @ParameterizedTest
    @EnumSource(KernelProfile.class)
    void mapChecksInOrder(KernelProfile p) throws Exception {
        Type1Iommu c = open(p);
        errno(Errno.EINVAL, () -> c.mapDma(31, READ, BASE, 0, PG));
        errno(Errno.EINVAL, () -> c.mapDma(32, READ | 8, BASE, 0, PG));
        errno(Errno.EINVAL, () -> c.mapDma(32, READ, BASE, 0, 0));
        errno(overflow(p), () -> c.mapDma(32, READ, BASE, TOP, 2 * PG));
        errno(overflow(p), () -> c.mapDma(32, READ, -PG, 0, 2 * PG));
        errno(overflow(p), () -> c.mapDma(32, 0, BASE, TOP, 2 * PG));            // before the flags check
        errno(overflow(p), () -> c.mapDma(32, READ, BASE + 1, TOP + 1, 2 * PG));  // before alignment
        errno(Errno.EINVAL, () -> c.mapDma(32, READ | MAP_VADDR, BASE, 0, PG));
        errno(Errno.EINVAL, () -> c.mapDma(32, 0, BASE, 0, PG));
        errno(Errno.EINVAL, () -> c.mapDma(32, READ, BASE, 0x800, PG));
        errno(Errno.EINVAL, () -> c.mapDma(32, READ, BASE + 8, 0, PG));
        errno(Errno.EINVAL, () -> c.mapDma(32, READ, BASE, 0, PG + 1));
        errno(Errno.ENOENT, () -> c.mapDma(32, MAP_VADDR, BASE, 0, PG));
        c.mapDma(64, READ | WRITE, BASE, 0, 4 * PG);
        errno(Errno.EINVAL, () -> c.mapDma(32, MAP_VADDR, BASE, 0, 4 * PG));       // vaddr still valid
        errno(Errno.EEXIST, () -> c.mapDma(32, READ, BASE, 3 * PG, PG));
        errno(Errno.EEXIST, () -> c.mapDma(32, READ, BASE, 0, 8 * PG));
        assertEquals(DEFAULT_DMA_ENTRY_LIMIT - 1, c.dmaAvail());
        assertEquals(1, c.mappingCount());
    }

    @Test
    void updateVaddr() throws Exception {
        Type1Iommu c = open(KernelProfile.LATEST);
        c.map(0, BASE, 2 * PG, READ);
        c.map(2 * PG, BASE, 2 * PG, READ);
        assertEquals(2 * PG, c.unmapDma(24, UNMAP_VADDR, 2 * PG, 2 * PG, 0, 0, 0, null));
        assertTrue(c.mappingAt(2 * PG).vaddrInvalid());
        errno(Errno.EINVAL, () -> c.unmapDma(24, UNMAP_VADDR, 0, 4 * PG, 0, 0, 0, null));
        assertFalse(c.mappingAt(0).vaddrInvalid(), "the marks of the failed call are undone");
        errno(Errno.EINVAL, () -> c.mapDma(32, MAP_VADDR, BASE, 2 * PG, PG));
        errno(Errno.EBUSY, () -> c.attachGroup(IommuGroupKind.EMULATED));
        c.mapDma(32, MAP_VADDR, BASE + 8 * PG, 2 * PG, 2 * PG);
        assertEquals(BASE + 8 * PG, c.mappingAt(2 * PG).vaddr());
        assertFalse(c.mappingAt(2 * PG).vaddrInvalid());
        c.attachGroup(IommuGroupKind.EMULATED);
        errno(Errno.EBUSY, () -> c.unmapDma(24, UNMAP_VADDR, 0, 2 * PG, 0, 0, 0, null));
    }

    @Test
    void dmaAvailIsTheEntryLimit() throws Exception {
        Type1Iommu c = Type1Iommu.open(TYPE1V2, Options.defaults().withDmaEntryLimit(2), HostMemory.NONE);
        c.map(0, BASE, PG, READ);
        c.map(PG, BASE, PG, READ);
        assertEquals(0, c.dmaAvail());
        errno(Errno.ENOSPC, () -> c.map(2 * PG, BASE, PG, READ));
        errno(Errno.EEXIST, () -> c.map(PG, BASE, PG, READ));                      // overlap wins over ENOSPC
        assertEquals(2 * PG, c.unmap(0, 2 * PG));
        assertEquals(2, c.dmaAvail());
        assertEquals(2, c.getInfo(104).dmaAvail());
        assertEquals(65535, Type1Iommu.open(HostMemory.NONE).dmaAvail());
    }

    @Test
    void iovaRangesPinningAndLockedMemory() throws Exception {
        HeapHostMemory mem = new HeapHostMemory(BASE, 16 * (int) PG);
        Type1Iommu c = Type1Iommu.open(TYPE1V2, Options.defaults().withIovaRanges(
                List.of(new IovaRange(0, 0xffff_ffffL))).withLockedMemoryLimit(8 * PG), mem);
        c.map(0x1_0000_0000L, BASE + 64 * PG, PG, READ);          // no domain: no range, nothing pinned
        errno(Errno.EINVAL, () -> c.attachGroup(IommuGroupKind.IOMMU));
        c.unmapAll();
        c.map(0, BASE + 64 * PG, PG, READ);
        errno(Errno.EFAULT, () -> c.attachGroup(IommuGroupKind.IOMMU));               // replay pins
        c.unmapAll();
        c.attachGroup(IommuGroupKind.IOMMU);
        assertEquals(List.of(new IovaRange(0, 0xffff_ffffL)), c.iovaRanges());
        errno(Errno.EINVAL, () -> c.map(0xffff_f000L, BASE, 2 * PG, READ));
        errno(Errno.EFAULT, () -> c.map(0, BASE + 15 * PG, 2 * PG, READ));
        c.map(0, BASE, 8 * PG, READ);
        assertTrue(c.mappingAt(0).iommuMapped());
        assertEquals(8 * PG, c.lockedBytes());
        errno(Errno.ENOMEM, () -> c.map(8 * PG, BASE + 8 * PG, PG, READ));
        assertEquals(DEFAULT_DMA_ENTRY_LIMIT - 1, c.dmaAvail());
    }

    @ParameterizedTest
    @EnumSource(KernelProfile.class)
    void unmapChecksInOrder(KernelProfile p) throws Exception {
        Type1Iommu c = open(p);
        c.map(0, BASE, 4 * PG, READ | WRITE);
        long data = 0x7000_0000_0000L;
        BitmapWords bm = BitmapWords.of(new long[1]);
        errno(Errno.EINVAL, () -> c.unmapDma(23, 0, 0, PG, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.unmapDma(24, 8, 0, PG, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP | UNMAP_FLAG_ALL, 0, 0, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP | UNMAP_VADDR, 0, PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(47, UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, PG, 8, TASK_SIZE_MAX, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, PG, 0, data, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 65 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, PG, DIRTY_BITMAP_SIZE_MAX + 8, data, bm));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 0, PG, 8, data, bm));   // 0 pages
        errno(Errno.EINVAL, () -> c.unmapDma(24, 0, 0x800, PG, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.unmapDma(24, UNMAP_FLAG_ALL, PG, 0, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.unmapDma(24, UNMAP_FLAG_ALL, 0, PG, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.unmap(0, 0));
        errno(Errno.EINVAL, () -> c.unmap(0, PG + 8));
        errno(overflow(p), () -> c.unmap(TOP, 2 * PG));
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, PG, 8, data, bm));   // not tracking
        c.startDirtyTracking();
        errno(Errno.EINVAL, () -> c.unmapDma(48, UNMAP_GET_DIRTY_BITMAP, 0, 4 * PG, 2 * PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.unmap(PG, 3 * PG));       // bisects at the start
        errno(Errno.EINVAL, () -> c.unmap(0, 2 * PG));        // bisects at the end
        assertEquals(0, c.unmap(8 * PG, PG), "nothing there");
        assertEquals(4 * PG, c.unmap(0, 16 * PG));
        assertEquals(DEFAULT_DMA_ENTRY_LIMIT, c.dmaAvail());
    }

    @Test
    void v1UnmapKeepsTheOldCompatibility() throws Exception {
        Type1Iommu c = Type1Iommu.open(TYPE1, Options.defaults(), HostMemory.NONE);
        c.map(0, BASE, 4 * PG, READ);
        c.map(4 * PG, BASE, 4 * PG, READ);
        assertEquals(0, c.unmap(PG, PG), "an unmap inside a mapping unmaps nothing");
        assertEquals(0, c.unmap(2 * PG, 4 * PG), "the walk stops at a mapping starting below iova");
        assertEquals(4 * PG, c.unmap(4 * PG, PG), "covering the first iova unmaps the whole mapping");
        assertEquals(1, c.mappingCount());
        errno(Errno.EACCES, c::startDirtyTracking);
        errno(Errno.EACCES, () -> c.dirtyPages(0, 0, 0, 0, 0, 0, 0, null));
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.EMULATED);
        errno(Errno.EACCES, () -> g.pinPages(0, 1, READ));
    }

    @ParameterizedTest
    @EnumSource(KernelProfile.class)
    void dirtyPagesChecksInOrder(KernelProfile p) throws Exception {
        Type1Iommu c = open(p);
        c.map(0, BASE, 4 * PG, READ | WRITE);
        long data = 0x7000_0000_0000L;
        BitmapWords bm = BitmapWords.of(new long[1]);
        errno(Errno.EINVAL, () -> c.dirtyPages(7, DIRTY_START, 0, 0, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.dirtyPages(8, 8, 0, 0, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.dirtyPages(8, 0, 0, 0, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.dirtyPages(8, DIRTY_START | DIRTY_STOP, 0, 0, 0, 0, 0, null));
        errno(Errno.EINVAL, () -> c.dirtyPages(47, DIRTY_GET_BITMAP, 0, 4 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 0, PG, 8, data, bm));
        errno(overflow(p), () -> c.getDirtyBitmap(TOP, 2 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 4 * PG, PG, 8, TASK_SIZE_MAX, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 65 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 4 * PG, 2 * PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0x800, 4 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 4 * PG + 0x800, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 4 * PG, PG, 8, data, bm));          // not tracking
        c.stopDirtyTracking();                                                           // STOP while off: 0
        c.startDirtyTracking();
        c.startDirtyTracking();                                                          // idempotent
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(PG, 3 * PG, PG, 8, data, bm));
        errno(Errno.EINVAL, () -> c.getDirtyBitmap(0, 2 * PG, PG, 8, data, bm));
        c.getDirtyBitmap(0, 8 * PG, PG, 8, data, bm);
    }

    @Test
    void trackingRefusesMappingsOfMoreThan2To31Pages() throws Exception {
        Type1Iommu c = Type1Iommu.open(HostMemory.NONE);
        c.map(1L << 44, BASE, 1L << 43, READ);           // 2^31 pages: fine while not tracking
        errno(Errno.EINVAL, c::startDirtyTracking);
        assertFalse(c.tracking());
        c.unmapAll();
        c.startDirtyTracking();
        errno(Errno.EINVAL, () -> c.map(0, BASE, 1L << 43, READ));
        assertEquals(DEFAULT_DMA_ENTRY_LIMIT, c.dmaAvail());
        c.map(0, BASE, (1L << 43) - PG, READ);           // 2^31 - 1 pages
    }

    @ParameterizedTest
    @EnumSource(KernelProfile.class)
    void theLastPageOfTheIovaSpace(KernelProfile p) throws Exception {
        Type1Iommu c = open(p);
        c.startDirtyTracking();
        c.map(TOP, BASE, PG, READ | WRITE);
        c.map(TOP - 2 * PG, BASE, PG, READ | WRITE);
        long[] words = new long[1];
        if (p == KernelProfile.V6_12) {
            errno(Errno.EINVAL, () -> c.getDirtyBitmap(TOP, PG, PG, 8, 0x1000, BitmapWords.of(words)));
            assertEquals(0, c.unmap(TOP, PG), "6.12: iova + size wraps to 0, nothing is unmapped");
            assertEquals(0, c.unmap(TOP - 2 * PG, 3 * PG), "not even the mapping below it");
            assertEquals(2, c.mappingCount());
            assertEquals(2 * PG, c.unmapAll(), "ALL still reaches it");
        } else {
            c.getDirtyBitmap(TOP - 2 * PG, 3 * PG, PG, 8, 0x1000, BitmapWords.of(words));
            assertEquals(PG, c.unmap(TOP, PG));
            assertEquals(PG, c.unmap(TOP - 2 * PG, 3 * PG));
            assertEquals(0, c.mappingCount());
        }
        assertEquals(DEFAULT_DMA_ENTRY_LIMIT, c.dmaAvail());
    }

    @Test
    void getInfoEmulatedOnly() throws Exception {
        Type1Iommu c = Type1Iommu.open(HostMemory.NONE);
        errno(Errno.EINVAL, () -> c.getInfo(15));
        Type1Info i = c.getInfo(16);
        assertEquals(PAGE_MASK, i.iovaPgsizes());
        assertEquals(PG, i.migrationPgsizes());
        assertEquals(0x1000_0000L, i.maxDirtyBitmapSize());
        assertEquals(65535, i.dmaAvail());
        assertEquals(List.of(), i.iovaRanges());
        assertEquals(72, i.fullSize());

        ByteBuffer b = le(i.toBytes(16));
        assertEquals(16, b.capacity(), "argsz 16: the header up to iova_pgsizes only");
        assertEquals(72, b.getInt(0), "argsz raised to what the chain needs");
        assertEquals(3, b.getInt(4), "PGSIZES | CAPS");
        assertEquals(PAGE_MASK, b.getLong(8));
        b = le(i.toBytes(71));
        assertEquals(24, b.capacity());
        assertEquals(0, b.getInt(16), "cap_offset stays 0 while the chain does not fit");

        b = le(i.toBytes(200));
        assertEquals(72, b.capacity());
        assertEquals(200, b.getInt(0), "argsz kept");
        assertEquals(24, b.getInt(16));
        assertEquals(0x0001_0002, b.getInt(24), "MIGRATION v1");
        assertEquals(56, b.getInt(28));
        assertEquals(PG, b.getLong(40));
        assertEquals(0x1000_0000L, b.getLong(48));
        assertEquals(0x0001_0003, b.getInt(56), "DMA_AVAIL v1");
        assertEquals(0, b.getInt(60), "last cap");
        assertEquals(65535, b.getInt(64));
    }

    @Test
    void getInfoWithOneIovaRange() throws Exception {
        Type1Iommu c = Type1Iommu.open(TYPE1V2, Options.defaults().withIovaRanges(
                List.of(new IovaRange(0, 0xfedf_ffffL))), HostMemory.NONE);
        c.attachGroup(IommuGroupKind.IOMMU);
        Type1Info i = c.getInfo(104);
        assertEquals(X86_DOMAIN_PGSIZES, i.iovaPgsizes());
        assertEquals(104, i.fullSize());
        ByteBuffer b = le(i.toBytes(104));
        assertEquals(104, b.getInt(0));
        assertEquals(56, b.getInt(28));
        assertEquals(72, b.getInt(60), "DMA_AVAIL points at IOVA_RANGE");
        assertEquals(0x0001_0001, b.getInt(72));
        assertEquals(0, b.getInt(76));
        assertEquals(1, b.getInt(80));
        assertEquals(0, b.getLong(88));
        assertEquals(0xfedf_ffffL, b.getLong(96));
        byte[] again = c.getInfo(104).toBytes(104);
        assertArrayEquals(i.toBytes(104), again);
    }

    @Test
    void detachingTheLastGroupUnmapsEverything() throws Exception {
        Type1Iommu c = Type1Iommu.open(TYPE1V2, Options.defaults(), new HeapHostMemory(BASE, 1 << 20));
        Type1Iommu.Group g = c.attachGroup(IommuGroupKind.IOMMU);
        Type1Iommu.Group e = c.attachGroup(IommuGroupKind.EMULATED);
        c.map(0, BASE, PG, READ);
        g.detach();
        assertNotNull(c.mappingAt(0), "an emulated group keeps the mappings");
        assertFalse(c.mappingAt(0).iommuMapped());
        assertEquals(PAGE_MASK, c.pgsizeBitmap());
        e.detach();
        e.detach();
        assertNull(c.mappingAt(0));
        assertEquals(DEFAULT_DMA_ENTRY_LIMIT, c.dmaAvail());
    }

    private static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
