package dev.panavirt.bench.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.gicv3.ItsRegisters;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/** The model benchmarks measure work that succeeds: commands execute, lines really move. */
class ModelWorkloadsTest {
    @Test
    void itsWorkloadExecutesEveryCommand() throws Exception {
        ItsThroughput b = new ItsThroughput();
        b.setup();
        long before = b.its().commandsExecuted();
        for (int i = 0; i < 5000; i++) {   // wraps the 2048-command queue several times
            b.mapIntDiscard();
        }
        assertEquals(before + 15_000, b.its().commandsExecuted());
        assertEquals(0, b.its().lastCommandResult(), "the last DISCARD succeeded");
        assertEquals(b.its().mmioRead(ItsRegisters.GITS_CWRITER, 8), b.its().mmioRead(ItsRegisters.GITS_CREADR, 8));
        assertTrue(b.its().translations().isEmpty(), "every MAPTI was undone by its DISCARD");
    }

    @Test
    void eiointcWorkloadMovesTheLine() throws Exception {
        EiointcThroughput b = new EiointcThroughput();
        b.setup();
        for (int i = 0; i < 300; i++) {
            int target = b.routeUpdate();
            assertEquals(1 << 0, b.eiointc().pins(target) & 1, "vector 7 (IP0) now asserted on vCPU " + target);
        }
        b.raiseAndLower();
        assertArrayEquals(new int[] {0}, new int[] {b.eiointc().pins(1) & ~1});
    }

    /** Every benchmark method of {@link VfioType1}, each run on its state as JMH would, with what it must produce. */
    @Test
    void vfioType1WorkloadsDoWhatTheySay() throws Exception {
        assertEquals(List.of("copyBitmap", "getBitmapAllDirty", "getBitmapFewDirty", "mapUnmap2m", "mapUnmap4k",
                "type1MapUnmap2m", "type1MapUnmap4k"), Arrays.stream(VfioType1.class.getMethods())
                .filter(m -> m.isAnnotationPresent(Benchmark.class)).map(m -> m.getName()).sorted().toList(),
                "a new benchmark method needs its line here");
        VfioType1 b = new VfioType1();
        VfioType1.Maps maps = new VfioType1.Maps();
        maps.setup();
        try {
            for (int i = 0; i < 2; i++) {
                assertEquals(VfioType1.SIZE_2M, b.mapUnmap2m(maps));
                assertEquals(VfioType1.SIZE_4K, b.mapUnmap4k(maps));
                assertEquals(VfioType1.SIZE_2M, b.type1MapUnmap2m(maps));
                assertEquals(VfioType1.SIZE_4K, b.type1MapUnmap4k(maps));
            }
            assertEquals(0, maps.iommu.model().mappingCount());
            assertEquals(0, maps.type1.mappingCount());
        } finally {
            maps.tearDown();
        }

        VfioType1.AllDirty all = new VfioType1.AllDirty();
        all.setup();
        try {
            for (int i = 0; i < 2; i++) {
                all.bitmap.fill((byte) 0);
                MemorySegment bitmap = b.getBitmapAllDirty(all);
                assertEquals(VfioType1.BITMAP_BYTES, bitmap.byteSize());
                assertEquals(VfioType1.BIG / VfioType1.PAGE, bits(bitmap), "every page of 64 GiB, every time");
            }
        } finally {
            all.tearDown();
        }

        VfioType1.FewDirty few = new VfioType1.FewDirty();
        few.setup();
        try {
            for (int i = 0; i < 2; i++) {
                few.bitmap.fill((byte) 0xff);
                MemorySegment bitmap = b.getBitmapFewDirty(few);
                assertEquals(VfioType1.PINNED, bits(bitmap), "the pinned pages, again after every report");
                long stride = VfioType1.BIG / VfioType1.PAGE / VfioType1.PINNED;
                for (int p = 0; p < VfioType1.PINNED; p++) {
                    long bit = p * stride;
                    assertEquals(1, bitmap.get(ValueLayout.JAVA_LONG, bit / 64 * 8) >>> (bit % 64) & 1, "page " + p);
                }
            }
        } finally {
            few.tearDown();
        }

        VfioType1.Copy copy = new VfioType1.Copy();
        copy.setup();
        assertEquals(-1, b.copyBitmap(copy).mismatch(copy.src));
    }

    /**
     * Every benchmark method of {@link VdpaNetLoopback}, for every frame size of its {@code @Param}: each frame
     * comes back whole, served on this thread (no kick eventfd written), and the driver counts every one.
     */
    @Test
    void vdpaLoopbackWorkloadsLoopEveryFrameBack() throws Exception {
        assertEquals(List.of("copy", "loopback", "loopbackBatched"), benchmarkMethods(VdpaNetLoopback.class),
                "a new benchmark method needs its line here");
        for (String size : sizes(VdpaNetLoopback.class)) {
            VdpaNetLoopback b = new VdpaNetLoopback();
            b.size = Integer.parseInt(size);
            b.setup();
            try {
                for (int i = 0; i < 300; i++) {                           // past the 128 buffers of each queue
                    assertEquals(b.size, b.loopback());
                    assertEquals(-1, b.got.asSlice(0, b.size).mismatch(b.frame), "size " + size);
                }
                for (int i = 0; i < 10; i++) {
                    b.got.fill((byte) 0);
                    assertEquals(VdpaNetLoopback.BATCH * b.size, b.loopbackBatched());
                    assertEquals(-1, b.got.asSlice(0, b.size).mismatch(b.frame), "size " + size);
                }
                assertEquals(300, b.singleDriver.framesReceived());
                assertEquals(10 * VdpaNetLoopback.BATCH, b.batchedDriver.framesReceived());
                assertEquals(0, b.singleDriver.txQueue().kickFd().read(), "the model was kicked directly");
                assertEquals(0, b.batchedDriver.txQueue().kickFd().read(), "the model was kicked directly");
                assertEquals(-1, b.copy().mismatch(b.frame));
            } finally {
                b.tearDown();
            }
        }
    }

    static List<String> benchmarkMethods(Class<?> cls) {
        return Arrays.stream(cls.getMethods()).filter(m -> m.isAnnotationPresent(Benchmark.class))
                .map(m -> m.getName()).sorted().toList();
    }

    static List<String> sizes(Class<?> cls) throws NoSuchFieldException {
        return List.of(cls.getField("size").getAnnotation(Param.class).value());
    }

    private static long bits(MemorySegment s) {
        long n = 0;
        for (long at = 0; at < s.byteSize(); at += 8) {
            n += Long.bitCount(s.get(ValueLayout.JAVA_LONG, at));
        }
        return n;
    }
}
