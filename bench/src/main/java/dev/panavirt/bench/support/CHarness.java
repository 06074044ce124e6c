package dev.panavirt.bench.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C baseline: loops in {@code libpvbench.so} (src/main/c/pvbench.c, compiled by gcc during the
 * build and packed into the jar under {@code /native/}). One downcall runs {@code n} system calls, so
 * a JMH benchmark with {@code @OperationsPerInvocation(n)} reports the C cost per call in the same
 * JVM, fork and machine state as the Java paths around it.
 */
@SuppressWarnings("restricted")
public final class CHarness {
    private CHarness() {}

    private static final MethodHandle IOCTL_LOOP;
    private static final MethodHandle RUN_LOOP;
    private static final MethodHandle WRITE_LOOP;
    private static final MethodHandle MAP_UNMAP_LOOP;
    private static final MethodHandle HELLO;
    private static final MethodHandle OPEN_CLOSE_LOOP;
    private static final MethodHandle NOP;
    private static final MethodHandle NOP_CRITICAL;

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lib = SymbolLookup.libraryLookup(extract(), Arena.global());
        IOCTL_LOOP = linker.downcallHandle(lib.findOrThrow("pv_ioctl_loop"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        RUN_LOOP = linker.downcallHandle(lib.findOrThrow("pv_run_loop"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG));
        WRITE_LOOP = linker.downcallHandle(lib.findOrThrow("pv_write_loop"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        MAP_UNMAP_LOOP = linker.downcallHandle(lib.findOrThrow("pv_map_unmap_loop"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG));
        HELLO = linker.downcallHandle(lib.findOrThrow("pv_hello"), FunctionDescriptor.of(JAVA_INT));
        OPEN_CLOSE_LOOP = linker.downcallHandle(lib.findOrThrow("pv_open_close_loop"),
                FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG));
        // The shape of Libc.ioctl's handles: int(int, long, long) with errno capture; one of them critical.
        FunctionDescriptor nop = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG);
        NOP = linker.downcallHandle(lib.findOrThrow("pv_nop"), nop, Linker.Option.captureCallState("errno"));
        NOP_CRITICAL = linker.downcallHandle(lib.findOrThrow("pv_nop"), nop, Linker.Option.captureCallState("errno"),
                Linker.Option.critical(false));
    }

    /** The library as a file: the resource itself when built classes are on the class path, else a temp copy. */
    private static Path extract() {
        String resource = "/native/libpvbench.so";
        var url = CHarness.class.getResource(resource);
        if (url == null) {
            throw new IllegalStateException("C harness " + resource + " is missing: build bench with gcc on PATH "
                    + "(mvn -pl bench -am package)");
        }
        try {
            if ("file".equals(url.getProtocol())) {
                return Path.of(url.toURI());
            }
            Path tmp = Files.createTempFile("libpvbench", ".so");
            tmp.toFile().deleteOnExit();
            try (InputStream in = url.openStream()) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the C harness", e);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code ioctl(fd, request, arg)} n times in C; the sum of the results. */
    public static long ioctlLoop(int fd, long request, long arg, long n) {
        try {
            return check((long) IOCTL_LOOP.invokeExact(fd, request, arg, n), "ioctl loop");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} n times in C with a pointer argument. */
    public static long ioctlLoop(int fd, long request, MemorySegment arg, long n) {
        return ioctlLoop(fd, request, arg.address(), n);
    }

    /** {@code KVM_RUN} n times in C, checking that every exit has {@code expectedReason}. */
    public static long runLoop(int fd, long runRequest, MemorySegment exitReason, int expectedReason, long n) {
        try {
            return check((long) RUN_LOOP.invokeExact(fd, runRequest, exitReason, expectedReason, n), "KVM_RUN loop");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code write(fd, buf, len)} n times in C. */
    public static long writeLoop(int fd, MemorySegment buf, long len, long n) {
        try {
            return check((long) WRITE_LOOP.invokeExact(fd, buf, len, n), "write loop");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA} with {@code mapArg} then {@code VFIO_IOMMU_UNMAP_DMA} with {@code unmapArg}, n times
     * in C; the bytes unmapped in total.
     */
    public static long mapUnmapLoop(int fd, long mapRequest, MemorySegment mapArg, long unmapRequest,
                                    MemorySegment unmapArg, long n) {
        try {
            return check((long) MAP_UNMAP_LOOP.invokeExact(fd, mapRequest, mapArg, unmapRequest, unmapArg, n),
                    "MAP_DMA + UNMAP_DMA loop");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code open(path, flags)} then {@code close}, n times in C; n. */
    public static long openCloseLoop(MemorySegment path, int flags, long n) {
        try {
            return check((long) OPEN_CLOSE_LOOP.invokeExact(path, flags, n), "open + close loop");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code pv_nop}: a C function that returns 0 at once, through an ordinary downcall with errno capture. */
    public static int nop(MemorySegment capture, int fd, long request, long arg) {
        try {
            return (int) NOP.invokeExact(capture, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code pv_nop} through the same downcall made critical ({@code Linker.Option.critical(false)}). */
    public static int nopCritical(MemorySegment capture, int fd, long request, long arg) {
        try {
            return (int) NOP_CRITICAL.invokeExact(capture, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** 42 when the library loaded. */
    public static int hello() {
        try {
            return (int) HELLO.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static long check(long rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed: " + (rc <= -1000 ? "unexpected exit reason " + (-rc - 1000)
                    : "errno " + -rc));
        }
        return rc;
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
