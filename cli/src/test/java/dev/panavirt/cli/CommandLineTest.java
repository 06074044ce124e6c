package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.machine.Machine;
import dev.panavirt.testsupport.KvmTest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line end to end on the real /dev/kvm: outputs and exit statuses. */
@KvmTest
class CommandLineTest {
    @TempDir
    Path dir;

    record Outcome(int status, String out, String err) {}

    private static synchronized Outcome run(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.commandLine();
            cl.setOut(new PrintWriter(out));
            cl.setErr(new PrintWriter(err));
            int status = cl.execute(args);
            System.out.flush();
            return new Outcome(status, console.toString(StandardCharsets.UTF_8) + out, err.toString());
        } finally {
            System.setOut(oldOut);
        }
    }

    private Path flat(int... code) throws Exception {
        byte[] b = new byte[code.length];
        for (int i = 0; i < code.length; i++) {
            b[i] = (byte) code[i];
        }
        Path p = Files.createTempFile(dir, "guest", ".bin");
        Files.write(p, b);
        return p;
    }

    @Test
    void demoGuestPrintsItsGreetingAndExitsZero() {
        Outcome o = run("run");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().contains(DemoGuest.GREETING), o.out());
        assertTrue(o.err().contains("received 0x60"), o.err());
    }

    @Test
    void debugExitPortGivesQemuStatus() throws Exception {
        // mov eax, 5; out 0xf4, eax; hlt
        Outcome o = run("run", flat(0xb8, 5, 0, 0, 0, 0xe7, 0xf4, 0xf4).toString());
        assertEquals((5 << 1) | 1, o.status(), o.err());
    }

    @Test
    void realModeFlatBinary() throws Exception {
        // mov al, 'R'; mov dx, 0x3f8; out dx, al; hlt
        Outcome o = run("run", "--mode", "real", flat(0xb0, 'R', 0xba, 0xf8, 0x03, 0xee, 0xf4).toString());
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().startsWith("R"), o.out());
    }

    @Test
    void aGuestThatSpinsHitsTheTimeLimit() throws Exception {
        Outcome o = run("run", "--timeout", "1", flat(0xeb, 0xfe).toString());   // jmp $
        assertEquals(Machine.EXIT_TIMEOUT, o.status());
        assertTrue(o.err().contains("time limit"), o.err());
    }

    @Test
    void tripleFaultIsReportedWithItsStatus() throws Exception {
        // ud2 with the IDT KVM starts with (none set up by the guest): #UD cannot be delivered.
        Outcome o = run("run", flat(0x0f, 0x0b).toString());
        assertEquals(Machine.EXIT_TRIPLE_FAULT, o.status(), o.err());
        assertTrue(o.err().contains("KVM_EXIT_SHUTDOWN"), o.err());
    }

    @Test
    void badFilesAreReportedNotThrown() throws Exception {
        assertEquals(Main.EXIT_BAD_GUEST, run("run", dir.resolve("missing.bin").toString()).status());
        Path elf = Files.write(dir.resolve("bad.elf"), new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        Outcome o = run("run", elf.toString());
        assertEquals(Main.EXIT_BAD_GUEST, o.status());
        assertTrue(o.err().contains("not an ELF file"), o.err());
        Path empty = Files.write(dir.resolve("empty.bin"), new byte[0]);
        assertEquals(Main.EXIT_BAD_GUEST, run("run", empty.toString()).status());
    }

    @Test
    void probeReportsKvmAndBackends() {
        Outcome text = run("probe");
        assertEquals(0, text.status());
        assertTrue(text.out().contains("api_version: 12"), text.out());
        Outcome json = run("probe", "--json");
        assertEquals(0, json.status());
        assertTrue(json.out().contains("\"api_version\": 12"), json.out());
        assertTrue(json.out().contains("\"gicv3_its\": \"model\""), json.out());
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"probe", "run"}) {
            Outcome o = run(cmd, "--help");
            assertEquals(0, o.status());
            assertTrue(o.out().contains("Usage: panavirt " + cmd), o.out());
        }
        assertTrue(run("--help").out().contains("probe"));
    }
}
