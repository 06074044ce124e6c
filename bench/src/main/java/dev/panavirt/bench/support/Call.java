package dev.panavirt.bench.support;

import dev.panavirt.sys.Libc;

/**
 * The calls of the paths other than panavirt's own API, on a {@link Fixture}: one method per path and
 * kind of call (an ioctl with an integer argument, an ioctl with the fixture's buffer, a write of the
 * buffer), each checking the result as a real caller would and throwing on failure. None allocates.
 * The C methods run {@code n} calls in {@code libpvbench.so} ({@link CHarness}); the JNA ones need no check
 * of their own, as JNA throws {@code LastErrorException} on failure.
 */
public final class Call {
    private Call() {}

    /** C: {@code ioctl(fd, request, arg)} n times; the sum of the results. */
    public static long c(Fixture f, long request, long arg, int n) {
        return CHarness.ioctlLoop(f.fd, request, arg, n);
    }

    /** C: {@code ioctl(fd, request, buffer)} n times; the sum of the results. */
    public static long c(Fixture f, long request, int n) {
        return CHarness.ioctlLoop(f.fd, request, f.segment, n);
    }

    /** C: {@code write(fd, buffer, size)} n times; the bytes written. */
    public static long cWrite(Fixture f, int n) {
        return CHarness.writeLoop(f.fd, f.segment, f.segment.byteSize(), n);
    }

    /** FFM + errno ({@code Libc}): {@code ioctl(fd, request, arg)}. */
    public static int ffmErrno(Fixture f, long request, long arg) {
        return check(Libc.ioctl(f.capture, f.fd, request, arg), f);
    }

    /** FFM + errno, critical ({@code Libc.ioctlCritical}): {@code ioctl(fd, request, arg)}. */
    public static int ffmCritical(Fixture f, long request, long arg) {
        return check(Libc.ioctlCritical(f.capture, f.fd, request, arg), f);
    }

    /** FFM + errno ({@code Libc}): {@code ioctl(fd, request, buffer)}. */
    public static int ffmErrno(Fixture f, long request) {
        return check(Libc.ioctl(f.capture, f.fd, request, f.segment), f);
    }

    /** FFM + errno ({@code Libc}): {@code write(fd, buffer, size)}. */
    public static long ffmErrnoWrite(Fixture f) {
        return check(Libc.write(f.capture, f.fd, f.segment, f.segment.byteSize()), f);
    }

    /** FFM raw: {@code ioctl(fd, request, arg)}. */
    public static int ffm(Fixture f, long request, long arg) {
        return check(RawFfm.ioctl(f.fd, request, arg), f);
    }

    /** FFM raw: {@code ioctl(fd, request, buffer)}. */
    public static int ffm(Fixture f, long request) {
        return check(RawFfm.ioctl(f.fd, request, f.segment), f);
    }

    /** FFM raw: {@code write(fd, buffer, size)}. */
    public static long ffmWrite(Fixture f) {
        return check(RawFfm.write(f.fd, f.segment, f.segment.byteSize()), f);
    }

    /** JNA direct: {@code ioctl(fd, request, arg)}. */
    public static int jna(Fixture f, long request, long arg) {
        return JnaLibc.ioctl(f.fd, request, arg);
    }

    /** JNA direct: {@code ioctl(fd, request, buffer)}. */
    public static int jna(Fixture f, long request) {
        return JnaLibc.ioctl(f.fd, request, f.jnaBuffer);
    }

    /** JNA direct: {@code write(fd, buffer, size)}; the buffer is as large as the FFM one. */
    public static long jnaWrite(Fixture f) {
        return JnaLibc.write(f.fd, f.jnaBuffer, f.segment.byteSize());
    }

    /** jnr-ffi: {@code ioctl(fd, request, arg)}. */
    public static int jnr(Fixture f, long request, long arg) {
        return checkJnr(JnrLibc.C.ioctl(f.fd, request, arg), f);
    }

    /** jnr-ffi: {@code ioctl(fd, request, buffer)}. */
    public static int jnr(Fixture f, long request) {
        return checkJnr(JnrLibc.C.ioctl(f.fd, request, f.jnrBuffer), f);
    }

