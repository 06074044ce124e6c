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
            "dev.panavirt.bindings.kvm", List.of("linux/kvm.h"),
            "dev.panavirt.bindings.vfio", List.of("linux/vfio.h"),
            "dev.panavirt.bindings.vhost", List.of("linux/vhost.h", "linux/vhost_types.h"),
            "dev.panavirt.bindings.virtio", List.of("linux/virtio_config.h", "linux/virtio_ring.h",
                    "linux/virtio_net.h", "linux/virtio_blk.h"));

    static List<String> includes(String pkg) {
        return pkg.startsWith("dev.panavirt.bindings.kvm.") ? INCLUDES.get("kvm") : INCLUDES.get(pkg);
    }

    /**
     * The installed header cache ({@code <dir>/<arch>/include}), from {@code -Dpanavirt.headers.dir}.
     * When the property is unset, the default cache of {@code native-headers/install-headers.sh}
     * ({@code ${PANAVIRT_CACHE:-~/.cache/panavirt}/headers/<pinned version>}) is used if that script
     * completed there; otherwise this is an error, not a reason to skip: these checks are what makes
     * the committed bindings trustworthy. Either way every header the manifest lists must match its
     * sha256, so the checks never run against other headers than the ones generated from.
     */
    static synchronized Path headersDir() {
        if (headers != null) return headers;
        String dir = System.getProperty("panavirt.headers.dir", "");
        Path manifest = moduleDir().resolveSibling("native-headers").resolve("headers.manifest");
        Path p;
        if (!dir.isBlank()) {
            p = Path.of(dir);
        } else {
            String version = manifestValue(manifest, "version");
            String cache = System.getenv().getOrDefault("PANAVIRT_CACHE", System.getProperty("user.home") + "/.cache/panavirt");
            p = Path.of(cache, "headers", version);
            if (!Files.isRegularFile(p.resolve(".installed"))) {
                throw new AssertionError("system property panavirt.headers.dir is not set and " + p + " holds no "
                        + "installed headers; run the tests with "
                        + "-Dpanavirt.headers.dir=$(native-headers/install-headers.sh | tail -1)");
            }
            System.out.println("panavirt.headers.dir not set; using install-headers.sh's default cache " + p);
        }
        if (!Files.isDirectory(p.resolve("x86/include/linux"))) {
            throw new AssertionError("panavirt.headers.dir=" + p + " holds no installed headers (x86/include/linux)");
        }
        verify(manifest, p);
        headers = p;
        return p;
    }

    private static Path headers;

    private static Path moduleDir() {
        return Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    }

    private static String manifestValue(Path manifest, String key) {
        try {
            for (String line : Files.readAllLines(manifest, StandardCharsets.UTF_8)) {
                String[] w = line.strip().split("\\s+");
                if (w.length >= 2 && w[0].equals(key)) return w[1];
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read " + manifest, e);
        }
        throw new AssertionError(manifest + " has no " + key + " line");
    }

    /** Every {@code sha256 <hex> <file>} line of the manifest must hold for the tree. */
    private static void verify(Path manifest, Path tree) {
        List<String> bad = new java.util.ArrayList<>();
        int n = 0;
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            for (String line : Files.readAllLines(manifest, StandardCharsets.UTF_8)) {
                String[] w = line.strip().split("\\s+");
                if (w.length != 3 || !w[0].equals("sha256")) continue;
                n++;
                Path f = tree.resolve(w[2]);
                if (!Files.isRegularFile(f)) {
                    bad.add(w[2] + ": missing");
                    continue;
                }
                String got = java.util.HexFormat.of().formatHex(md.digest(Files.readAllBytes(f)));
                if (!got.equals(w[1])) bad.add(w[2] + ": sha256 " + got + ", manifest " + w[1]);
            }
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new AssertionError("cannot verify " + tree + " against " + manifest, e);
        }
        if (n == 0) throw new AssertionError(manifest + " lists no sha256 lines");
        if (!bad.isEmpty()) {
            throw new AssertionError("headers in " + tree + " differ from " + manifest + ":\n  " + String.join("\n  ", bad));
        }
    }

    /** {@code native-headers/include}, next to the bindings module. */
    static Path extInclude() {
        Path p = moduleDir().resolveSibling("native-headers").resolve("include");
        if (!Files.isDirectory(p.resolve("panavirt"))) throw new AssertionError("no extension headers at " + p);
        return p;
    }

    static Path workDir(String name) throws IOException {
        Path d = moduleDir().resolve("target").resolve("layout-probes").resolve(name);
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
