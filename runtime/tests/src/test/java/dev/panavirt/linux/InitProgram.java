package dev.panavirt.linux;

import dev.panavirt.testkit.Initramfs;
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
 * into an initramfs (the test kit's {@link Initramfs}, an uncompressed newc cpio the kernel takes as it is),
 * and the facts a host-side check needs (the bytes it writes to sector 1 of the disk).
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
        Initramfs cpio = new Initramfs().charDevice("dev/console", 5, 1).directory("proc").directory("sys")
                .directory(MODULES_DIR);
        StringBuilder list = new StringBuilder();
        for (String name : modules) {
            Path ko = findModule(moduleTree, name);
            String file = ko.getFileName().toString();
            cpio.file(MODULES_DIR + "/" + name + file.substring(file.indexOf(".ko")), Files.readAllBytes(ko), 0644);
            list.append(name).append('\n');
        }
        cpio.file(MODULES_LIST, list.toString().getBytes(StandardCharsets.US_ASCII), 0644);
        cpio.file("init", Files.readAllBytes(init), 0755);
        return cpio.toBytes();
    }

    /**
     * The modules {@code names} need under {@code moduleTree}, dependencies first, as module names for
     * {@link #initramfs} ({@code modules.dep} says what each depends on: {@link Initramfs#moduleClosure}).
     */
    public static List<String> withDependencies(Path moduleTree, String... names) throws IOException {
        List<String> out = new ArrayList<>();
        for (String path : Initramfs.moduleClosure(moduleTree, names)) {
            String file = path.substring(path.lastIndexOf('/') + 1);
            out.add(file.substring(0, file.indexOf(".ko")).replace('-', '_'));
        }
        return out;
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
}
