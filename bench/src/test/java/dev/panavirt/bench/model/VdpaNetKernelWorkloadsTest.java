package dev.panavirt.bench.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link VdpaNetKernelLoopback}'s methods, once per frame size, on the kernel's vdpa_sim_net: in the nested lane
 * ({@code vdpa} tag; skipped without /dev/vhost-vdpa-0, failed without it when the build requires vdpa,
 * {@code -Dpanavirt.require=vdpa}). Run it there with
 * {@code lane/run --cp bench/target/test-classes:bench/target/panavirt-bench.jar --select-class
 * dev.panavirt.bench.model.VdpaNetKernelWorkloadsTest}.
 */
@Tag("vdpa")
class VdpaNetKernelWorkloadsTest {
    @Test
    void kernelLoopbackWorkloadsLoopEveryFrameBack() throws Exception {
        boolean missing = VdpaNetKernelLoopback.unavailable().isPresent();
        if (System.getProperty("panavirt.require", "").contains("vdpa")) {
            assertTrue(!missing, VdpaNetKernelLoopback.DEVICE + " is required (panavirt.require=vdpa)");
        }
        assumeTrue(!missing, VdpaNetKernelLoopback.DEVICE + " is not available");
        assertEquals(List.of("copy", "loopback", "loopbackBatched"),
                ModelWorkloadsTest.benchmarkMethods(VdpaNetKernelLoopback.class),
                "a new benchmark method needs its line here");
        for (String size : ModelWorkloadsTest.sizes(VdpaNetKernelLoopback.class)) {
            VdpaNetKernelLoopback b = new VdpaNetKernelLoopback();
            b.size = Integer.parseInt(size);
            b.setup();
            try {
                for (int i = 0; i < 3; i++) {
                    assertEquals(b.size, b.loopback());
                    assertEquals(-1, b.got.asSlice(0, b.size).mismatch(b.frame), "size " + size);
                    b.got.fill((byte) 0);
                    assertEquals(VdpaNetLoopback.BATCH * b.size, b.loopbackBatched());
                    assertEquals(-1, b.got.asSlice(0, b.size).mismatch(b.frame), "size " + size);
                }
                assertEquals(3 + 3 * VdpaNetLoopback.BATCH, b.driver.framesReceived());
                assertEquals(-1, b.copy().mismatch(b.frame));
            } finally {
                b.tearDown();
            }
        }
    }
}
