package dev.panavirt.bench.support;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Plain FFM downcalls to glibc <b>without</b> errno capture: the same handles panavirt's
 * {@code dev.panavirt.sys.Libc} builds, minus {@code Linker.Option.captureCallState("errno")}. The
 * difference between this path and the "FFM + errno" path is what capturing errno costs. A failure
 * is still seen (the result is -1) but its errno is lost.
 */
@SuppressWarnings("restricted")
public final class RawFfm {
    private RawFfm() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle IOCTL_LONG = LINKER.downcallHandle(find("ioctl"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_PTR = LINKER.downcallHandle(find("ioctl"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle WRITE = LINKER.downcallHandle(find("write"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle OPEN = LINKER.downcallHandle(find("open"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(find("close"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private static MemorySegment find(String name) {
        return LINKER.defaultLookup().findOrThrow(name);
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument; -1 on failure. */
    public static int ioctl(int fd, long request, long arg) {
        try {
            return (int) IOCTL_LONG.invokeExact(fd, request, arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument; -1 on failure. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            return (int) IOCTL_PTR.invokeExact(fd, request, arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code write(fd, buf, count)}; -1 on failure. */
    public static long write(int fd, MemorySegment buf, long count) {
        try {
            return (long) WRITE.invokeExact(fd, buf, count);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code open(path, flags, 0)}; -1 on failure. */
    public static int open(MemorySegment path, int flags) {
        try {
            return (int) OPEN.invokeExact(path, flags, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code close(fd)}; -1 on failure. */
    public static int close(int fd) {
        try {
            return (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
