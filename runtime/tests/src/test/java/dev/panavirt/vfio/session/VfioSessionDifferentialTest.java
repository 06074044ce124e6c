package dev.panavirt.vfio.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.vfio.KernelProfile;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.testsupport.RequiresDevice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The VFIO session script on the kernel (the lane's 6.12: edu on vfio-pci behind intel-iommu) and on the models
 * with the 6.12 profile: the same output, line for line. Every result of the script is compared, not only its
 * expectations: errnos, bytes unmapped, bitmaps, register values.
 */
@Tag("vfio")
@RequiresDevice("vfio")
class VfioSessionDifferentialTest {

    @Test
    void kernelAndModelGiveTheSameOutput() throws Exception {
        SessionRunner.Outcome kernel;
        try (VfioSessionTarget t = VfioSessions.kernel()) {
            kernel = new SessionRunner(t).run(VfioSessionTest.script());
        }
        assertTrue(kernel.passed(), "on the kernel: " + kernel.failure() + "\n" + String.join("\n", kernel.lines()));
        SessionRunner.Outcome model = VfioSessionTest.onModel(KernelProfile.V6_12);
        assertEquals(String.join("\n", kernel.lines()), String.join("\n", model.lines()));
    }
}
