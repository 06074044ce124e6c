package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.testsupport.RequiresDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The VFIO calls a VMM or a migration loop issues over and over allocate nothing once warm: MAP/UNMAP_DMA, the
 * dirty-page calls into a caller's bitmap, unmap with a bitmap, and 4-byte register accesses.
 *
 * <p>"Once warm" means compiled by C2, whose escape analysis removes the downcall's temporaries; C1 leaves about
 * 40 bytes per ioctl (measured in the lane). The lane's JVM stops at C1 unless KVM tests run
 * ({@code lane/run --kvm}, or {@code --jvm-arg -XX:TieredStopAtLevel=4}), so under C1 the test is skipped with
 * that reason.
 */
@Tag("vfio")
@RequiresDevice("vfio")
class VfioAllocationTest {
    private static final long PAGE = 4096;

    static long allocated(int n, Allocations.Body op) throws Exception {
        return Allocations.untilZero(Duration.ofSeconds(20), () -> {
            for (int i = 0; i < n; i++) {
                op.run();
            }
        });
    }

    @Test
    void dmaDirtyAndRegisterPathsAllocateNothing() throws Exception {
        String stop = null;
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:TieredStopAtLevel=")) {
                stop = arg.substring(arg.indexOf('=') + 1);
            }
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(stop == null || stop.equals("4"),
                "this JVM compiles with C1 only (-XX:TieredStopAtLevel=" + stop + "); allocation is checked on C2 code");
        try (Arena arena = Arena.ofShared(); KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU())) {
            VfioContainer c = edu.container;
            KernelVfioDevice d = edu.device;
            MemorySegment buf = arena.allocate(64 * PAGE, PAGE);
            MemorySegment other = arena.allocate(4 * PAGE, PAGE);
            MemorySegment bitmap = arena.allocate(8, 8);
            c.map(0x100000, buf, Iommu.READ | Iommu.WRITE);
            c.startDirtyTracking();
            assertEquals(0, allocated(200, () -> c.readDirty(0x100000, 64 * PAGE, PAGE, bitmap)), "readDirty");
            assertEquals(0, allocated(200, c::startDirtyTracking), "startDirtyTracking (already on)");
            assertEquals(0, allocated(100, () -> {
                c.map(0x400000, other, Iommu.READ);
                c.unmapAndReadDirty(0x400000, 4 * PAGE, PAGE, bitmap);
            }), "map + unmapAndReadDirty");
            c.stopDirtyTracking();
            assertEquals(0, allocated(100, () -> {
                c.map(0x400000, other, Iommu.READ);
                c.unmap(0x400000, 4 * PAGE);
            }), "map + unmap");
            assertEquals(0, allocated(500, () -> d.write(EduDriver.BAR0, EduDriver.REG_LIVENESS, 4,
                    d.read(EduDriver.BAR0, EduDriver.REG_ID, 4))), "4-byte region read and write");
        }
    }
}
