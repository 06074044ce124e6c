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
    void malformedScriptIsBadInput() throws Exception {
        Path s = Files.writeString(dir.resolve("bad.pvs"), "jump 1 2\n");
        Outcome o = replay(s.toString(), "--device", "riscv-vector");
        assertEquals(Main.EXIT_BAD_INPUT, o.status());
        assertTrue(o.err().contains("line 1: unknown operation 'jump'"), o.err());
    }

    @Test
    void aDeviceOrBinaryFileIsReportedInOneLineNotReadForever() throws Exception {
        Outcome zero = replay("/dev/zero", "--device", "its");   // used to read until an OutOfMemoryError
        assertEquals(Main.EXIT_BAD_INPUT, zero.status());
        assertEquals("panavirt: cannot read /dev/zero: not a regular file", zero.err().strip());
        Path binary = Files.write(dir.resolve("binary.pvs"), new byte[] {(byte) 0xc3, 0x28, 0});
        Outcome bin = replay(binary.toString(), "--device", "its");   // used to say "Input length = 1"
        assertEquals(Main.EXIT_BAD_INPUT, bin.status());
        assertEquals("panavirt: cannot read " + binary + ": not a text file (byte 0 is not UTF-8)", bin.err().strip());
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

    @Test
    void theVdpaSessionsPassOnTheModelInBothProfiles() {
        for (String kind : new String[] {"net", "blk"}) {
            for (String profile : new String[] {"6.12", "latest"}) {
                Outcome o = replay(example("vdpa-" + kind + ".pvs").toString(), "--device", "vdpa-" + kind,
                        "--backend", "model", "--profile", profile);
                assertEquals(0, o.status(), kind + " " + profile + ": " + o.out() + o.err());
            }
        }
        Outcome net = replay(example("vdpa-net.pvs").toString(), "--device", "vdpa-net", "--backend", "model",
                "--profile", "6.12");
        assertTrue(net.out().contains("L81 iotlb-raw 40 VHOST_IOTLB_MSG_V2 0 VHOST_IOTLB_UPDATE 0x220000 0x1000 0x10000 r"
                + " -> 72"), net.out());
        assertTrue(net.out().contains("L124 mem-read 0x2008 4 -> 0x22"), net.out());
        Outcome latest = replay(example("vdpa-net.pvs").toString(), "--device", "vdpa-net", "--backend", "model");
        assertTrue(latest.out().contains("L81 iotlb-raw 40 VHOST_IOTLB_MSG_V2 0 VHOST_IOTLB_UPDATE 0x220000 0x1000"
                + " 0x10000 r -> EINVAL"), latest.out());
    }

    @Test
    void vdpaDevicesTakeBackendAndProfileAsVfioDoes() throws Exception {
        Outcome profile = replay(example("vdpa-blk.pvs").toString(), "--device", "vdpa-blk", "--backend", "model",
                "--profile", "5.4");
        assertEquals(Main.EXIT_USAGE, profile.status());
        assertTrue(profile.err().contains("--profile takes latest or 6.12, not 5.4"), profile.err());
        Outcome backend = replay(example("vdpa-blk.pvs").toString(), "--device", "vdpa-blk", "--backend", "qemu");
        assertEquals(Main.EXIT_USAGE, backend.status());
        assertTrue(backend.err().contains("--backend takes kernel, model or auto, not qemu"), backend.err());
        Outcome device = replay(example("vdpa-blk.pvs").toString(), "--device", "vdpa-console");
        assertEquals(Main.EXIT_USAGE, device.status());
        assertTrue(device.err().contains("vdpa-net or vdpa-blk, got vdpa-console"), device.err());
        // a vhost operation on a device without it is reported, not a crash
        Path s = Files.writeString(dir.resolve("v.pvs"), "vdpa-id\nkick 0\n");
        Outcome its = replay(s.toString(), "--device", "its");
        assertEquals(0, its.status(), its.err());
        assertTrue(its.out().contains("L1 vdpa-id -> unsupported"), its.out());
        Outcome unbound = replay(s.toString(), "--device", "vdpa-net", "--backend", "model");
        assertTrue(unbound.out().contains("L1 vdpa-id -> 0x1"), unbound.out());
        assertTrue(unbound.out().contains("L2 kick 0 -> error: queue 0 has no eventfds: bind-eventfds 0 first"),
                unbound.out());
    }
}
