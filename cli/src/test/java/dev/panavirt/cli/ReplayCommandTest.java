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
}
