package dev.panavirt.machine.testkernels;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Builds panavirt's own multiboot test kernels with the host's gcc: one C file (which includes
 * {@code mbkernel.h}) plus {@code entry.S} and {@code defaults.c}, compiled for i686 and linked at 1 MiB into an ELF32 file with a
 * multiboot header that sets no address fields. Each distinct source is built once per JVM; the files live in
 * a temporary directory removed when the JVM exits.
 *
 * <p>This class lives outside {@code dev.panavirt.machine} so that the cli module's tests, which see the runtime
 * test jar on the class path next to the runtime module, can use it too.
 */
public final class TestKernels {
    private TestKernels() {}

    /** gcc flags: 32-bit, baseline i686 (no SSE), freestanding, no PIC. */
    public static final List<String> FLAGS = List.of("-m32", "-march=i686", "-mtune=generic", "-O2", "-ffreestanding",
            "-fno-pic", "-fno-pie", "-no-pie", "-nostdlib", "-static", "-mno-sse", "-mno-mmx", "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables", "-fcf-protection=none", "-Wall", "-Wno-unused-function",
            "-Werror=implicit-function-declaration", "-Wl,-z,max-page-size=0x1000", "-Wl,--build-id=none");

    private static final String[] RESOURCES = {"entry.S", "defaults.c", "kernel.ld", "mbkernel.h"};
    private static final Map<String, Path> CACHE = new ConcurrentHashMap<>();
    private static volatile Path workDir;

    /** The kernel built from {@code source} (a C file including {@code "mbkernel.h"}); extra gcc flags may follow. */
    public static Path build(String source, String... extraFlags) {
        String key = String.join(" ", extraFlags) + "\n" + source;
        return CACHE.computeIfAbsent(key, k -> compile(source, extraFlags));
    }

    /** The bytes of {@link #build}. */
    public static byte[] bytes(String source, String... extraFlags) {
        try {
            return Files.readAllBytes(build(source, extraFlags));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static synchronized Path dir() throws IOException {
        if (workDir == null) {
            Path d = Files.createTempDirectory("panavirt-mbkernels");
            for (String r : RESOURCES) {
                try (InputStream in = TestKernels.class.getResourceAsStream("mbkernel/" + r)) {
                    if (in == null) {
                        throw new IOException("test resource missing: mbkernel/" + r);
                    }
                    Files.copy(in, d.resolve(r));
                }
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (var files = Files.walk(d)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException ignored) {
                    // a temporary directory left behind is harmless
                }
            }));
            workDir = d;
        }
        return workDir;
    }

    private static Path compile(String source, String... extraFlags) {
        try {
            Path d = dir();
            String name = "k" + Integer.toHexString(source.hashCode()) + "-" + System.nanoTime();
            Path c = d.resolve(name + ".c");
            Path elf = d.resolve(name + ".elf");
            Files.writeString(c, source);
            List<String> cmd = new ArrayList<>(List.of("gcc"));
            cmd.addAll(FLAGS);
            cmd.addAll(List.of(extraFlags));
            cmd.addAll(List.of("-I", d.toString(), "-Wl,-T," + d.resolve("kernel.ld"), "-o", elf.toString(),
                    d.resolve("entry.S").toString(), d.resolve("defaults.c").toString(), c.toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new AssertionError("test kernel does not build: " + String.join(" ", cmd) + "\n" + out);
            }
            return elf;
        } catch (IOException e) {
            throw new AssertionError("cannot build test kernel: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while building a test kernel", e);
        }
    }
}
