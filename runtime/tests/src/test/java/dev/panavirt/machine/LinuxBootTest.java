package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panavirt.linux.InitProgram;
import dev.panavirt.testsupport.DeviceCondition;
import dev.panavirt.testsupport.KvmHwTest;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * device's MAC, loops a frame through vdpasim_net and reads a line the host types on COM1 (the UART's receive
 * interrupt), then reboots; the host checks every console line, the
 * image file's bytes, the vCPU count the kernel brought up, and that the run ended by the keyboard controller's
 * reset with status 0. The machine has a virtio-blk disk (the vDPA model over a file) and
 * the lane's vdpasim_net ({@code /dev/vhost-vdpa-0}) on virtio-mmio, announced in the ACPI tables with the vCPUs. Needs KVM on hardware virtualization: the paravirtual KVM cannot run
 * a stock kernel. The kernel comes from {@code -Dpanavirt.lane.kernel} (lane/run sets it, with
 * {@code -Dpanavirt.lane.modules}) or the clone's prepared {@code lane/cache/current}.
 */
@KvmHwTest
class LinuxBootTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} vCPU(s)")
    @RequiresDevice("vdpa")
    @ValueSource(ints = {1, 2})
    void bootsToInitWhoseDiskAndNetworkChecksPassAndRebootsWithStatusZero(int vcpus) throws Exception {
        LinuxGuestBoot guest = new LinuxGuestBoot(laneFile("panavirt.lane.kernel", "root/boot", "vmlinuz-"),
                laneFile("panavirt.lane.modules", "root/lib/modules", ""), tmp);
        LinuxGuestBoot.Outcome o = guest.boot(vcpus, LinuxGuestBoot.CMDLINE, tmp.resolve("disk.img"), System.out);
        System.out.printf("%nlinux-boot: %d vCPU(s): init's first line after %.2f s, run ended after %.2f s (%s);"
                + " exits %s; port exits %s%n", vcpus, o.firstLine(), o.total(), o.result().outcome(), o.exits(),
                o.ports());
        String text = o.console();
        List<String> lines = text.lines().filter(l -> l.startsWith("panavirt-init:") || l.startsWith("disk-")
                || l.startsWith("net-") || l.startsWith("console-")).toList();
        assertTrue(text.contains("Linux version 6.12"), "the kernel's banner on COM1:\n" + tail(text));
        assertTrue(text.contains("smp: Brought up 1 node, " + vcpus + " CPU"), "the MADT's vCPUs came up:\n"
                + tail(text));
        byte[] sector0 = LinuxGuestBoot.sector0();
        assertEquals(List.of(
                LinuxGuestBoot.FIRST_LINE,
                "panavirt-init: checks=disk,net,console",
                "panavirt-init: modules: " + guest.moduleCount() + " loaded",
                "disk-read: " + HexFormat.of().formatHex(sector0, 0, 32),
                "disk-size: " + LinuxGuestBoot.DISK_SECTORS * 512,
                "disk-write: ok",
                "net-if: eth0",
                "net-mac: 52:54:00:12:34:56",
                "net-loopback: ok",
                LinuxGuestBoot.CONSOLE_READY,
                "console-read: " + LinuxGuestBoot.CONSOLE_INPUT,
                "panavirt-init: done"), lines, tail(text));
        byte[] after = Files.readAllBytes(o.disk());
        assertArrayEquals(InitProgram.sector1(), Arrays.copyOfRange(after, 512, 1024), "sector 1 in the image file");
        assertArrayEquals(sector0, Arrays.copyOf(after, 512), "sector 0 unchanged");
        assertEquals(Machine.Outcome.RESET, o.result().outcome(), o.result().message() + "\n" + tail(text));
        assertEquals(0, o.result().exitStatus(), o.result().message());
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
}
