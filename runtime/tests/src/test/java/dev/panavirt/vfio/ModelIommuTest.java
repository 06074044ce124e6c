package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.models.vfio.IommuGroupKind;
import dev.panavirt.models.vfio.KernelProfile;
import dev.panavirt.models.vfio.Type1Iommu;
import dev.panavirt.sys.Libc;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.testsupport.EduModelDma;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The model adapters behind the driver-facing interfaces: {@link ModelIommu} over native segments and
 * {@link EduModelDevice} with eventfd interrupts, as a driver uses them.
 */
class ModelIommuTest {
    static final long PG = 4096;
    static final long IOVA = 0x10_0000;

    final Arena arena = Arena.ofConfined();
    final ModelIommu iommu = ModelIommu.open();

    @AfterEach
    void close() {
        iommu.close();
        arena.close();
    }

    static void errno(int expected, org.junit.jupiter.api.function.Executable call) {
        ErrnoException e = assertThrows(ErrnoException.class, call);
        assertEquals(Errno.name(expected), e.errnoName(), e.getMessage());
    }

    @Test
    void infoAndExtensions() throws Exception {
        IommuInfo info = iommu.info();
        assertEquals(Type1Iommu.PAGE_MASK, info.pageSizes());
        assertEquals(PG, info.minPageSize());
        assertEquals(65535, info.dmaAvail().getAsInt());
        assertEquals(0x1000_0000L, info.migration().orElseThrow().maxDirtyBitmapSize());
        assertEquals(List.of(), info.iovaRanges());
        assertEquals(1, iommu.checkExtension(3));
        iommu.attachGroup(IommuGroupKind.IOMMU);
        assertEquals(List.of(new IommuInfo.IovaRange(0, -1L)), iommu.info().iovaRanges());
        assertEquals(0x4020_1000L, iommu.info().pageSizes());
    }

    @Test
    void mapUnmapAndErrors() throws Exception {
        MemorySegment buf = arena.allocate(4 * PG, PG);
        iommu.map(IOVA, buf, Iommu.READ | Iommu.WRITE);
        errno(Errno.EEXIST, () -> iommu.map(IOVA, buf, Iommu.READ));
        errno(Errno.EINVAL, () -> iommu.map(IOVA + 8 * PG, buf.asSlice(8, PG), Iommu.READ));
        assertThrows(IllegalArgumentException.class, () -> iommu.map(0, MemorySegment.ofArray(new byte[4096]), Iommu.READ));
        assertEquals(65534, iommu.info().dmaAvail().getAsInt());
        assertEquals(4 * PG, iommu.unmap(IOVA, 4 * PG));
        assertEquals(0, iommu.unmapAll());
        ModelIommu old = ModelIommu.open(3, Type1Iommu.Options.defaults().withProfile(KernelProfile.V6_12));
        assertEquals(1, old.checkExtension(6));
        errno(Errno.EINVAL, () -> ModelIommu.open(7, Type1Iommu.Options.defaults()));
        old.close();
        old.close();
        assertThrows(IllegalStateException.class, () -> old.unmapAll());
    }

