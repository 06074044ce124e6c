package dev.panavirt.vhost.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.vdpa.VdpaProfile;
import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.testsupport.Layers;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The vhost-vdpa session scripts of examples/sessions against the vDPA model: every expectation holds on both
 * profiles, and the upstream profile differs from 6.12 in exactly the lines the kernel changed since (SEMANTICS.md
 * E.5, E.9): an IOTLB write of 40 bytes is EINVAL upstream where 6.12 takes it as a whole message and answers 72,
 * and an {@code INVALIDATE} of size 0 is EINVAL upstream where 6.12 accepts it.
 */
class VdpaSessionTest {

    static Script script(String kind) throws Exception {
        return Script.parse(Files.readString(Layers.repositoryRoot().resolve("examples/sessions/vdpa-" + kind + ".pvs")));
    }

    static SessionRunner.Outcome onModel(String kind, VdpaProfile profile) throws Exception {
        try (VdpaSessionTarget t = VdpaSessions.model(kind, profile)) {
            return new SessionRunner(t).run(script(kind));
        }
    }

    /** The lines of {@code b} that differ from {@code a}'s. */
    static List<String> differences(SessionRunner.Outcome a, SessionRunner.Outcome b) {
        assertEquals(a.lines().size(), b.lines().size());
        List<String> d = new ArrayList<>();
        for (int i = 0; i < a.lines().size(); i++) {
            if (!a.lines().get(i).equals(b.lines().get(i))) {
                d.add(b.lines().get(i));
            }
        }
        return d;
    }

    @Test
    void theNetScriptHoldsOnTheModelAsOn612() throws Exception {
        SessionRunner.Outcome o = onModel("net", VdpaProfile.V6_12);
        assertTrue(o.passed(), o.failure() + "\n" + String.join("\n", o.lines()));
        assertTrue(o.lines().contains("L81 iotlb-raw 40 VHOST_IOTLB_MSG_V2 0 VHOST_IOTLB_UPDATE 0x220000 0x1000 0x10000 r"
                + " -> 72"), o.lines().toString());
        assertTrue(o.lines().contains("L74 iotlb-invalidate 0 0x700000 0 -> ok"), o.lines().toString());
    }

    @Test
    void theBlkScriptHoldsOnTheModelAsOn612() throws Exception {
        SessionRunner.Outcome o = onModel("blk", VdpaProfile.V6_12);
        assertTrue(o.passed(), o.failure() + "\n" + String.join("\n", o.lines()));
        assertTrue(o.lines().contains("L45 iotlb-raw 40 VHOST_IOTLB_MSG_V2 0 VHOST_IOTLB_INVALIDATE 0x200000 0x1000 0 0"
                + " -> 72"), o.lines().toString());
    }

    @Test
    void upstreamNetDiffersInTheShortWriteAndTheEmptyInvalidate() throws Exception {
        SessionRunner.Outcome latest = onModel("net", VdpaProfile.LATEST);
        assertTrue(latest.passed(), latest.failure());
        assertEquals(List.of("L74 iotlb-invalidate 0 0x700000 0 -> EINVAL",
                "L81 iotlb-raw 40 VHOST_IOTLB_MSG_V2 0 VHOST_IOTLB_UPDATE 0x220000 0x1000 0x10000 r -> EINVAL"),
                differences(onModel("net", VdpaProfile.V6_12), latest));
    }

    @Test
    void upstreamBlkDiffersInTheShortWriteAndWhatItLeftMapped() throws Exception {
        SessionRunner.Outcome latest = onModel("blk", VdpaProfile.LATEST);
        assertTrue(latest.passed(), latest.failure());
        assertEquals(List.of("L45 iotlb-raw 40 VHOST_IOTLB_MSG_V2 0 VHOST_IOTLB_INVALIDATE 0x200000 0x1000 0 0 -> EINVAL",
                "L46 iotlb-update 0 0x200000 0x1000 0x10000 r -> EFAULT"),
                differences(onModel("blk", VdpaProfile.V6_12), latest));
    }

    @Test
    void twoRunsGiveTheSameOutput() throws Exception {
        for (String kind : VdpaSessions.KINDS) {
            assertEquals(onModel(kind, VdpaProfile.V6_12).lines(), onModel(kind, VdpaProfile.V6_12).lines(), kind);
        }
    }
}
