package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code panavirt replay}: the README's example sessions pass; unmet expectations name their line. */
class ReplayCommandTest {
    @TempDir
    Path dir;

    record Outcome(int status, String out, String err) {}

    static Outcome replay(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        String[] all = new String[args.length + 1];
        all[0] = "replay";
        System.arraycopy(args, 0, all, 1, args.length);
        return new Outcome(cl.execute(all), out.toString(), err.toString());
    }

    static Path example(String name) {
        Path p = Path.of("..", "examples", "sessions", name);
        assertTrue(Files.exists(p), "example session " + p.toAbsolutePath());
        return p;
    }

    @Test
    void exampleSessionsPassAndAreDeterministic() {
        for (String[] ex : new String[][] {{"its.pvs", "its"}, {"eiointc.pvs", "eiointc"}, {"riscv-vector.pvs", "riscv-vector"}}) {
            Outcome a = replay(example(ex[0]).toString(), "--device", ex[1]);
            assertEquals(0, a.status(), a.out() + a.err());
            assertEquals(a.out(), replay(example(ex[0]).toString(), "--device", ex[1]).out());
        }
    }

    @Test
    void unmetExpectationExitsOneNamingTheLine() throws Exception {
        Path s = Files.writeString(dir.resolve("s.pvs"), "read VIRT_FEATURES 4\nread VIRT_FEATURES 4 expect 0x3\n");
        Outcome o = replay(s.toString(), "--device", "eiointc");
        assertEquals(1, o.status());
        assertTrue(o.err().contains("line 2: expected 0x3, got 0x0"), o.err());
    }

    @Test
    void malformedScriptExitsTwo() throws Exception {
        Path s = Files.writeString(dir.resolve("bad.pvs"), "jump 1 2\n");
        Outcome o = replay(s.toString(), "--device", "riscv-vector");
        assertEquals(2, o.status());
        assertTrue(o.err().contains("line 1: unknown operation 'jump'"), o.err());
    }

    @Test
    void aDeviceOrBinaryFileIsReportedInOneLineNotReadForever() throws Exception {
        Outcome zero = replay("/dev/zero", "--device", "its");
        assertEquals(Main.EXIT_USAGE, zero.status());
        assertEquals("panavirt: cannot read /dev/zero: not a regular file", zero.err().strip());
        Path binary = Files.write(dir.resolve("binary.pvs"), new byte[] {(byte) 0xc3, 0x28, 0});
        Outcome bin = replay(binary.toString(), "--device", "its");
        assertEquals(Main.EXIT_USAGE, bin.status());
        assertTrue(bin.err().contains("is not UTF-8 text"), bin.err());
    }

    @Test
    void theVfioSessionPassesOnTheModelInBothProfiles() {
        for (String profile : new String[] {"6.12", "latest"}) {
            Outcome o = replay(example("vfio-type1.pvs").toString(), "--device", "vfio-type1", "--backend", "model",
                    "--profile", profile);
            assertEquals(0, o.status(), profile + ": " + o.out() + o.err());
            assertTrue(o.out().contains("L21 dma-map 0xfffffffffffff000 0x2000 0x8000 rw -> "
                    + (profile.equals("6.12") ? "EINVAL" : "EOVERFLOW")), o.out());
        }
    }

    @Test
    void backendAndProfileAreChecked() {
        Outcome kernelIts = replay(example("its.pvs").toString(), "--device", "its", "--backend", "kernel");
        assertEquals(Main.EXIT_USAGE, kernelIts.status());
        assertTrue(kernelIts.err().contains("--backend kernel: its has only a model here"), kernelIts.err());
        Outcome profile = replay(example("vfio-type1.pvs").toString(), "--device", "vfio-type1", "--backend", "model",
                "--profile", "5.4");
        assertEquals(Main.EXIT_USAGE, profile.status());
        assertTrue(profile.err().contains("--profile takes latest or 6.12, not 5.4"), profile.err());
    }
}
