package dev.panavirt.models.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.BitmapWords;
import dev.panavirt.models.vfio.DmaMapping;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.models.vfio.HostMemory;
import dev.panavirt.testsupport.HeapHostMemory;
import dev.panavirt.models.vfio.IommuGroupKind;
import dev.panavirt.models.vfio.KernelProfile;
import dev.panavirt.models.vfio.Type1Iommu;
import java.util.List;
import java.util.Set;

/**
 * What a VFIO user and a device driver control in the type1 and edu models: MAP/UNMAP/DIRTY_PAGES arguments
 * (argsz, flags, iova, vaddr, size, bitmap fields), pinning, {@code vfio_dma_rw}, group detach, and edu
 * register and DMA-descriptor writes. Only ErrnoExceptions with a documented errno come out; dma_avail plus
 * the mappings is the limit; mappings never overlap; a reported dirty page always lies inside a mapping.
 */
class VfioFuzzTest {
    static final long PG = 4096;
    static final long BASE = 0x10_0000;
    static final int LIMIT = 64;
    static final Set<Integer> DOCUMENTED = Set.of(Errno.EINVAL, Errno.EOVERFLOW, Errno.EEXIST, Errno.ENOSPC,
            Errno.ENOENT, Errno.EBUSY, Errno.EACCES, Errno.EFAULT, Errno.EPERM, Errno.E2BIG, Errno.ENOMEM);

    @FuzzTest(maxDuration = "10s")
    void mapsDirtyPagesAndEduDma(FuzzedDataProvider data) throws Exception {
        KernelProfile profile = data.consumeBoolean() ? KernelProfile.LATEST : KernelProfile.V6_12;
        HostMemory mem = new HeapHostMemory(BASE, 64 * (int) PG);
        int type = data.pickValue(new int[] {1, 3, 3, 6});
        Type1Iommu c = Type1Iommu.open(type, Type1Iommu.Options.defaults().withProfile(profile)
                .withDmaEntryLimit(LIMIT).withLockedMemoryLimit(data.consumeBoolean() ? -1 : 32 * PG), mem);
        boolean precise = data.consumeBoolean();
        Type1Iommu.Group group = c.attachGroup(precise ? IommuGroupKind.EMULATED : IommuGroupKind.IOMMU);
        Type1Iommu.Group pinner = c.attachGroup(IommuGroupKind.EMULATED);
        EduDevice edu = new EduDevice(group, data.pickValue(EduDevice.Timing.values()));
        edu.enableMsi(data.consumeBoolean());
        long[] words = new long[8];
        BitmapWords bitmap = BitmapWords.of(words);
        int steps = data.consumeInt(1, 60);
        for (int i = 0; i < steps && data.remainingBytes() > 0; i++) {
            try {
                switch (data.consumeInt(0, 9)) {
                    case 0 -> c.mapDma(data.pickValue(new int[] {32, 31, 64}), data.consumeInt(0, 8),
                            BASE + address(data), address(data), size(data));
                    case 1 -> c.unmapDma(data.pickValue(new int[] {24, 48, 23}), data.consumeInt(0, 7), address(data),
                            size(data), data.pickValue(new long[] {PG, 2 * PG, 0}), data.consumeLong(0, 80),
                            data.pickValue(new long[] {0x1000, -8}), bitmap);
                    case 2 -> c.dirtyPages(data.pickValue(new int[] {8, 48, 7}), data.consumeInt(0, 7), address(data),
                            size(data), data.pickValue(new long[] {PG, 2 * PG, 0}), data.consumeLong(0, 80),
                            data.pickValue(new long[] {0x1000, -8}), bitmap);
                    case 3 -> report(c, words, bitmap);
                    case 4 -> pinner.pinPages(address(data), data.consumeInt(-1, 600), data.consumeInt(0, 3));
                    case 5 -> pinner.unpinPages(address(data), data.consumeInt(-1, 600));
                    case 6 -> edu.mmioWrite(data.pickValue(new long[] {EduDevice.DMA_SRC, EduDevice.DMA_DST,
                        EduDevice.DMA_COUNT, EduDevice.DMA_CMD, EduDevice.FACTORIAL, EduDevice.STATUS,
                        EduDevice.IRQ_RAISE, EduDevice.IRQ_ACK, data.consumeLong(0, 0x100)}),
                            data.pickValue(new int[] {1, 2, 4, 8}), data.consumeBoolean() ? data.consumeLong()
                                    : data.consumeLong(0, 0x50000));
                    case 7 -> edu.mmioRead(data.consumeLong(0, 0x100) & ~3, data.pickValue(new int[] {4, 8}));
                    case 8 -> edu.step();
                    default -> {
                        if (data.consumeBoolean()) {
                            pinner.dmaRw(address(data), new byte[16], 0, data.consumeInt(0, 16), data.consumeBoolean());
                        } else {
                            group.detach();
                        }
                    }
                }
            } catch (ErrnoException e) {
                if (!DOCUMENTED.contains(e.errno())) {
                    throw new AssertionError("undocumented errno " + e.getMessage(), e);
                }
            }
            List<DmaMapping> maps = c.mappings();
            assertEquals(LIMIT, c.dmaAvail() + maps.size(), "dma_avail + mappings");
            for (int m = 1; m < maps.size(); m++) {
                assertTrue(Long.compareUnsigned(maps.get(m - 1).last(), maps.get(m).iova()) < 0, "overlap " + maps);
            }
        }
    }

    /** A report of the first 512 pages: every set bit is a page inside a mapping. */
    private static void report(Type1Iommu c, long[] words, BitmapWords bitmap) throws ErrnoException {
        java.util.Arrays.fill(words, 0);
        if (c.minPageSize() != PG || !c.v2()) {
            return;
        }
        try {
            c.getDirtyBitmap(0, 512 * PG, PG, 64, 0x1000, bitmap);
        } catch (ErrnoException e) {
            return;                                   // not tracking, or the range bisects a mapping
        }
        for (int bit = 0; bit < 512; bit++) {
            if ((words[bit >>> 6] >>> (bit & 63) & 1) != 0) {
                assertTrue(c.mappingAt(bit * PG) != null, "dirty page " + bit + " is not mapped: " + c.mappings());
            }
        }
    }

    private static long address(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 3)) {
            case 0 -> data.consumeLong(0, 600) * PG;
            case 1 -> -data.consumeLong(1, 4) * PG;
            case 2 -> data.consumeLong(0, 600 * PG);
            default -> data.consumeLong();
        };
    }

    private static long size(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 2)) {
            case 0 -> data.consumeLong(0, 80) * PG;
            case 1 -> data.consumeLong(0, 80 * PG);
            default -> data.consumeLong();
        };
    }
}
