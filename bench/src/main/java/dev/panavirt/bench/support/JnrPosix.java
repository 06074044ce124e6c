package dev.panavirt.bench.support;

import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/**
 * jnr-posix as its users reach it: the native {@code POSIX} from {@code POSIXFactory.getNativePOSIX()}, and
 * its {@code LibC} for what {@code POSIX} lacks. jnr-posix has no {@code ioctl} (neither on {@code POSIX} nor on
 * {@code LibC}), so an ioctl goes through {@code LibC.syscall(SYS_ioctl, fd, request, arg)}, whose arguments are
 * {@code int}s: enough for a request number (the kernel takes it as {@code unsigned int}) and a small integer
 * argument, not for a pointer.
 * Errno is saved after every call ({@code POSIX.errno()}).
 */
public final class JnrPosix {
    private JnrPosix() {}

    /** The native POSIX implementation (for Linux, jnr-posix's {@code LinuxPOSIX}). */
    public static final POSIX POSIX = POSIXFactory.getNativePOSIX();
    /** x86-64's system call number of {@code ioctl} (arch/x86/entry/syscalls/syscall_64.tbl). */
    public static final int SYS_IOCTL = 16;

    /** {@code syscall(SYS_ioctl, fd, request, arg)}: the result, or -1 with errno saved. */
    public static int ioctl(int fd, long request, long arg) {
        return POSIX.libc().syscall(SYS_IOCTL, fd, (int) request, (int) arg);
    }

    /** The errno jnr-posix saved after the last call on this thread. */
    public static int errno() {
        return POSIX.errno();
    }
}
