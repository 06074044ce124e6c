package dev.panavirt.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The init program on the lane's Debian 6.12 kernel under QEMU (TCG, no KVM needed), independent of panavirt:
 * the reference the panavirt boot test is compared with. Virtio devices on PCI here (QEMU's q35), the same
 * modules loaded: the disk check reads the sector the host wrote and its write lands in the image file; the net
 * check's frame comes back through a QEMU socket backend whose UDP port sends to itself; the run ends by the
 * guest's reboot (QEMU {@code -no-reboot} exits 0). A second run, with a read-only disk, an unknown check and
 * no network device, shows every failure reported and the run still ending by reboot.
 *
 * <p>Needs {@code qemu-system-x86_64} and the lane's cached kernel ({@code lane/prepare}): {@code LANE_CACHE} or
 * the system property {@code panavirt.lane.cache}, else the repository's {@code lane/cache}; skipped with the
 * reason when either is missing. About 15 s per boot on this project's machines.
 */
@Tag("long")
class InitProgramQemuTest {
    static final int TIMEOUT_S = 300;

    @TempDir
    Path dir;
    Path kernel;
    Path moduleTree;
    Path initramfs;

    @BeforeEach
    void setUp() throws Exception {
        Path cache = laneCache().resolve("current/root");
        kernel = first(cache.resolve("boot"), "vmlinuz-");
        Assumptions.assumeTrue(kernel != null, "no lane kernel under " + cache + " (run lane/prepare)");
        moduleTree = first(cache.resolve("lib/modules"), "");
        Assumptions.assumeTrue(moduleTree != null, "no kernel modules under " + cache);
        Assumptions.assumeTrue(onPath("qemu-system-x86_64"), "qemu-system-x86_64 is not installed");
        Path init = InitProgram.compile(dir);
        initramfs = Files.write(dir.resolve("initramfs.cpio"),
                InitProgram.initramfs(init, moduleTree, InitProgram.VIRTIO_MMIO_MODULES));
    }

    @Test
    void diskAndNetworkChecksPassAndTheRunEndsByReboot() throws Exception {
        byte[] image = new byte[1 << 20];
        for (int i = 0; i < 512; i++) {
            image[i] = (byte) (i * 13 + 1);
        }
        Path disk = Files.write(dir.resolve("disk.img"), image);
        int port;
        try (DatagramSocket s = new DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<String> lines = boot("panavirt.checks=disk,net",
                "-drive", "file=" + disk + ",format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
                "-netdev", "socket,id=n0,udp=127.0.0.1:" + port + ",localaddr=127.0.0.1:" + port,
                "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56");
        assertEquals(List.of(
                "panavirt-init: start",
                "panavirt-init: checks=disk,net",
                "panavirt-init: modules: 5 loaded",
                "disk-read: " + HexFormat.of().formatHex(image, 0, 32),
                "disk-size: " + image.length,
                "disk-write: ok",
                "net-if: eth0",
                "net-mac: 52:54:00:12:34:56",
                "net-loopback: ok",
                "panavirt-init: done"), lines);
        byte[] after = Files.readAllBytes(disk);
        assertArrayEquals(InitProgram.sector1(), Arrays.copyOfRange(after, 512, 1024), "sector 1 in the image");
        assertArrayEquals(Arrays.copyOf(image, 512), Arrays.copyOf(after, 512), "sector 0 unchanged");
    }

    @Test
    void failuresAreReportedAndTheRunStillEndsByReboot() throws Exception {
        byte[] image = new byte[64 * 512];
        Arrays.fill(image, 0, 32, (byte) 0x5c);
        Path disk = Files.write(dir.resolve("ro.img"), image);
        List<String> lines = boot("panavirt.checks=disk,bogus,net",
                "-drive", "file=" + disk + ",format=raw,if=none,id=d0,readonly=on",
                "-device", "virtio-blk-pci,drive=d0");
        assertEquals(List.of(
                "panavirt-init: start",
                "panavirt-init: checks=disk,bogus,net",
                "panavirt-init: modules: 5 loaded",
                "panavirt-init: FAIL check bogus: unknown check (known: disk, net)",
                "disk-read: " + HexFormat.of().formatHex(image, 0, 32),
                "disk-size: " + image.length,
                "panavirt-init: FAIL disk-write: Operation not permitted",      // 6.12: the write is EPERM
                "panavirt-init: FAIL net-if: no network interface other than lo",
                "panavirt-init: done with 3 failures"), lines);
        assertArrayEquals(image, Files.readAllBytes(disk), "the read-only image is unchanged");
    }

    /** Boots with {@code append} added to the command line; the init program's lines, after checking QEMU exited 0. */
    List<String> boot(String append, String... devices) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-machine", "q35", "-cpu", "max",
                "-m", "512", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
                "-kernel", kernel.toString(), "-initrd", initramfs.toString(),
                "-append", "console=ttyS0 panic=-1 panavirt.timeout=200 " + append));
        cmd.addAll(List.of(devices));
        Path log = dir.resolve("console.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("QEMU did not exit in " + TIMEOUT_S + " s; console:\n" + Files.readString(log));
        }
        String console = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "QEMU's exit status (0: the guest rebooted); console:\n" + console);
        List<String> lines = console.lines().map(String::strip)
                .filter(l -> l.startsWith("panavirt-init:") || l.startsWith("disk-") || l.startsWith("net-"))
                .toList();
        if (!console.contains("reboot: Restarting system")) {
            throw new AssertionError("the kernel did not restart; console:\n" + console);
        }
        return lines;
    }

    static Path laneCache() {
        String given = System.getProperty("panavirt.lane.cache", System.getenv("LANE_CACHE"));
        if (given != null && !given.isBlank()) {
            return Path.of(given);
        }
        Path d = Path.of("").toAbsolutePath();
        while (d != null && !Files.isDirectory(d.resolve("lane"))) {
            d = d.getParent();
        }
        return d == null ? Path.of("lane/cache") : d.resolve("lane/cache");
    }

    /** The first entry of {@code dir} whose name starts with {@code prefix} (sorted), or null. */
    static Path first(Path dir, String prefix) throws IOException {
        if (!Files.isDirectory(dir)) {
            return null;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().findFirst().orElse(null);
        }
    }

    static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }
}
