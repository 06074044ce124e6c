package dev.panavirt.vhost.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.vdpa.VdpaProfile;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.testsupport.RequiresDevice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The vhost-vdpa session scripts on the kernel (the lane's 6.12: vdpa_sim's net and block devices behind
 * vhost-vdpa) and on the vDPA model with the 6.12 profile: the same output, line for line. Every result is
 * compared, not only the expectations: errnos, feature words, config bytes, ring indices and lengths, the looped
 * frame and the sectors read back.
 */
@Tag("vdpa")
@RequiresDevice("vdpa")
class VdpaSessionDifferentialTest {

    @ParameterizedTest
    @ValueSource(strings = {"net", "blk"})
    void kernelAndModelGiveTheSameOutput(String kind) throws Exception {
        SessionRunner.Outcome kernel;
        try (VdpaSessionTarget t = VdpaSessions.kernel(kind)) {
            kernel = new SessionRunner(t).run(VdpaSessionTest.script(kind));
        }
        SessionRunner.Outcome model = VdpaSessionTest.onModel(kind, VdpaProfile.V6_12);
        assertEquals(String.join("\n", model.lines()), String.join("\n", kernel.lines()));
        assertTrue(kernel.passed(), "on the kernel: " + kernel.failure() + "\n" + String.join("\n", kernel.lines()));
    }
}
