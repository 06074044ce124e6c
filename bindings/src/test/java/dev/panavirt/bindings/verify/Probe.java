package dev.panavirt.bindings.verify;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Shared plumbing of the C-side checks: where the headers are, where to write, how to run tools. */
final class Probe {
    private Probe() {
    }

    /** The bound headers of each package, as the generator binds them. */
    static final Map<String, List<String>> INCLUDES = Map.of(
            "kvm", List.of("linux/kvm.h", "asm/kvm.h", "panavirt/kvm_ext.h"),
            "dev.panavirt.bindings.vfio", List.of("linux/vfio.h"),
            "dev.panavirt.bindings.vhost", List.of("linux/vhost.h", "linux/vhost_types.h"),
            "dev.panavirt.bindings.virtio", List.of("linux/virtio_config.h", "linux/virtio_ring.h",
                    "linux/virtio_net.h", "linux/virtio_blk.h"));

    static List<String> includes(String pkg) {
        return pkg.startsWith("dev.panavirt.bindings.kvm.") ? INCLUDES.get("kvm") : INCLUDES.get(pkg);
    }

    /**
     * The installed header cache ({@code <dir>/<arch>/include}); a missing property is an error, not
     * a reason to skip: these tests are what makes the committed bindings trustworthy.
     */
    static Path headersDir() {
        String dir = System.getProperty("panavirt.headers.dir", "");
        if (dir.isBlank()) {
            throw new AssertionError("system property panavirt.headers.dir is not set; run the tests with "
                    + "-Dpanavirt.headers.dir=$(native-headers/install-headers.sh | tail -1)");
        }
        Path p = Path.of(dir);
        if (!Files.isDirectory(p.resolve("x86/include/linux"))) {
            throw new AssertionError("panavirt.headers.dir=" + dir + " holds no installed headers (x86/include/linux)");
        }
        return p;
    }

    /** {@code native-headers/include}, next to the bindings module. */
    static Path extInclude() {
        Path module = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
        Path p = module.resolveSibling("native-headers").resolve("include");
        if (!Files.isDirectory(p.resolve("panavirt"))) throw new AssertionError("no extension headers at " + p);
        return p;
    }

    static Path workDir(String name) throws IOException {
        Path module = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
        Path d = module.resolve("target").resolve("layout-probes").resolve(name);
        Files.createDirectories(d);
        return d;
    }

    record Result(int exit, String output) {
    }

    static Result run(Path dir, List<String> command) throws IOException, InterruptedException {
        Path log = dir.resolve("out.txt");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    /** Whether an executable is on the PATH. */
    static boolean onPath(String exe) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, exe))) return true;
        }
        return false;
    }
}
