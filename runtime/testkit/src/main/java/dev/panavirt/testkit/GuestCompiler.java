package dev.panavirt.testkit;

import dev.panavirt.machine.GuestImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Builds freestanding C into a flat x86-64 guest image with the host's gcc: baseline x86-64 (no AVX,
 * no BMI2), general-purpose registers only, no red zone, no PIC, linked at a chosen address with
 * {@code panavirt_guest.h} on the include path. The result runs in the long mode set up by
 * {@link dev.panavirt.machine.X86Boot#longMode}.
 *
 * <p>General registers only ({@code -mgeneral-regs-only}): gcc otherwise vectorises loops and copies
 * with SSE, and on the paravirtual KVM (PVM) an SSE instruction in the guest traps to KVM's instruction
 * emulator, which cannot emulate most of them (measured: {@code pxor %xmm1,%xmm1} ends the run with
 * KVM_EXIT_INTERNAL_ERROR, emulation failure, while x87 {@code fninit} and {@code fxsave} are emulated).
 * A test of SSE or XSAVE state writes the instructions itself and needs hardware virtualization
 * ({@code @RequiresDevice("kvm-hw")}).
 */
public final class GuestCompiler {
    /** The flags every guest is built with. */
    public static final List<String> FLAGS = List.of("-m64", "-march=x86-64", "-mtune=generic", "-O2",
            "-ffreestanding", "-fno-pic", "-fno-pie", "-no-pie", "-nostdlib", "-nostartfiles", "-mno-red-zone", "-mgeneral-regs-only",
            "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fno-exceptions", "-fcf-protection=none",
            "-static", "-Wall", "-Werror=implicit-function-declaration");

    private final String gcc;
    private final String objcopy;

    /** A compiler using {@code gcc} and {@code objcopy} from the PATH. */
    public GuestCompiler() {
        this("gcc", "objcopy");
    }

    /** A compiler using the given programs. */
    public GuestCompiler(String gcc, String objcopy) {
        this.gcc = gcc;
        this.objcopy = objcopy;
    }

    /** Whether gcc can be run here. */
    public static boolean available() {
        try {
            Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
            p.getInputStream().transferTo(OutputStreamSink.INSTANCE);
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /**
     * Compiles {@code source} (one C translation unit defining {@code int main(void)}, usually after
     * {@code #include "panavirt_guest.h"}) into an image loaded and entered at {@code loadAddress}.
     *
     * @throws GuestBuildException with gcc's diagnostics when the build fails
     */
    public GuestImage compile(String source, long loadAddress, String... extraFlags) throws GuestBuildException {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("panavirt-guest");
            copyResource("panavirt_guest.h", dir);
            copyResource("guest.ld", dir);
            Path c = dir.resolve("guest.c");
            Files.writeString(c, source);
            Path elf = dir.resolve("guest.elf");
            Path bin = dir.resolve("guest.bin");
            List<String> cmd = new ArrayList<>(List.of(gcc));
            cmd.addAll(FLAGS);
            cmd.addAll(List.of(extraFlags));
            cmd.addAll(List.of("-I", dir.toString(), "-Wl,-T," + dir.resolve("guest.ld"),
                    "-Wl,--defsym=LOAD_ADDR=0x" + Long.toHexString(loadAddress), "-Wl,--build-id=none",
                    "-o", elf.toString(), c.toString()));
            run(cmd, "gcc");
            run(List.of(objcopy, "-O", "binary", elf.toString(), bin.toString()), "objcopy");
            return new GuestImage(Files.readAllBytes(bin), loadAddress, loadAddress);
        } catch (IOException e) {
            throw new GuestBuildException("cannot build guest: " + e.getMessage(), e);
        } finally {
            deleteTree(dir);
        }
    }

    private static void run(List<String> cmd, String what) throws GuestBuildException, IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new GuestBuildException(what + " timed out: " + String.join(" ", cmd), null);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new GuestBuildException(what + " interrupted", e);
        }
        if (p.exitValue() != 0) {
            throw new GuestBuildException(what + " failed (exit " + p.exitValue() + "): " + String.join(" ", cmd)
                    + "\n" + out, null);
        }
    }

    private static void copyResource(String name, Path dir) throws IOException {
        try (InputStream in = GuestCompiler.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("resource missing from the panavirt runtime jar: " + name);
            }
            Files.copy(in, dir.resolve(name));
        }
    }

    private static void deleteTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // A temp directory left behind is harmless.
        }
    }

    /** gcc or objcopy failed; the message holds their output. */
    public static final class GuestBuildException extends Exception {
        private static final long serialVersionUID = 1L;

        GuestBuildException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final class OutputStreamSink extends java.io.OutputStream {
        static final OutputStreamSink INSTANCE = new OutputStreamSink();

        @Override
        public void write(int b) {
            // discard
        }
    }
}
