package dev.panavirt.vfio.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.vfio.KernelProfile;
import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.testsupport.Layers;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The VFIO session script of examples/sessions against the models: every expectation holds on the 6.12
 * profile, and the upstream profile differs in exactly the two lines the kernel changed since
 * (drivers/vfio/vfio_iommu_type1.c: the Nov-2025 overflow checks return EOVERFLOW; VFIO_TYPE1_NESTING_IOMMU is
 * no longer advertised by vfio_iommu_type1_check_extension).
 */
class VfioSessionTest {

    static Script script() throws Exception {
        return Script.parse(Files.readString(Layers.repositoryRoot().resolve("examples/sessions/vfio-type1.pvs")));
    }

    static SessionRunner.Outcome onModel(KernelProfile profile) throws Exception {
        try (VfioSessionTarget t = VfioSessions.model(profile)) {
            return new SessionRunner(t).run(script());
        }
    }

    @Test
    void theScriptHoldsOnTheModelAsOn612() throws Exception {
        SessionRunner.Outcome o = onModel(KernelProfile.V6_12);
        assertTrue(o.passed(), o.failure());
        assertTrue(o.lines().contains("L21 dma-map 0xfffffffffffff000 0x2000 0x8000 rw -> EINVAL"), o.lines().toString());
        assertTrue(o.lines().contains("L8 ext VFIO_TYPE1_NESTING_IOMMU -> 1"), o.lines().toString());
    }

    @Test
    void upstreamDiffersInTheOverflowErrnoAndTheNestingExtension() throws Exception {
        SessionRunner.Outcome old = onModel(KernelProfile.V6_12);
        SessionRunner.Outcome latest = onModel(KernelProfile.LATEST);
        assertTrue(latest.passed(), latest.failure());
        List<String> differences = new ArrayList<>();
        for (int i = 0; i < old.lines().size(); i++) {
            if (!old.lines().get(i).equals(latest.lines().get(i))) {
                differences.add(latest.lines().get(i));
            }
        }
        assertEquals(List.of("L8 ext VFIO_TYPE1_NESTING_IOMMU -> 0",
                "L21 dma-map 0xfffffffffffff000 0x2000 0x8000 rw -> EOVERFLOW"), differences);
    }
}
