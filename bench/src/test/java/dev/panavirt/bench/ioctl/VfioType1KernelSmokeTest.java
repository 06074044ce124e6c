package dev.panavirt.bench.ioctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * Runs every method of {@link VfioType1Kernel} once on its state, as a JMH fork would, on the kernel's type1 with
 * the edu device's group, and checks what each produced. Runs in the nested lane (tag {@code vfio}); skipped
 * elsewhere with the reason, failed where {@code -Dpanavirt.require} names vfio (as in the lane) and it cannot run.
 */
@Tag("vfio")
class VfioType1KernelSmokeTest {

    @BeforeAll
    static void needsVfio() {
        Optional<String> why = VfioType1Kernel.unavailable();
        if (why.isPresent() && System.getProperty("panavirt.require", "").contains("vfio")) {
            fail("vfio is required (panavirt.require) but " + why.get());
        }
        assumeTrue(why.isEmpty(), () -> why.orElse(""));
    }

    @Test
    void everyMethodDoesWhatItSays() throws Exception {
        assertEquals(List.of("copyBitmap", "getBitmapAllDirty", "getBitmapAllDirtyC", "mapUnmap2m", "mapUnmap2mC",
                "mapUnmap4k", "mapUnmap4kC"), Arrays.stream(VfioType1Kernel.class.getMethods())
                .filter(m -> m.isAnnotationPresent(Benchmark.class)).map(m -> m.getName()).sorted().toList(),
                "a new benchmark method needs its line here");
        VfioType1Kernel b = new VfioType1Kernel();

        VfioType1Kernel.Maps maps = new VfioType1Kernel.Maps();
        maps.setup();
        try {
            assertEquals(VfioType1Kernel.SIZE_2M, b.mapUnmap2m(maps));
            assertEquals(VfioType1Kernel.SIZE_4K, b.mapUnmap4k(maps));
            assertEquals(VfioType1Kernel.N * VfioType1Kernel.SIZE_2M, b.mapUnmap2mC(maps));
            assertEquals(VfioType1Kernel.N * VfioType1Kernel.SIZE_4K, b.mapUnmap4kC(maps));
            assertEquals(0, maps.container.unmapAll(), "every pair left nothing mapped");
        } finally {
            maps.tearDown();
        }

        VfioType1Kernel.Bitmap bitmap = new VfioType1Kernel.Bitmap();
        bitmap.setup();
        try {
            bitmap.bitmap.fill((byte) 0);
            assertEquals(VfioType1Kernel.TRACKED / VfioType1Kernel.PAGE, bits(b.getBitmapAllDirty(bitmap)),
                    "vfio-pci pins nothing, so every page of the mapping is reported dirty");
            bitmap.cBitmap.fill((byte) 0);
            assertEquals(0, b.getBitmapAllDirtyC(bitmap));
            assertEquals(-1, bitmap.cBitmap.mismatch(bitmap.bitmap), "C reads the same bitmap");
        } finally {
            bitmap.tearDown();
        }

        VfioType1Kernel.Copy copy = new VfioType1Kernel.Copy();
        copy.setup();
        assertEquals(-1, b.copyBitmap(copy).mismatch(copy.src));
    }

    private static long bits(MemorySegment s) {
        long n = 0;
        for (long at = 0; at < s.byteSize(); at += 8) {
            n += Long.bitCount(s.get(ValueLayout.JAVA_LONG, at));
        }
        return n;
    }
}
