package dev.panavirt.sys;

import dev.panavirt.base.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An owned file descriptor. {@link #close()} is idempotent; after it, {@link #raw()} throws
 * {@link IllegalStateException}, so a stale number never reaches the kernel.
 */
public final class Fd implements AutoCloseable {
    private static final int CLOSED = -1;
    private static final VarHandle FD;

    static {
        try {
            FD = MethodHandles.lookup().findVarHandle(Fd.class, "fd", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through FD
    private volatile int fd;
    private final String description;

    private Fd(int fd, String description) {
        this.fd = fd;
        this.description = description;
    }

    /**
     * Opens {@code path} with {@code flags} ({@link Libc#O_RDWR} and so on); {@link Libc#O_CLOEXEC} is
     * always added.
     *
     * @throws ErrnoException naming {@code open}, the errno and the path
     */
    public static Fd open(String path, int flags) throws ErrnoException {
        MemorySegment capture = Scratch.capture();
        int rc;
        try (Arena arena = Arena.ofConfined()) {
            rc = Libc.open(capture, arena.allocateFrom(path), flags | Libc.O_CLOEXEC, 0);
        }
        if (rc < 0) {
            throw new ErrnoException("open", -rc, path + flagsText(flags));
        }
        return new Fd(rc, path);
    }

    private static String flagsText(int flags) {
        return switch (flags & 3) {
            case Libc.O_RDONLY -> " (read-only)";
            case Libc.O_WRONLY -> " (write-only)";
            default -> " (read-write)";
        };
    }

    /**
     * Takes ownership of a descriptor the kernel returned (for example from {@code KVM_CREATE_VM}).
     *
     * @param description what the descriptor is, used in error messages (e.g. {@code "kvm-vcpu:0"})
     */
    public static Fd adopt(int fd, String description) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        return new Fd(fd, description);
    }

    /** The descriptor number. @throws IllegalStateException when closed */
    public int raw() {
        int v = (int) FD.getVolatile(this);
        if (v < 0) {
            throw new IllegalStateException(description + " is closed");
        }
        return v;
    }

    /** Whether {@link #close()} has not been called yet. */
    public boolean isOpen() {
        return (int) FD.getVolatile(this) >= 0;
    }

    /** What this descriptor is (a path or a kernel object name). */
    public String description() {
        return description;
    }

    /** Closes the descriptor once; later calls do nothing. Errors from close(2) are ignored (the fd is gone). */
    @Override
    public void close() {
        int v = (int) FD.getAndSet(this, CLOSED);
        if (v >= 0) {
            Libc.close(Scratch.capture(), v);
        }
    }

    @Override
    public String toString() {
        int v = (int) FD.getVolatile(this);
        return v < 0 ? description + " (closed)" : description + " (fd " + v + ")";
    }
}