    @Test
    void eduDmaLandsInTheSegmentAndIsReportedDirty() throws Exception {
        try (EduModelDevice edu = EduModelDevice.create(iommu, true, EduDevice.Timing.POLLED);
                EventFd msi = EventFd.create(Libc.EFD_NONBLOCK)) {
            MemorySegment buf = arena.allocate(8 * PG, PG);
            iommu.map(IOVA, buf, Iommu.READ | Iommu.WRITE);
            iommu.startDirtyTracking();
            buf.setString(PG, "hello edu");
            edu.enableIrqs(EduModelDevice.MSI, 0, msi);
            EduModelDma.run(edu, IOVA + PG, EduDevice.DMA_BUFFER, 16, 0);
            EduModelDma.run(edu, EduDevice.DMA_BUFFER, IOVA + 5 * PG, 16, EduDevice.DMA_TO_RAM | EduDevice.DMA_IRQ);
            assertEquals("hello edu", buf.getString(5 * PG));
            assertEquals(1, msi.read());
            MemorySegment bitmap = arena.allocate(8, 8);
            iommu.readDirty(IOVA, 8 * PG, PG, bitmap);
            assertEquals(1L << 5, bitmap.get(ValueLayout.JAVA_LONG, 0));
            bitmap.set(ValueLayout.JAVA_LONG, 0, 0);
            EduModelDma.run(edu, EduDevice.DMA_BUFFER, IOVA + 7 * PG, 16, EduDevice.DMA_TO_RAM);
            assertEquals(8 * PG, iommu.unmapAndReadDirty(IOVA, 8 * PG, PG, bitmap));
            assertEquals(1L << 7, bitmap.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(0, iommu.model().mappingCount());
        }
    }

    @Test
    void unmappedSegmentsAreNotReachable() throws Exception {
        try (EduModelDevice edu = EduModelDevice.create(iommu, false, EduDevice.Timing.IMMEDIATE)) {
            MemorySegment buf = arena.allocate(PG, PG);
            iommu.map(IOVA, buf, Iommu.READ | Iommu.WRITE);
            iommu.unmap(IOVA, PG);
            EduModelDma.run(edu, EduDevice.DMA_BUFFER, IOVA, 16, EduDevice.DMA_TO_RAM);
            assertEquals(1, edu.model().dmaFaults());
        }
    }

    @Test
    void eduRegionsIrqsAndErrors() throws Exception {
        try (EduModelDevice edu = EduModelDevice.create(iommu, false, EduDevice.Timing.POLLED);
                EventFd intx = EventFd.create(Libc.EFD_NONBLOCK);
                EventFd msi = EventFd.create(Libc.EFD_NONBLOCK)) {
            assertTrue(edu.info().isPci());
            assertTrue(edu.info().canReset());
            RegionInfo bar0 = edu.regionInfo(0);
            assertEquals(1 << 20, bar0.size());
            assertTrue(bar0.readable() && bar0.writable() && !bar0.mappable());
            assertEquals(256, edu.regionInfo(7).size());
            assertEquals(0, edu.regionInfo(1).size());
            errno(Errno.EINVAL, () -> edu.regionInfo(8));
            errno(Errno.EINVAL, () -> edu.map(0));
            assertTrue(edu.irqInfo(0).automasked());
            assertEquals(1, edu.irqInfo(1).count());
            assertEquals(0, edu.irqInfo(2).count());
            errno(Errno.EINVAL, () -> edu.irqInfo(5));

            assertEquals(0x010000edL, edu.read(0, 0, 4));
            assertEquals(0x1234, edu.read(7, 0, 2));
            assertEquals(0x11e8, edu.read(7, 2, 2));
            MemorySegment cfg = arena.allocate(8);
            edu.read(7, 0, cfg);
            assertEquals(0x11e8_1234, cfg.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
            errno(Errno.EINVAL, () -> edu.read(0, 1 << 20, 4));
            errno(Errno.EINVAL, () -> edu.read(2, 0, 4));
            errno(Errno.EINVAL, () -> edu.read(0, 0, 3));

            edu.write(0, EduDevice.FACTORIAL, 4, 6);
            while ((edu.read(0, EduDevice.STATUS, 4) & EduDevice.STATUS_COMPUTING) != 0) {
                Thread.onSpinWait();
            }
            assertEquals(720, edu.read(0, EduDevice.FACTORIAL, 4));

            edu.enableIrqs(EduModelDevice.INTX, 0, intx);
            errno(Errno.EINVAL, () -> edu.enableIrqs(EduModelDevice.MSI, 0, msi));
            errno(Errno.EINVAL, () -> edu.enableIrqs(EduModelDevice.INTX, 1, intx));
            edu.write(0, EduDevice.IRQ_RAISE, 4, 1);
            assertEquals(1, intx.read());
            edu.write(0, EduDevice.IRQ_RAISE, 4, 2);
            assertEquals(0, intx.read(), "automasked");
            edu.unmaskIrq(EduModelDevice.INTX, 0);
            assertEquals(1, intx.read(), "still asserted after unmask");
            errno(Errno.ENOTTY, () -> edu.unmaskIrq(EduModelDevice.MSI, 0));
            edu.write(0, EduDevice.IRQ_ACK, 4, 3);
            edu.disableIrqs(EduModelDevice.INTX);
            edu.enableIrqs(EduModelDevice.MSI, 0, msi);
            edu.write(0, EduDevice.IRQ_RAISE, 4, 1);
            assertEquals(1, msi.read());
            edu.reset();
            assertEquals(0, edu.read(0, EduDevice.IRQ_STATUS, 4));
        }
    }

    @Test
    void readDirtyAllocatesNothing() throws Exception {
        try (EduModelDevice edu = EduModelDevice.create(iommu, true, EduDevice.Timing.IMMEDIATE)) {
            Type1Iommu.Group pinner = iommu.attachGroup(IommuGroupKind.EMULATED);
            MemorySegment buf = arena.allocate(256 * PG, PG);
            iommu.map(IOVA, buf.asSlice(0, 100 * PG), Iommu.READ | Iommu.WRITE);
            iommu.map(IOVA + 100 * PG, buf.asSlice(100 * PG, 156 * PG), Iommu.READ | Iommu.WRITE);
            iommu.startDirtyTracking();
            pinner.pinPages(IOVA + 3 * PG, 2, Iommu.READ);
            MemorySegment bitmap = arena.allocate(32, 8);
            edu.write(0, EduDevice.DMA_SRC, 8, EduDevice.DMA_BUFFER);
            edu.write(0, EduDevice.DMA_DST, 8, IOVA + 150 * PG);
            edu.write(0, EduDevice.DMA_COUNT, 8, 8);
            edu.write(0, EduDevice.DMA_CMD, 8, EduDevice.DMA_RUN | EduDevice.DMA_TO_RAM);
            iommu.readDirty(IOVA, 256 * PG, PG, bitmap);
            assertEquals(0b11000, bitmap.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(1L << (150 - 128), bitmap.get(ValueLayout.JAVA_LONG, 16));
            assertTrue(Allocations.supported());
            long bytes = Allocations.fewest(() -> {
                for (int i = 0; i < 100; i++) {
                    iommu.readDirty(IOVA, 256 * PG, PG, bitmap);
                }
            });
            assertEquals(0, bytes, "bytes allocated by 100 reports");
            assertEquals(0b11000, bitmap.get(ValueLayout.JAVA_LONG, 0), "pinned pages stay dirty");
        }
    }

    /**
     * Reports of mappings spanning several of the model's 4096-page chunks: an IOMMU group without pinning scope
     * (every page, written as bulk fills), and an emulated group with a few pinned pages (clear chunks filled,
     * dirty chunks copied), with a partial last word; the words past the range stay as they were, and neither
     * report allocates.
     */
    @Test
    void multiChunkReportsAreExactAndAllocateNothing() throws Exception {
        long pages = 3 * 4096 + 100;                               // 3 chunks, 1 word of 36 bits past them
        long words = (pages + 63) / 64;
        try (Arena reserve = Arena.ofConfined()) {
            MemorySegment memory = dev.panavirt.sys.Mmap.map(reserve, pages * PG, Libc.PROT_NONE,
                    Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, null, 0, "test reservation");
            MemorySegment bitmap = arena.allocate((words + 2) * 8, 8);
            for (IommuGroupKind kind : List.of(IommuGroupKind.IOMMU, IommuGroupKind.EMULATED)) {
                try (ModelIommu m = ModelIommu.open()) {
                    Type1Iommu.Group g = m.attachGroup(kind);
                    m.map(IOVA, memory, Iommu.READ | Iommu.WRITE);
                    m.startDirtyTracking();
                    long[] pinned = {5, 2 * 4096 + 64 * 3 + 1, pages - 1};
                    if (kind == IommuGroupKind.EMULATED) {
                        for (long p : pinned) {
                            g.pinPages(IOVA + p * PG, 1, Iommu.READ);
                        }
                    }
                    Allocations.fewest(() -> {
                        bitmap.fill((byte) 0x5a);
                        m.readDirty(IOVA, pages * PG, PG, bitmap.asSlice(0, words * 8));
                    });
                    for (long w = 0; w < words + 2; w++) {
                        long expect;
                        if (w >= words) {
                            expect = 0x5a5a_5a5a_5a5a_5a5aL;                 // past the bitmap: untouched
                        } else if (kind == IommuGroupKind.IOMMU) {
                            expect = w < words - 1 ? -1L : (1L << (pages % 64)) - 1;
                        } else {
                            expect = 0;
                            for (long p : pinned) {
                                expect |= p / 64 == w ? 1L << (p % 64) : 0;
                            }
                        }
                        assertEquals(expect, bitmap.get(ValueLayout.JAVA_LONG, w * 8), kind + " word " + w);
                    }
                    MemorySegment exact = bitmap.asSlice(0, words * 8);
                    long bytes = Allocations.untilZero(java.time.Duration.ofSeconds(20), () -> {
                        for (int i = 0; i < 20; i++) {
                            m.readDirty(IOVA, pages * PG, PG, exact);
                        }
                    });
                    assertEquals(0, bytes, kind + ": bytes allocated by 20 reports");
                }
            }
        }
    }
}
