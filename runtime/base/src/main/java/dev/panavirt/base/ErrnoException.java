package dev.panavirt.base;

import java.io.IOException;

/**
 * A system call or ioctl that failed: names the operation (for example {@code KVM_CREATE_VCPU}),
 * the errno name and number, the request number for ioctls, and what the caller asked for.
 *
 * <p>Software device models throw the same exception with the errno the kernel device would return,
 * so callers branch on {@link #errno()} the same way for both.
 */
public class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;

    /** No ioctl request number (a plain syscall or a model operation). */
    public static final long NO_REQUEST = -1;

    private final String operation;
    private final int errno;
    private final long request;
    private final String detail;

    /**
     * @param operation the ioctl or syscall name, e.g. {@code "KVM_SET_USER_MEMORY_REGION"}
     * @param errno     the positive errno value
     * @param request   the ioctl request number, or {@link #NO_REQUEST}
     * @param detail    what was asked (arguments in words), or {@code null}
     */
    public ErrnoException(String operation, int errno, long request, String detail) {
        super(message(operation, errno, request, detail));
        this.operation = operation;
        this.errno = errno;
        this.request = request;
        this.detail = detail;
    }

    /** A failure of a plain system call (no ioctl request number). */
    public ErrnoException(String operation, int errno, String detail) {
        this(operation, errno, NO_REQUEST, detail);
    }

    private static String message(String operation, int errno, long request, String detail) {
        StringBuilder sb = new StringBuilder(operation).append(" failed: ")
                .append(Errno.name(errno)).append(" (errno ").append(errno).append(')');
        if (request != NO_REQUEST) {
            sb.append(", request 0x").append(Long.toHexString(request));
        }
        if (detail != null && !detail.isEmpty()) {
            sb.append(", ").append(detail);
        }
        return sb.toString();
    }

    /** The operation that failed, e.g. {@code KVM_CREATE_VCPU} or {@code open}. */
    public String operation() {
        return operation;
    }

    /** The positive errno value. */
    public int errno() {
        return errno;
    }

    /** The symbolic errno name, e.g. {@code EINVAL}. */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** The ioctl request number, or {@link #NO_REQUEST}. */
    public long request() {
        return request;
    }

    /** What the caller asked for, in words, or {@code null}. */
    public String detail() {
        return detail;
    }
}
