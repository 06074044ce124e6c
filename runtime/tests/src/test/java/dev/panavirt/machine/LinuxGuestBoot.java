package dev.panavirt.machine;

import dev.panavirt.linux.InitProgram;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VhostVdpa;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One boot of the lane's Debian kernel on panavirt, as {@link LinuxBootTest} checks it and {@link LinuxBootTimes}
 * times it: the init program's initramfs, a virtio-blk disk (the vDPA model over an image file whose sector 0 is
 * {@link #sector0()}) and vdpasim_net ({@code /dev/vhost-vdpa-0}) on virtio-mmio, 256 MiB of shared memfd RAM.
 */
final class LinuxGuestBoot {
    /** The command line: console on COM1, reboot through the keyboard controller, the init program's checks. */
    static final String CMDLINE = "console=ttyS0 reboot=k panic=-1 pci=off panavirt.checks=disk,net,console panavirt.timeout=300";
    /** The disk image's size in sectors. */
    static final int DISK_SECTORS = 2048;
    /** The init program's first line, whose arrival is timed. */
    static final String FIRST_LINE = "panavirt-init: start";
    /** The init program's console check waits for a line after this one. */
    static final String CONSOLE_READY = "console-ready";
    /** The line the host types on COM1 when the console check is ready; init echoes it as "console-read: ...". */
    static final String CONSOLE_INPUT = "typed-on-com1 42";

    /**
     * What a boot gave.
     *
     * @param result     how the run ended
     * @param console    the console text, {@code \r\n} turned into {@code \n}
     * @param firstLine  seconds from the run's start to the init program's first line (NaN if it never came)
     * @param total      seconds from the run's start to its end
     * @param exits      exits by KVM exit reason
     * @param ports      the ports with the most exits
     * @param disk       the image file
     */
    record Outcome(Machine.Result result, String console, double firstLine, double total, Map<String, Long> exits,
            Map<String, Long> ports, Path disk) {}

    private final Path kernel;
    private final byte[] initramfs;
    private final int moduleCount;

    LinuxGuestBoot(Path kernel, Path moduleTree, Path workDir) throws IOException, InterruptedException {
        this.kernel = kernel;
        List<String> mods = InitProgram.withDependencies(moduleTree, "virtio_mmio", "virtio_blk", "virtio_net");
        this.moduleCount = mods.size();
        this.initramfs = InitProgram.initramfs(InitProgram.compile(workDir), moduleTree, mods);
    }

    /** {@return how many modules the initramfs lists} */
    int moduleCount() {
        return moduleCount;
    }

    /** The first 512 bytes of the disk image before the boot. */
    static byte[] sector0() {
        byte[] s = new byte[512];
        for (int i = 0; i < s.length; i++) {
            s[i] = (byte) (i * 13 + 1);
        }
        return s;
    }

    /** Boots once with {@code vcpus} vCPUs and {@code cmdline}, the disk a fresh image at {@code disk}. */
    Outcome boot(int vcpus, String cmdline, Path disk, PrintStream echo) throws Exception {
        byte[] image = new byte[DISK_SECTORS * 512];
        System.arraycopy(sector0(), 0, image, 0, 512);
        Files.write(disk, image);
        MarkerClock console = new MarkerClock(FIRST_LINE, echo);
        // Shared memfd RAM: vdpa_sim (use_va) maps only file-backed memory into its IOTLB.
        Machine.Config config = new Machine.Config(256L << 20, vcpus, true, Duration.ofSeconds(600)).withSharedMemory(true);
        try (Machine m = new Machine(config, console)) {
            m.addVirtioMmio(ModelVdpa.blk(disk, false));
            m.addVirtioMmio(VhostVdpa.open("/dev/vhost-vdpa-0"));
            m.bootLinux(BzImage.parse(Files.readAllBytes(kernel)), cmdline, initramfs);
            m.countPortExits();
            // The line goes in only once init waits for it: the 8250 driver's probe clears the UART's FIFO.
            console.onCue(CONSOLE_READY, () -> Thread.ofVirtual().start(() -> {
                byte[] line = (CONSOLE_INPUT + "\n").getBytes(StandardCharsets.US_ASCII);
                m.serial().queueInput(line, 0, line.length);
            }));
            long start = System.nanoTime();
            console.start(start);
            Machine.Result r = m.run();
            double total = (System.nanoTime() - start) / 1e9;
            return new Outcome(r, console.text().replace("\r\n", "\n"), console.markerSeconds(), total,
                    m.exitsByReason(), m.exitsByPort(8), disk);
        }
    }

    /**
     * The console: keeps the text and the time a marker first appeared, echoes it (null: not), and runs an action
     * at the end of the line where a cue first appears (from the vCPU thread that wrote it: the action must not
     * block).
     */
    static final class MarkerClock extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final byte[] marker;
        private final PrintStream echo;
        private int matched;
        private long start;
        private volatile long markerAt;
        private byte[] cue;
        private Runnable onCue;
        private int cueMatched;

        MarkerClock(String marker, PrintStream echo) {
            this.marker = marker.getBytes(StandardCharsets.US_ASCII);
            this.echo = echo;
        }

        synchronized void onCue(String text, Runnable action) {
            cue = text.getBytes(StandardCharsets.US_ASCII);
            onCue = action;
        }

        void start(long nanos) {
            start = nanos;
        }

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
            if (echo != null) {
                echo.write(b);
            }
            if (markerAt == 0) {
                matched = (byte) b == marker[matched] ? matched + 1 : ((byte) b == marker[0] ? 1 : 0);
                if (matched == marker.length) {
                    markerAt = System.nanoTime();
                }
            }
            if (onCue != null) {
                if (cueMatched == cue.length) {
                    // the cue's line is out only at its newline: input echoed before it would split the line
                    if (b == '\n') {
                        Runnable action = onCue;
                        onCue = null;
                        action.run();
                    }
                } else {
                    cueMatched = (byte) b == cue[cueMatched] ? cueMatched + 1 : ((byte) b == cue[0] ? 1 : 0);
                }
            }
        }

        @Override
        public void flush() {
            if (echo != null) {
                echo.flush();
            }
        }

        double markerSeconds() {
            return markerAt == 0 ? Double.NaN : (markerAt - start) / 1e9;
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }
}
