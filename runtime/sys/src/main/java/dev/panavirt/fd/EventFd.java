package dev.panavirt.fd;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An eventfd(2): a kernel counter that irqfd and ioeventfd use to signal without a VM exit.
 * Reads and writes use per-thread scratch memory, so they allocate nothing.
 */
public final class EventFd implements AutoCloseable {
    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** A new eventfd with initial value 0 and {@code flags} ({@link Libc#EFD_NONBLOCK}, {@link Libc#EFD_SEMAPHORE}). */
    public static EventFd create(int flags) throws ErrnoException {
        int rc = Libc.eventfd(Scratch.capture(), 0, flags | Libc.EFD_CLOEXEC);
        if (rc < 0) {
            throw new ErrnoException("eventfd", -rc, "flags 0x" + Integer.toHexString(flags));
        }
        return new EventFd(Fd.adopt(rc, "eventfd"));
    }

    /**
     * The descriptor number, as irqfd, ioeventfd and vring kick/call registrations take it; valid until
     * {@link #close}.
     *
     * @throws IllegalStateException after {@link #close}
     */
    public int rawFd() {
        return fd.raw();
    }

    /** Adds {@code value} to the counter (wakes waiters). */
    public void signal(long value) throws ErrnoException {
        Scratch s = Scratch.current();
        MemorySegment buf = s.buffer();
        buf.set(ValueLayout.JAVA_LONG, 0, value);
        long rc = Libc.write(s.captureSegment(), fd.raw(), buf, 8);
        if (rc < 0) {
            throw new ErrnoException("write(eventfd)", (int) -rc, "value " + value);
        }
    }

    /**
     * Reads and resets the counter; blocks while it is zero unless the eventfd is non-blocking, in which
     * case 0 means "not signalled".
     */
    public long read() throws ErrnoException {
        Scratch s = Scratch.current();
        MemorySegment buf = s.buffer();
        long rc = Libc.read(s.captureSegment(), fd.raw(), buf, 8);
        if (rc == -Errno.EAGAIN) {
            return 0;
        }
        if (rc < 0) {
            throw new ErrnoException("read(eventfd)", (int) -rc, null);
        }
        return buf.get(ValueLayout.JAVA_LONG, 0);
    }

    /**
     * Waits up to {@code timeoutMillis} for the counter to become non-zero, then reads it.
     *
     * @return the counter value, or 0 when the time ran out
     */
    public long await(int timeoutMillis) throws ErrnoException {
        Scratch s = Scratch.current();
        MemorySegment pfd = s.buffer();
        pfd.set(ValueLayout.JAVA_INT, 0, fd.raw());
        pfd.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
        pfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        int rc;
        do {
            rc = Libc.poll(s.captureSegment(), pfd, 1, timeoutMillis);
        } while (rc == -Errno.EINTR);
        if (rc < 0) {
            throw new ErrnoException("poll(eventfd)", -rc, "timeout " + timeoutMillis + " ms");
        }
        return rc == 0 ? 0 : read();
    }

    @Override
    public void close() {
        fd.close();
    }
}
