package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panavirt.linux.InitProgram;
import dev.panavirt.testsupport.DeviceCondition;
import dev.panavirt.testsupport.KvmHwTest;
import dev.panavirt.testsupport.RequiresDevice;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VhostVdpa;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Boots the lane's stock Debian 6.12 kernel (a bzImage) with {@link Machine#bootLinux} to an initramfs whose init
 * ({@link InitProgram}) loads the virtio modules, reads sector 0 of the disk, writes sector 1, checks the network
 * device's MAC and loops a frame through vdpasim_net, then reboots; the host checks every console line, the
 * image file's bytes, the vCPU count the kernel brought up, and that the run ended by the keyboard controller's
 * reset with status 0. The machine has a virtio-blk disk (the vDPA model over a file) and
 * the lane's vdpasim_net ({@code /dev/vhost-vdpa-0}) on virtio-mmio, announced in the ACPI tables with the vCPUs. Needs KVM on hardware virtualization: the paravirtual KVM cannot run
 * a stock kernel. The kernel comes from {@code -Dpanavirt.lane.kernel} (lane/run sets it, with
 * {@code -Dpanavirt.lane.modules}) or the clone's prepared {@code lane/cache/current}.
 */
@KvmHwTest
class LinuxBootTest {
    static final String CMDLINE = "console=ttyS0 reboot=k panic=-1 panavirt.checks=disk,net panavirt.timeout=300";
    static final int DISK_SECTORS = 2048;

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} vCPU(s)")
    @RequiresDevice("vdpa")
    @ValueSource(ints = {1, 2})
    void bootsToInitWhoseDiskAndNetworkChecksPassAndRebootsWithStatusZero(int vcpus) throws Exception {
        Path kernel = laneFile("panavirt.lane.kernel", "root/boot", "vmlinuz-");
        Path modules = laneFile("panavirt.lane.modules", "root/lib/modules", "");
        List<String> mods = InitProgram.withDependencies(modules, "virtio_mmio", "virtio_blk", "virtio_net");
        byte[] initramfs = InitProgram.initramfs(InitProgram.compile(tmp), modules, mods);

        byte[] image = new byte[DISK_SECTORS * 512];
        for (int i = 0; i < 512; i++) {
            image[i] = (byte) (i * 13 + 1);
        }
        Path disk = Files.write(tmp.resolve("disk.img"), image);
        BzImage bzImage = BzImage.parse(Files.readAllBytes(kernel));
        MarkerClock console = new MarkerClock("panavirt-init: start");
        Machine.Result r;
        // Shared memfd RAM: vdpa_sim (use_va) maps only file-backed memory into its IOTLB.
        Machine.Config config = new Machine.Config(256L << 20, vcpus, true, Duration.ofSeconds(600)).withSharedMemory(true);
        try (Machine m = new Machine(config, console)) {
            m.addVirtioMmio(ModelVdpa.blk(disk, false));
            m.addVirtioMmio(VhostVdpa.open("/dev/vhost-vdpa-0"));
            m.bootLinux(bzImage, CMDLINE, initramfs);
            long start = System.nanoTime();
            console.start(start);
            r = m.run();
            System.out.printf("linux-boot: %d vCPU(s): init's first line after %.2f s, run ended after %.2f s (%s);"
                    + " exits %s%n", vcpus, console.markerSeconds(), (System.nanoTime() - start) / 1e9, r.outcome(),
                    m.exitsByReason());
        }
        // The tty turns each \n into \r\n on the way out.
        String text = console.text().replace("\r\n", "\n");
        List<String> lines = text.lines().filter(l -> l.startsWith("panavirt-init:") || l.startsWith("disk-")
                || l.startsWith("net-")).toList();
        assertTrue(text.contains("Linux version 6.12"), "the kernel's banner on COM1:\n" + tail(text));
        assertTrue(text.contains("smp: Brought up 1 node, " + vcpus + " CPU"), "the MADT's vCPUs came up:\n"
                + tail(text));
        assertEquals(List.of(
                "panavirt-init: start",
                "panavirt-init: checks=disk,net",
                "panavirt-init: modules: " + mods.size() + " loaded",
                "disk-read: " + HexFormat.of().formatHex(image, 0, 32),
                "disk-size: " + image.length,
                "disk-write: ok",
                "net-if: eth0",
                "net-mac: 52:54:00:12:34:56",
                "net-loopback: ok",
                "panavirt-init: done"), lines, tail(text));
        byte[] after = Files.readAllBytes(disk);
        assertArrayEquals(InitProgram.sector1(), Arrays.copyOfRange(after, 512, 1024), "sector 1 in the image file");
        assertArrayEquals(Arrays.copyOf(image, 512), Arrays.copyOf(after, 512), "sector 0 unchanged");
        assertEquals(Machine.Outcome.RESET, r.outcome(), r.message() + "\n" + tail(text));
        assertEquals(0, r.exitStatus(), r.message());
    }

    private static String tail(String text) {
        return text.length() <= 6000 ? text : text.substring(text.length() - 6000);
    }

    /** A file of the lane's kernel: the system property's path, else found under lane/cache/current. */
    static Path laneFile(String property, String dir, String prefix) throws IOException {
        String p = System.getProperty(property);
        if (p != null) {
            return Path.of(p);
        }
        Optional<Path> found = Optional.empty();
        for (Path d = Path.of("").toAbsolutePath(); d != null && found.isEmpty(); d = d.getParent()) {
            Path base = d.resolve("lane/cache/current").resolve(dir);
            if (Files.isDirectory(base)) {
                try (Stream<Path> s = Files.list(base)) {
                    found = s.filter(f -> f.getFileName().toString().startsWith(prefix)).sorted().findFirst();
                }
            }
        }
        if (found.isEmpty()) {
            String why = "no " + property + " and no prepared lane/cache/current/" + dir + " (run lane/prepare)";
            if (DeviceCondition.required().contains("kvm-hw")) {
                fail(why);
            }
            Assumptions.abort(why);
        }
        return found.get();
    }

    /** The console: keeps the text and the time a marker first appeared, and echoes it to stdout. */
    static final class MarkerClock extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final byte[] marker;
        private int matched;
        private long start;
        private volatile long markerAt;

        MarkerClock(String marker) {
            this.marker = marker.getBytes(StandardCharsets.US_ASCII);
        }

        void start(long nanos) {
            start = nanos;
        }

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
            System.out.write(b);
            if (markerAt == 0) {
                matched = (byte) b == marker[matched] ? matched + 1 : ((byte) b == marker[0] ? 1 : 0);
                if (matched == marker.length) {
                    markerAt = System.nanoTime();
                }
            }
        }

        @Override
        public void flush() {
            System.out.flush();
        }

        double markerSeconds() {
            return markerAt == 0 ? Double.NaN : (markerAt - start) / 1e9;
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }
}
