package dev.panavirt.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Downcalls into the C library, each capturing {@code errno} into a segment the caller passes in.
 *
 * <p>Every method returns the call's result when it succeeded and {@code -errno} when it failed, so the
 * hot paths build no exception and allocate nothing. The capture segment must come from
 * {@link #newCapture(Arena)} and must not be shared between threads that call at the same time
 * (vCPU threads run at once); {@link Scratch} hands out one per thread.
 */
@SuppressWarnings("restricted")
public final class Libc {
    private Libc() {}

    // Flag values shared by the generic and x86-64 Linux ABIs.
    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
            MAP_NORESERVE = 0x4000;
    public static final int EFD_SEMAPHORE = 1, EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    public static final int MFD_CLOEXEC = 1;
    public static final short POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16;
    /** Used to kick a vCPU thread out of KVM_RUN: HotSpot installs a handler that ignores it. */
    public static final int SIGPIPE = 13;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final AddressLayout C_POINTER = ADDRESS;

    private static final MethodHandle OPEN$MH;
    private static final MethodHandle CLOSE$MH;
    private static final MethodHandle IOCTL_LONG$MH;
    private static final MethodHandle IOCTL_PTR$MH;
    private static final MethodHandle IOCTL_LONG_CRITICAL$MH;
    private static final MethodHandle MMAP$MH;
    private static final MethodHandle MUNMAP$MH;
    private static final MethodHandle MPROTECT$MH;
    private static final MethodHandle EVENTFD$MH;
    private static final MethodHandle READ$MH;
    private static final MethodHandle WRITE$MH;
    private static final MethodHandle PREAD$MH;
    private static final MethodHandle PWRITE$MH;
    private static final MethodHandle POLL$MH;
    private static final MethodHandle MEMFD_CREATE$MH;
    private static final MethodHandle FTRUNCATE$MH;
    private static final MethodHandle FDATASYNC$MH;
    private static final MethodHandle GETTID$MH;
    private static final MethodHandle GETPID$MH;
    private static final MethodHandle TGKILL$MH;

    static {
        if (!NativeAccess.enabled()) {
            System.getLogger(Libc.class.getName()).log(System.Logger.Level.WARNING, NativeAccess.hint());
        }
        try {
            OPEN$MH = errnoHandle("open", FunctionDescriptor.of(JAVA_INT, C_POINTER, JAVA_INT, JAVA_INT), 2);
            CLOSE$MH = errnoHandle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
            IOCTL_LONG$MH = errnoHandle("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
            IOCTL_PTR$MH = errnoHandle("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, C_POINTER), 2);
            IOCTL_LONG_CRITICAL$MH = LINKER.downcallHandle(find("ioctl"),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
                    Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2),
                    Linker.Option.critical(false));
            MMAP$MH = errnoHandle("mmap", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT,
                    JAVA_INT, JAVA_LONG), -1);
            MUNMAP$MH = errnoHandle("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), -1);
            MPROTECT$MH = errnoHandle("mprotect", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), -1);
            EVENTFD$MH = errnoHandle("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);
            READ$MH = errnoHandle("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, C_POINTER, JAVA_LONG), -1);
            WRITE$MH = errnoHandle("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, C_POINTER, JAVA_LONG), -1);
            PREAD$MH = errnoHandle("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, C_POINTER, JAVA_LONG, JAVA_LONG),
                    -1);
            PWRITE$MH = errnoHandle("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, C_POINTER, JAVA_LONG,
                    JAVA_LONG), -1);
            POLL$MH = errnoHandle("poll", FunctionDescriptor.of(JAVA_INT, C_POINTER, JAVA_LONG, JAVA_INT), -1);
            MEMFD_CREATE$MH = errnoHandle("memfd_create", FunctionDescriptor.of(JAVA_INT, C_POINTER, JAVA_INT), -1);
            FTRUNCATE$MH = errnoHandle("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), -1);
            FDATASYNC$MH = errnoHandle("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
            GETTID$MH = LINKER.downcallHandle(find("gettid"), FunctionDescriptor.of(JAVA_INT));
            GETPID$MH = LINKER.downcallHandle(find("getpid"), FunctionDescriptor.of(JAVA_INT));
            TGKILL$MH = errnoHandle("tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), -1);
        } catch (IllegalCallerException e) {
            throw new IllegalCallerException(NativeAccess.hint(), e);
        }
    }

    private static MemorySegment find(String name) {
        return LINKER.defaultLookup().find(name)
                .or(() -> SymbolLookup.loaderLookup().find(name))
                .orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: " + name));
    }

    private static MethodHandle errnoHandle(String name, FunctionDescriptor fd, int firstVariadic) {
        Linker.Option capture = Linker.Option.captureCallState("errno");
        return firstVariadic < 0
                ? LINKER.downcallHandle(find(name), fd, capture)
                : LINKER.downcallHandle(find(name), fd, capture, Linker.Option.firstVariadicArg(firstVariadic));
    }

    /** A fresh errno capture segment owned by {@code arena}. */
    public static MemorySegment newCapture(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /** The errno stored in a capture segment by the last call that used it. */
    public static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    private static int intResult(int rc, MemorySegment capture) {
        return rc == -1 ? -errno(capture) : rc;
    }

    private static long longResult(long rc, MemorySegment capture) {
        return rc == -1 ? -errno(capture) : rc;
    }

    private static AssertionError unexpected(Throwable t) {
        return new AssertionError("downcall failed unexpectedly", t);
    }

    /** {@code open(path, flags, mode)}; {@code path} is a NUL-terminated string. */
    public static int open(MemorySegment capture, MemorySegment path, int flags, int mode) {
        try {
            return intResult((int) OPEN$MH.invokeExact(capture, path, flags, mode), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code mprotect(addr, length, prot)}; {@code addr} must be page-aligned. */
    public static int mprotect(MemorySegment capture, long addr, long length, int prot) {
        try {
            return intResult((int) MPROTECT$MH.invokeExact(capture, addr, length, prot), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code close(fd)}. */
    public static int close(MemorySegment capture, int fd) {
        try {
            return intResult((int) CLOSE$MH.invokeExact(capture, fd), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument (or none: pass 0). */
    public static int ioctl(MemorySegment capture, int fd, long request, long arg) {
        try {
            return intResult((int) IOCTL_LONG$MH.invokeExact(capture, fd, request, arg), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code ioctl(fd, request, arg)} with an integer argument, as a <em>critical</em> downcall
     * ({@code Linker.Option.critical(false)}): the calling thread stays in the Java state for the call, which
     * saves the two thread-state transitions of an ordinary downcall, but a garbage collection or any other
     * safepoint waits until the call returns. Only for requests whose kernel handler returns at once and never
     * sleeps; {@link Ioctl#rawCritical} lists the ones panavirt issues this way.
     */
    public static int ioctlCritical(MemorySegment capture, int fd, long request, long arg) {
        try {
            return intResult((int) IOCTL_LONG_CRITICAL$MH.invokeExact(capture, fd, request, arg), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument. */
    public static int ioctl(MemorySegment capture, int fd, long request, MemorySegment arg) {
        try {
            return intResult((int) IOCTL_PTR$MH.invokeExact(capture, fd, request, arg), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code mmap(addr, length, prot, flags, fd, offset)}: the address, or {@code -errno}. */
    public static long mmap(MemorySegment capture, long addr, long length, int prot, int flags, int fd, long offset) {
        try {
            return longResult((long) MMAP$MH.invokeExact(capture, addr, length, prot, flags, fd, offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code munmap(addr, length)}. */
    public static int munmap(MemorySegment capture, long addr, long length) {
        try {
            return intResult((int) MUNMAP$MH.invokeExact(capture, addr, length), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code eventfd(initval, flags)}. */
    public static int eventfd(MemorySegment capture, int initval, int flags) {
        try {
            return intResult((int) EVENTFD$MH.invokeExact(capture, initval, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code read(fd, buf, count)}: bytes read, or {@code -errno}. */
    public static long read(MemorySegment capture, int fd, MemorySegment buf, long count) {
        try {
            return longResult((long) READ$MH.invokeExact(capture, fd, buf, count), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code write(fd, buf, count)}: bytes written, or {@code -errno}. */
    public static long write(MemorySegment capture, int fd, MemorySegment buf, long count) {
        try {
            return longResult((long) WRITE$MH.invokeExact(capture, fd, buf, count), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code pread(fd, buf, count, offset)}: bytes read at file offset {@code offset} (the file position is
     * left alone), or {@code -errno}.
     */
    public static long pread(MemorySegment capture, int fd, MemorySegment buf, long count, long offset) {
        try {
            return longResult((long) PREAD$MH.invokeExact(capture, fd, buf, count, offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code pwrite(fd, buf, count, offset)}: bytes written at file offset {@code offset}, or {@code -errno}. */
    public static long pwrite(MemorySegment capture, int fd, MemorySegment buf, long count, long offset) {
        try {
            return longResult((long) PWRITE$MH.invokeExact(capture, fd, buf, count, offset), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code poll(fds, nfds, timeoutMillis)} over an array of {@code struct pollfd} (8 bytes each). */
    public static int poll(MemorySegment capture, MemorySegment fds, long nfds, int timeoutMillis) {
        try {
            return intResult((int) POLL$MH.invokeExact(capture, fds, nfds, timeoutMillis), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code memfd_create(name, flags)}. */
    public static int memfdCreate(MemorySegment capture, MemorySegment name, int flags) {
        try {
            return intResult((int) MEMFD_CREATE$MH.invokeExact(capture, name, flags), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code ftruncate(fd, length)}. */
    public static int ftruncate(MemorySegment capture, int fd, long length) {
        try {
            return intResult((int) FTRUNCATE$MH.invokeExact(capture, fd, length), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code fdatasync(fd)}: the file's written data (and the metadata needed to read it) reach the disk. */
    public static int fdatasync(MemorySegment capture, int fd) {
        try {
            return intResult((int) FDATASYNC$MH.invokeExact(capture, fd), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The kernel thread id of the calling thread. */
    public static int gettid() {
        try {
            return (int) GETTID$MH.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The process id. */
    public static int getpid() {
        try {
            return (int) GETPID$MH.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code tgkill(tgid, tid, sig)}: sends a signal to one thread. */
    public static int tgkill(MemorySegment capture, int tgid, int tid, int sig) {
        try {
            return intResult((int) TGKILL$MH.invokeExact(capture, tgid, tid, sig), capture);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }
}
