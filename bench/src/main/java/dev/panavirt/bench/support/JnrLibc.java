package dev.panavirt.bench.support;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * jnr-ffi through a {@code LibC} interface loaded with {@code LibraryLoader} (how jnr-posix itself
 * reaches libc). jnr-ffi saves errno after every call by default; read it with {@link #errno()}.
 */
public interface JnrLibc {
    /** The loaded C library. */
    JnrLibc C = LibraryLoader.create(JnrLibc.class).load("c");
    /** jnr-ffi's runtime, for {@code Memory.allocateDirect} and {@code Pointer.wrap}. */
    Runtime RUNTIME = Runtime.getRuntime(C);

    /** {@code ioctl(fd, request, arg)} with an integer argument. */
    int ioctl(int fd, long request, long arg);

    /** {@code ioctl(fd, request, arg)} with a pointer argument. */
    int ioctl(int fd, long request, Pointer arg);

    /** {@code write(fd, buf, count)}. */
    @ssize_t long write(int fd, Pointer buf, @size_t long count);

    /** {@code open(path, flags, mode)}. */
    int open(Pointer path, int flags, int mode);

    /** {@code close(fd)}. */
    int close(int fd);

    /** The errno jnr-ffi saved after the last call on this thread. */
    static int errno() {
        return RUNTIME.getLastError();
    }
}
