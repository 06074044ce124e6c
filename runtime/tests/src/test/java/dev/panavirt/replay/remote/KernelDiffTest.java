package dev.panavirt.replay.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.SessionTarget;
import dev.panavirt.testsupport.Layers;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The riscv-vector differential test on the host, against a transcript the riscv64 lane's agent recorded from
 * Linux 6.12.117 (Debian trixie) under QEMU 7.2 ({@code lane/run --arch riscv64} writes it to RUN_DIR/transcript;
 * refresh the copy here when a session script changes). The lane itself runs the same comparison live.
 */
class KernelDiffTest {
    private static final Path ROOT = Layers.repositoryRoot();

    /** The lane's default scripts for riscv-vector, in its order. */
    private static List<Path> scripts() throws IOException {
        return scripts("riscv-vector");
    }

    /** The lane's default scripts for {@code device}, in its order. */
    private static List<Path> scripts(String device) throws IOException {
        List<Path> s = new ArrayList<>();
        s.add(ROOT.resolve("examples/sessions/" + device + ".pvs"));
        s.add(ROOT.resolve("runtime/tests/src/test/resources/dev/panavirt/replay/fuzz/ScriptFuzzTestInputs/scriptOnAModel/" + device));
        try (Stream<Path> f = Files.list(ROOT.resolve("lane/sessions/" + device))) {
            f.filter(p -> p.toString().endsWith(".pvs")).sorted().forEach(s::add);
        }
        return s;
    }

    private static List<String> transcript() throws IOException {
        return Files.readAllLines(ROOT.resolve(
                "runtime/tests/src/test/resources/dev/panavirt/replay/remote/riscv64-linux-6.12.117.transcript"));
    }

    private static KernelDiff.Pins pins() throws IOException {
        return KernelDiff.Pins.parse(Files.readString(ROOT.resolve("lane/sessions/riscv-vector.pins")));
    }

    @Test
    void theModelAgreesWithTheKernelWhereNoPinSaysWhyNot() throws Exception {
        KernelDiff.Report r = KernelDiff.compare("riscv-vector", scripts(), transcript(), pins());
        assertTrue(r.passed(), String.join("\n", r.text()));
        assertTrue(r.pinned().stream().anyMatch(d -> d.op().endsWith(" state")), "the state lines are pinned");
        assertEquals(0, r.stale().size());
    }

    /** The model in front of which one answer is wrong: vlenb reads 32. */
    private static SessionTarget wrongVlenb(SessionTarget model) {
        return (SessionTarget) Proxy.newProxyInstance(SessionTarget.class.getClassLoader(),
                new Class<?>[] {SessionTarget.class}, (proxy, m, args) -> {
                    if (m.getName().equals("getOneReg") && (long) args[1] == 0x8030000009000004L) {
                        return new byte[] {32, 0, 0, 0, 0, 0, 0, 0};
                    }
                    try {
                        return m.invoke(model, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void aWrongModelAnswerIsCaught() throws Exception {
        KernelDiff.Report r = KernelDiff.compare("riscv-vector", scripts(), transcript(), pins(), KernelDiffTest::wrongVlenb);
        assertFalse(r.passed());
        KernelDiff.Difference d = r.unpinned().get(0);
        assertEquals("riscv-vector.pvs", d.script());
        assertEquals(4, d.line());
        assertEquals("0x20", d.model());
        assertEquals("0x10", d.kernel());
    }

    @Test
    void aPinThatExplainsNothingIsStale() throws Exception {
        KernelDiff.Pins extra = KernelDiff.Pins.parse(Files.readString(ROOT.resolve("lane/sessions/riscv-vector.pins"))
                + "\nisa.pvs:4 | 0x0 | a difference that does not exist\n");
        KernelDiff.Report r = KernelDiff.compare("riscv-vector", scripts(), transcript(), extra);
        assertFalse(r.passed());
        assertEquals(List.of("isa.pvs:4"), r.stale());
    }

    @Test
    void theItsModelAgreesWithTheKernelsItsDrivenByGuestMmio() throws Exception {
        List<String> t = Files.readAllLines(ROOT.resolve(
                "runtime/tests/src/test/resources/dev/panavirt/replay/remote/arm64-linux-6.12.117.transcript"));
        KernelDiff.Pins pins = KernelDiff.Pins.parse(Files.readString(ROOT.resolve("lane/sessions/its.pins")));
        KernelDiff.Report r = KernelDiff.compare("its", scripts("its"), t, pins);
        assertTrue(r.passed(), String.join("\n", r.text()));
        assertEquals(KernelDiff.calls("its", scripts("its")), t.stream().filter(l -> !l.startsWith("host-"))
                .map(l -> l.contains(" => ") ? l.substring(0, l.indexOf(" => ")) : l).toList());
        // and a wrong answer of the ITS model is caught: GITS_IIDR reads another revision
        KernelDiff.Report wrong = KernelDiff.compare("its", scripts("its"), t, pins, model ->
                (SessionTarget) Proxy.newProxyInstance(SessionTarget.class.getClassLoader(),
                        new Class<?>[] {SessionTarget.class}, (proxy, m, args) -> {
                            if (m.getName().equals("read") && (long) args[0] == 4) {
                                return 0x4b01043bL;
                            }
                            try {
                                return m.invoke(model, args);
                            } catch (java.lang.reflect.InvocationTargetException e) {
                                throw e.getCause();
                            }
                        }));
        assertFalse(wrong.passed());
        assertEquals("0x4b01043b", wrong.unpinned().get(0).model());
        assertEquals("0x4b00043b", wrong.unpinned().get(0).kernel());
    }

    @Test
    void aPinNeedsAReason() {
        assertThrows(IllegalArgumentException.class, () -> KernelDiff.Pins.parse("isa.pvs:4 | 0x0 |"));
        assertThrows(IllegalArgumentException.class, () -> KernelDiff.Pins.parse("op state"));
    }

    @Test
    void aTranscriptOutOfStepIsAHarnessErrorNotAResult() throws Exception {
        List<String> t = new ArrayList<>(transcript());
        int i = t.indexOf(t.stream().filter(l -> l.startsWith("reg-get 0 0x8030000009000004 =>")).findFirst().orElseThrow());
        t.set(i, t.get(i).replace("reg-get 0 0x8030000009000004", "reg-get 0 0x8030000009000003"));
        assertThrows(IllegalStateException.class, () -> KernelDiff.compare("riscv-vector", scripts(), t, pins()));
    }

    @Test
    void theCallsAreWhatTheTranscriptAnswered() throws IOException, ErrnoException {
        List<String> calls = KernelDiff.calls("riscv-vector", scripts());
        List<String> answered = transcript().stream().filter(l -> l.contains(" => ") || l.startsWith("session "))
                .map(l -> l.contains(" => ") ? l.substring(0, l.indexOf(" => ")) : l).toList();
        assertEquals(calls, answered);
    }
}