    /** jnr-ffi: {@code write(fd, buffer, size)}; the buffer is as large as the FFM one. */
    public static long jnrWrite(Fixture f) {
        return checkJnr(JnrLibc.C.write(f.fd, f.jnrBuffer, f.segment.byteSize()), f);
    }

    /** jnr-posix: {@code syscall(SYS_ioctl, fd, request, arg)}, its only way to an ioctl. */
    public static int jnrPosix(Fixture f, long request, long arg) {
        int rc = JnrPosix.ioctl(f.fd, request, arg);
        if (rc < 0) {
            throw new IllegalStateException(f.what + " failed: errno " + JnrPosix.errno());
        }
        return rc;
    }

    /** jnr-posix: {@code POSIX.write(fd, buffer, size)} of its direct {@code ByteBuffer}, as large as the FFM one. */
    public static long jnrPosixWrite(Fixture f) {
        long rc = JnrPosix.POSIX.write(f.fd, f.posixBuffer, f.segment.byteSize());
        if (rc < 0) {
            throw new IllegalStateException(f.what + " failed: errno " + JnrPosix.errno());
        }
        return rc;
    }

    /** C: {@code open} of the buffer's NUL-terminated path with {@code flags}, then {@code close}, n times. */
    public static long cOpenClose(Fixture f, int flags, int n) {
        return CHarness.openCloseLoop(f.segment, flags, n);
    }

    /** FFM + errno ({@code Libc}): {@code open} of the buffer's path, then {@code close}; the descriptor. */
    public static int ffmErrnoOpenClose(Fixture f, int flags) {
        int fd = check(Libc.open(f.capture, f.segment, flags, 0), f);
        check(Libc.close(f.capture, fd), f);
        return fd;
    }

    /** FFM raw: {@code open} then {@code close}; the descriptor. */
    public static int ffmOpenClose(Fixture f, int flags) {
        int fd = check(RawFfm.open(f.segment, flags), f);
        check(RawFfm.close(fd), f);
        return fd;
    }

    /** JNA direct: {@code open} of the path in its {@code Memory}, then {@code close}; the descriptor. */
    public static int jnaOpenClose(Fixture f, int flags) {
        int fd = JnaLibc.open(f.jnaBuffer, flags);
        JnaLibc.close(fd);
        return fd;
    }

    /** jnr-ffi: {@code open} of the path in its direct memory, then {@code close}; the descriptor. */
    public static int jnrOpenClose(Fixture f, int flags) {
        int fd = checkJnr(JnrLibc.C.open(f.jnrBuffer, flags, 0), f);
        checkJnr(JnrLibc.C.close(fd), f);
        return fd;
    }

    /**
     * jnr-posix: {@code POSIX.open(path, flags, 0)} then {@code POSIX.close}; the descriptor. Its {@code open}
     * takes the path as a {@code CharSequence}, so it is given the Java string, as its users do.
     */
    public static int jnrPosixOpenClose(Fixture f, String path, int flags) {
        int fd = JnrPosix.POSIX.open(path, flags, 0);
        if (fd < 0 || JnrPosix.POSIX.close(fd) < 0) {
            throw new IllegalStateException(f.what + " failed: errno " + JnrPosix.errno());
        }
        return fd;
    }

    /** Throws when a KVM exit was not the expected one; returns it. */
    public static int expectExit(int reason, int expected) {
        if (reason != expected) {
            throw new IllegalStateException("unexpected KVM exit reason " + reason + ", wanted " + expected);
        }
        return reason;
    }

    /** Throws when a call that returns -1 or -errno failed. */
    private static long check(long rc, Fixture f) {
        if (rc < 0) {
            throw new IllegalStateException(f.what + " failed: " + (rc == -1 ? "-1 (errno not captured)" : "errno " + -rc));
        }
        return rc;
    }

    private static int check(int rc, Fixture f) {
        return (int) check((long) rc, f);
    }

    /** Throws when jnr-ffi reported a failure, with the errno it saved. */
    private static long checkJnr(long rc, Fixture f) {
        if (rc < 0) {
            throw new IllegalStateException(f.what + " failed: errno " + JnrLibc.errno());
        }
        return rc;
    }

    private static int checkJnr(int rc, Fixture f) {
        return (int) checkJnr((long) rc, f);
    }
}
