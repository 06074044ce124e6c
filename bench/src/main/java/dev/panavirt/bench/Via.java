package dev.panavirt.bench;

import java.util.Arrays;
import java.util.Optional;

/**
 * The ways each operation is called. A per-call benchmark class has one {@code @Benchmark} method per
 * path, named {@link #method()}; the report puts them in this order and divides each by {@link #C}.
 */
public enum Via {
    /** The C baseline: a gcc-compiled loop of the same system call, n calls per downcall. */
    C("c", "C (gcc -O2)"),
    /** panavirt's public wrappers with errno capture and exceptions, as users get them. */
    PANAVIRT("panavirt", "panavirt"),
    /** panavirt's syscall layer: an FFM downcall with errno capture, returning -errno; no wrapper. */
    FFM_ERRNO("ffmErrno", "FFM + errno"),
    /**
     * The same downcall as {@link #FFM_ERRNO} made critical ({@code Linker.Option.critical(false)}): no
     * thread-state transitions. Only for calls that never sleep, so only some operations have it.
     */
    FFM_CRITICAL("ffmCritical", "FFM + errno, critical"),
    /** A plain FFM downcall without errno capture. */
    FFM("ffm", "FFM raw"),
    /** JNA direct mapping with {@code LastErrorException}. */
    JNA("jna", "JNA direct"),
    /** jnr-ffi {@code LibC} interface (errno saved). */
    JNR("jnr", "jnr-ffi"),
    /**
     * jnr-posix's {@code POSIX} and {@code LibC} API as its users call it: {@code write} of a direct
     * {@code ByteBuffer}, and ioctls through {@code LibC.syscall} (jnr-posix has no {@code ioctl}), so only the
     * operations that API can express have it.
     */
    JNR_POSIX("jnrPosix", "jnr-posix");

    private final String method;
    private final String label;

    Via(String method, String label) {
        this.method = method;
        this.label = label;
    }

    /** The benchmark method name. */
    public String method() {
        return method;
    }

    /** The column header. */
    public String label() {
        return label;
    }

    /** The path whose benchmark method is {@code method}. */
    public static Optional<Via> ofMethod(String method) {
        return Arrays.stream(values()).filter(p -> p.method.equals(method)).findFirst();
    }
}
