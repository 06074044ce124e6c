package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panavirt.testkit.Initramfs;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VhostVdpa;
import dev.panavirt.testsupport.DeviceCondition;
import dev.panavirt.testsupport.KvmHwTest;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Boots the lane's stock Debian 6.12 kernel (a bzImage) with {@link Machine#bootLinux} to an initramfs whose init
 * (the test kit's minimal one) loads the virtio modules, lists what it sees and reboots; the run must end by the
 * keyboard controller's reset with status 0. The machine has a virtio-blk disk (the vDPA model over a file) and
 * the lane's vdpasim_net ({@code /dev/vhost-vdpa-0}) on virtio-mmio, announced in the ACPI tables with the vCPUs. Needs KVM on hardware virtualization: the paravirtual KVM cannot run
 * a stock kernel. The kernel comes from {@code -Dpanavirt.lane.kernel} (lane/run sets it, with
 * {@code -Dpanavirt.lane.modules}) or the clone's prepared {@code lane/cache/current}.
 */
@KvmHwTest
class LinuxBootTest {
    static final String CMDLINE = "console=ttyS0 reboot=k panic=-1";
    static final int DISK_SECTORS = 2048;

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} vCPU(s)")
    @RequiresDevice("vdpa")
    @ValueSource(ints = {1, 2})
    void bootsToInitAndRebootsWithStatusZero(int vcpus) throws Exception {
        Path kernel = laneFile("panavirt.lane.kernel", "root/boot", "vmlinuz-");
        Path modules = laneFile("panavirt.lane.modules", "root/lib/modules", "");
        List<String> mods = Initramfs.moduleClosure(modules, "virtio_mmio", "virtio_blk", "virtio_net");
        Initramfs fs = new Initramfs().directory("proc").directory("sys").directory("dev")
                .charDevice("dev/console", 5, 1)
                .file("init", Initramfs.compileStatic(Initramfs.minimalInitSource()), 0755);
        StringBuilder list = new StringBuilder();
        for (String m : mods) {
            fs.file("lib/modules/" + m, Files.readAllBytes(modules.resolve(m)), 0644);
            list.append("/lib/modules/").append(m).append('\n');
        }
        fs.file("etc/modules", list.toString().getBytes(StandardCharsets.US_ASCII), 0644);

        BzImage image = BzImage.parse(Files.readAllBytes(kernel));
        Path disk = Files.createTempFile(tmp, "disk", ".img");
        Files.write(disk, new byte[DISK_SECTORS * 512]);
        MarkerClock console = new MarkerClock("PANAVIRT-INIT: start");
        Machine.Result r;
        Machine.Config config = new Machine.Config(256L << 20, vcpus, true, Duration.ofSeconds(600)).withSharedMemory(true);
        try (Machine m = new Machine(config, console)) {
            m.addVirtioMmio(ModelVdpa.blk(disk, false));
            m.addVirtioMmio(VhostVdpa.open("/dev/vhost-vdpa-0"));
            m.bootLinux(image, CMDLINE, fs.toBytes());
            long start = System.nanoTime();
            console.start(start);
            r = m.run();
            System.out.printf("linux-boot: %d vCPU(s): init's first line after %.2f s, run ended after %.2f s (%s);"
                    + " exits %s%n", vcpus, console.markerSeconds(), (System.nanoTime() - start) / 1e9, r.outcome(),
                    m.exitsByReason());
        }
        String text = console.text();
        assertTrue(text.contains("Linux version 6.12"), "the kernel's banner on COM1:\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: start"), "init ran:\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: modules " + mods.size() + " loaded"),
                "init loaded the " + mods.size() + " modules " + mods + ":\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: virtio virtio0 0x0002"), "the disk, virtio id 2, first:\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: virtio virtio1 0x0001"), "the network device, id 1:\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: block vda " + DISK_SECTORS + "\n"), tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: net eth0 52:54:00:12:34:56\n"), "vdpasim_net's MAC:\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: cpus " + vcpus + "\n"), "the MADT's vCPUs came up:\n" + tail(text));
        assertTrue(text.contains("PANAVIRT-INIT: done"), tail(text));
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
