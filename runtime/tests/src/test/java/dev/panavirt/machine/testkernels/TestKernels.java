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
 * {@code mbkernel.h}) plus {@code entry.S} and {@code defaults.c}, compiled for i686 and linked at 1 MiB into an
 * ELF32 file with a multiboot header that sets no address fields ({@link #build}); or, the way kvm-unit-tests
 * build theirs, a 64-bit kernel with {@code entry64.S} linked at 4 MiB and converted to ELF32 ({@link #build64}). Each distinct source is built once per JVM; the files live in
 * a temporary directory removed when the JVM exits.
 *
 * <p>This class lives outside {@code dev.panavirt.machine} so that the cli module's tests, which see the runtime
 * test jar on the class path next to the runtime module, can use it too.
 */
public final class TestKernels {
    private TestKernels() {}

    /** gcc flags of every kernel: freestanding, no PIC, no SSE, address 0 usable (kernels copy code there). */
    public static final List<String> COMMON_FLAGS = List.of("-mtune=generic", "-O2", "-ffreestanding", "-fno-pic",
            "-fno-pie", "-no-pie", "-nostdlib", "-static", "-mno-sse", "-mno-mmx", "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables", "-fcf-protection=none", "-fno-delete-null-pointer-checks", "-Wall",
            "-Wno-unused-function", "-Werror=implicit-function-declaration", "-Wl,-z,max-page-size=0x1000",
            "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments");
    /** Extra flags of 32-bit kernels: baseline i686. */
    public static final List<String> FLAGS_32 = List.of("-m32", "-march=i686");
    /** Extra flags of 64-bit kernels: baseline x86-64, no red zone (interrupts use the kernel stack). */
    public static final List<String> FLAGS_64 = List.of("-m64", "-march=x86-64", "-mno-red-zone");

    private static final String[] RESOURCES = {"entry.S", "entry64.S", "defaults.c", "kernel.ld", "kernel64.ld",
        "mbkernel.h"};
    private static final Map<String, Path> CACHE = new ConcurrentHashMap<>();
    private static volatile Path workDir;

    /** The 32-bit kernel built from {@code source} (a C file including {@code "mbkernel.h"}); extra gcc flags may follow. */
    public static Path build(String source, String... extraFlags) {
        String key = "32 " + String.join(" ", extraFlags) + "\n" + source;
        return CACHE.computeIfAbsent(key, k -> compile(false, source, extraFlags));
    }

    /**
     * The 64-bit kernel built from {@code source}, as kvm-unit-tests build theirs: a 64-bit ELF linked at 4 MiB
     * with a 32-bit entry that switches to long mode, converted with {@code objcopy -O elf32-i386}.
     */
    public static Path build64(String source, String... extraFlags) {
        String key = "64 " + String.join(" ", extraFlags) + "\n" + source;
        return CACHE.computeIfAbsent(key, k -> compile(true, source, extraFlags));
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

    private static Path compile(boolean longMode, String source, String... extraFlags) {
        try {
            Path d = dir();
            String name = "k" + Integer.toHexString(source.hashCode()) + "-" + System.nanoTime();
            Path c = d.resolve(name + ".c");
            Path elf = d.resolve(name + ".elf");
            Files.writeString(c, source);
            List<String> cmd = new ArrayList<>(List.of("gcc"));
            cmd.addAll(longMode ? FLAGS_64 : FLAGS_32);
            cmd.addAll(COMMON_FLAGS);
            cmd.addAll(List.of(extraFlags));
            cmd.addAll(List.of("-I", d.toString(), "-Wl,-T," + d.resolve(longMode ? "kernel64.ld" : "kernel.ld"),
                    "-o", elf.toString(), d.resolve(longMode ? "entry64.S" : "entry.S").toString(),
                    d.resolve("defaults.c").toString(), c.toString()));
            run(cmd);
            if (!longMode) {
                return elf;
            }
            Path flat = d.resolve(name + ".flat");
            run(List.of("objcopy", "-O", "elf32-i386", elf.toString(), flat.toString()));
            return flat;
        } catch (IOException e) {
            throw new AssertionError("cannot build test kernel: " + e.getMessage(), e);
        }
    }

    private static void run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new AssertionError("test kernel does not build: " + String.join(" ", cmd) + "\n" + out);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while building a test kernel", e);
        }
    }
}
