package dev.panavirt.lane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./panavirt run}, {@code migrate} and {@code probe} in the nested host, as a host without /dev/kvm runs them
 * ({@code --kvm nested} forces it on a host that has one): the same console output and exit
 * statuses as on a KVM host, the notice on stderr, guest files named relative to the caller's
 * directory. Each case boots the lane once (about 20 s). Tag {@code lane}, like the lane itself.
 */
@Tag("lane")
class CommandLineFallbackTest {
    private static Path repo;

    @BeforeAll
    static void lane() throws IOException {
        repo = NestedKernelLaneTest.laneRepoOrSkip();
    }

    record Outcome(int status, String out, String err) {}

    private static Outcome panavirt(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--pdeathsig", "KILL", "--",
                repo.resolve("panavirt").toString(), "--kvm", "nested"));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("panavirt-out", ".txt");
        Path err = Files.createTempFile("panavirt-err", ".txt");
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            try {
                if (!p.waitFor(600, TimeUnit.SECONDS)) {
                    Assertions.fail("panavirt " + String.join(" ", args) + " did not end within 600 s");
                }
            } finally {
                LaneRunner.killTree(p);
            }
            return new Outcome(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void theDemoPrintsItsGreetingAndExitsZero() throws Exception {
        Outcome o = panavirt(repo, "run");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().startsWith("Hello from a panavirt guest"), o.out());
        // one notice line (after the build's messages, when ./panavirt built the jars first)
        assertEquals(1, o.err().lines().filter(l -> l.startsWith("panavirt: running in the nested host")).count(), o.err());
        assertTrue(o.err().contains("panavirt: all vCPUs halted (exit status 0) after "), o.err());
    }

    @Test
    void aGuestFileRelativeToTheCallerGivesItsDebugExitStatus(@TempDir Path dir) throws Exception {
        // real mode: mov al, 'R'; mov dx, 0x3f8; out dx, al; mov al, 5; out 0xf4, al; hlt
        // -> "R" on the console, isa-debug-exit status (5 << 1) | 1
        Files.write(dir.resolve("exit5.bin"), new byte[] {(byte) 0xb0, 'R', (byte) 0xba, (byte) 0xf8, 3, (byte) 0xee,
                (byte) 0xb0, 5, (byte) 0xe6, (byte) 0xf4, (byte) 0xf4});
        Outcome o = panavirt(dir, "run", "--mode", "real", "exit5.bin");
        assertEquals(11, o.status(), o.err());
        assertEquals("R", o.out());
        Outcome missing = panavirt(dir, "run", "no-such-guest.bin");
        assertEquals(65, missing.status(), missing.err());
        assertTrue(missing.err().contains("no-such-guest.bin"), missing.err());
    }

    @Test
    void migrateMovesTheGuestIntoASecondProcessInsideTheNestedHost() throws Exception {
        // 60,000 rounds over 1,008 pages, ~25 s in the nested host: the guest's exit per round paces it at ~0.4 ms a
        // round there, while the JVM under emulation copies 300-600 pages/s in its first round (up to 7 s in CI)
        Outcome o = panavirt(repo, "migrate", "--mem", "8M", "--rounds", "60000", "--after", "200ms", "--timeout", "300");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().endsWith("\nmigrate demo: every page counted every round: pages 0x3f0, rounds 0xea60\n"),
                o.out());
        assertTrue(o.err().contains("tracked by the dirty ring"), o.err());       // kvm_amd keeps the ring's limit
        assertTrue(o.err().contains("panavirt: destination: received"), o.err());
        assertTrue(o.err().contains("panavirt: destination: all vCPUs halted (exit status 0)"), o.err());
    }

    @Test
    void probeNamesTheFlavourAndTheNestedHost() throws Exception {
        Outcome o = panavirt(repo, "probe", "--json");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().contains("\"vendor_module\": \"kvm_amd\""), o.out());
        assertTrue(o.out().contains("\"host\": \"nested"), o.out());
        assertTrue(o.out().contains("\"vhost_vdpa\": \"kernel\""), o.out());
    }
}
