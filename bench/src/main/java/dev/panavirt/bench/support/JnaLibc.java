package dev.panavirt.bench.support;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * JNA through <b>direct mapping</b> ({@code Native.register}): JNA's fastest way to call C, faster than a
 * {@code Library} interface proxy. Declaring {@code throws LastErrorException} makes JNA capture errno
 * and throw on failure, the JNA counterpart of panavirt's errno capture. Buffers are JNA
 * {@code Memory} blocks allocated once (not {@code Structure}s, which would add reflection-driven
 * copying on every call), so this is JNA at its best.
 */
public final class JnaLibc {
    private JnaLibc() {}

    static {
        Native.register(JnaLibc.class, Platform.C_LIBRARY_NAME);
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument. */
    public static native int ioctl(int fd, long request, long arg) throws LastErrorException;

    /** {@code ioctl(fd, request, arg)} with a pointer argument. */
    public static native int ioctl(int fd, long request, Pointer arg) throws LastErrorException;

    /** {@code write(fd, buf, count)}. */
    public static native long write(int fd, Pointer buf, long count) throws LastErrorException;

    /** {@code open(path, flags)} (no {@code O_CREAT}, so no mode). */
    public static native int open(Pointer path, int flags) throws LastErrorException;

    /** {@code close(fd)}. */
    public static native int close(int fd) throws LastErrorException;
}
