package dev.panavirt.replay.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.riscv.RiscvVectorUnit;
import dev.panavirt.replay.targets.RiscvVectorSessionTarget;
import dev.panavirt.testsupport.Layers;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Java side of the kernel agent's protocol: {@link CallAnswerer} over the riscv-vector model gives a transcript
 * that {@link KernelDiff#compare} accepts, so the same class over the kernel's vCPUs
 * ({@code dev.panavirt.kvm.session.KernelAgent} in the riscv64 lane, {@code lane/run --arch riscv64 --java}) is
 * compared like the C agent. The recorded transcript is that agent's run on Linux 6.12.117 (Debian trixie) under
 * QEMU 7.2, on trixie's JDK 25.
 */
class CallAnswererTest {
    private static final Path ROOT = Layers.repositoryRoot();
    private static final Path SCRIPT = ROOT.resolve("lane/sessions/java/riscv-vector-one-reg.pvs");

    private static List<String> answer(List<String> calls, RiscvVectorUnit.Config config) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            new CallAnswerer(n -> new RiscvVectorSessionTarget(n, config))
                    .run(new BufferedReader(new StringReader(String.join("\n", calls))), out);
        }
        return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void theModelAnsweringItsOwnCallsHasNoDifference() throws Exception {
        List<String> calls = KernelDiff.calls("riscv-vector", List.of(SCRIPT));
        List<String> t = answer(calls, RiscvVectorUnit.Config.DEFAULT);
        assertEquals(calls.size(), t.size());
        assertTrue(t.contains("reg-get 0 0x8030000009000005 => ENOENT"), String.join("\n", t));
        KernelDiff.Report r = KernelDiff.compare("riscv-vector", List.of(SCRIPT), t, KernelDiff.Pins.parse(""));
        assertTrue(r.passed(), String.join("\n", r.text()));
    }

    @Test
    void aModelWithAnotherVlenbDiffers() throws Exception {
        List<String> calls = KernelDiff.calls("riscv-vector", List.of(SCRIPT));
        List<String> t = answer(calls, RiscvVectorUnit.Config.vlenb(32));
        KernelDiff.Report r = KernelDiff.compare("riscv-vector", List.of(SCRIPT), t, KernelDiff.Pins.parse(""));
        assertFalse(r.passed());
        assertTrue(r.unpinned().stream().anyMatch(d -> d.op().contains("0x8030000009000004")), String.join("\n", r.text()));
    }

    @Test
    void stateHasNoUapiAndUnknownCallsAreUnsupported() throws Exception {
        List<String> t = answer(List.of("session s 1", "state", "attr-has 1 0x2", "reg-get 3 0x8030000009000004"),
                RiscvVectorUnit.Config.DEFAULT);
        assertEquals(List.of("session s 1", "state => unsupported", "attr-has 1 0x2 => unsupported",
                "reg-get 3 0x8030000009000004 => EINVAL"), t);
        assertThrows(IllegalArgumentException.class,
                () -> answer(List.of("reg-get 0 0x8030000009000004"), RiscvVectorUnit.Config.DEFAULT));
        assertThrows(IllegalArgumentException.class,
                () -> answer(List.of("session s 1", "reg-get 0"), RiscvVectorUnit.Config.DEFAULT));
    }

    @Test
    void theJavaAgentsKernelTranscriptMatchesTheModel() throws Exception {
        List<String> t = Files.readAllLines(ROOT.resolve(
                "runtime/tests/src/test/resources/dev/panavirt/replay/remote/riscv64-linux-6.12.117-java-agent.transcript"));
        KernelDiff.Report r = KernelDiff.compare("riscv-vector", List.of(SCRIPT), t, KernelDiff.Pins.parse(""));
        assertTrue(r.passed(), String.join("\n", r.text()));
        assertEquals(List.of(), r.pinned());
    }
}
