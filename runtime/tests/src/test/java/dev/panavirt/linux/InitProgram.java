package dev.panavirt.linux;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The init program of the Linux boot tests ({@code dev/panavirt/linux/init.c}, its header comment says what it
 * does and prints): built here with the host's gcc as a static executable, packed with the modules it loads
 * into an initramfs (an uncompressed newc cpio, which the kernel takes as it is), and the facts a host-side
 * check needs (the bytes it writes to sector 1 of the disk).
 */
public final class InitProgram {
    private InitProgram() {
    }

    /** The resource holding the source. */
    public static final String SOURCE = "/dev/panavirt/linux/init.c";
    /** gcc's flags: static, optimised, every warning an error. */
    public static final List<String> FLAGS = List.of("-static", "-O2", "-Wall", "-Wextra", "-Werror");
    /** The text repeated over the 512 bytes the disk check writes to sector 1. */
    public static final String SECTOR1_TEXT = "panavirt-init wrote sector 1\n";
    /** The module list's path in the initramfs, and where the modules are ({@code NAME.ko} or {@code NAME.ko.xz}). */
    public static final String MODULES_LIST = "modules.list", MODULES_DIR = "modules";
    /**
     * The modules Debian's 6.12 kernel needs for virtio-mmio devices, in load order (dependencies first):
     * virtio_mmio matches the ACPI id LNRO0005, virtio_net needs net_failover and failover.
     */
    public static final List<String> VIRTIO_MMIO_MODULES = List.of("failover", "net_failover", "virtio_net",
            "virtio_blk", "virtio_mmio");

    /** The 512 bytes the disk check writes to sector 1: {@link #SECTOR1_TEXT} repeated, the last copy cut. */
    public static byte[] sector1() {
        byte[] text = SECTOR1_TEXT.getBytes(StandardCharsets.US_ASCII);
        byte[] b = new byte[512];
        for (int i = 0; i < b.length; i++) {
            b[i] = text[i % text.length];
        }
        return b;
    }

    /**
     * Compiles the init program into {@code dir/init}.
     *
     * @return the executable
     * @throws AssertionError with gcc's diagnostics when it does not build
     */
    public static Path compile(Path dir) throws IOException, InterruptedException {
        Path c = dir.resolve("init.c");
        try (InputStream in = InitProgram.class.getResourceAsStream(SOURCE)) {
            if (in == null) {
                throw new IOException("resource " + SOURCE + " missing from the test classpath");
            }
            Files.write(c, in.readAllBytes());
        }
        Path out = dir.resolve("init");
        List<String> cmd = new ArrayList<>(List.of("gcc"));
        cmd.addAll(FLAGS);
        cmd.addAll(List.of("-o", out.toString(), c.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log;
        try (InputStream in = p.getInputStream()) {
            log = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("gcc did not finish in 120 s: " + String.join(" ", cmd));
        }
        if (p.exitValue() != 0) {
            throw new AssertionError("init.c does not build (" + String.join(" ", cmd) + "):\n" + log);
        }
        return out;
    }

    /**
     * An initramfs holding {@code init} as {@code /init}, {@code /dev/console} (so the kernel gives init its
     * console before devtmpfs is mounted), empty {@code /proc} and {@code /sys}, and {@code modules} found under
     * {@code moduleTree} (a kernel's {@code /lib/modules/<abi>}) as they are there ({@code .ko.xz} or
     * {@code .ko}), listed in {@code /modules.list} in the given order.
     *
     * @throws IOException when a module is not in the tree
     */
    public static byte[] initramfs(Path init, Path moduleTree, List<String> modules) throws IOException {
        Newc cpio = new Newc();
        cpio.dir("dev");
        cpio.node("dev/console", 020600, 5, 1);
        cpio.dir("proc");
        cpio.dir("sys");
        cpio.dir(MODULES_DIR);
        StringBuilder list = new StringBuilder();
        for (String name : modules) {
            Path ko = findModule(moduleTree, name);
            String file = ko.getFileName().toString();
            cpio.file(MODULES_DIR + "/" + name + file.substring(file.indexOf(".ko")), 0100644, Files.readAllBytes(ko));
            list.append(name).append('\n');
        }
        cpio.file(MODULES_LIST, 0100644, list.toString().getBytes(StandardCharsets.US_ASCII));
        cpio.file("init", 0100755, Files.readAllBytes(init));
        return cpio.finish();
    }

    /** {@code NAME.ko.xz} or {@code NAME.ko} under {@code tree} (a '-' in the file name matching '_'). */
    static Path findModule(Path tree, String name) throws IOException {
        try (Stream<Path> files = Files.walk(tree)) {
            return files.filter(p -> {
                String f = p.getFileName().toString().replace('-', '_');
                return f.equals(name + ".ko.xz") || f.equals(name + ".ko");
            }).findFirst().orElseThrow(() -> new IOException("module " + name + " not found under " + tree));
        }
    }

    /** The "new ASCII" cpio format the kernel unpacks (Documentation/driver-api/early-userspace/buffer-format.rst). */
    static final class Newc {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private int ino = 1;

        void dir(String name) {
            entry(name, 040755, 2, 0, 0, new byte[0]);
        }

        void file(String name, int mode, byte[] data) {
            entry(name, mode, 1, 0, 0, data);
        }

        void node(String name, int mode, int major, int minor) {
            entry(name, mode, 1, major, minor, new byte[0]);
        }

        byte[] finish() {
            entry("TRAILER!!!", 0, 1, 0, 0, new byte[0]);
            return out.toByteArray();
        }

        private void entry(String name, int mode, int nlink, int rdevMajor, int rdevMinor, byte[] data) {
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            String header = "070701" + hex(name.equals("TRAILER!!!") ? 0 : ino++) + hex(mode) + hex(0) + hex(0)
                    + hex(nlink) + hex(0) + hex(data.length) + hex(0) + hex(0) + hex(rdevMajor) + hex(rdevMinor)
                    + hex(n.length + 1) + hex(0);
            out.writeBytes(header.getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(n);
            out.write(0);
            pad();
            out.writeBytes(data);
            pad();
        }

        private void pad() {
            while (out.size() % 4 != 0) {
                out.write(0);
            }
        }

        private static String hex(int v) {
            return String.format("%08x", v);
        }
    }
}
