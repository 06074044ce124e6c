package dev.panavirt.base;

/**
 * An operation the running kernel (or the device behind it) does not implement: an ioctl the kernel does not
 * know ({@link Errno#ENOTTY}, the ioctl core's translation of the drivers' internal {@code ENOIOCTLCMD}), or
 * an optional operation the device lacks ({@link Errno#EOPNOTSUPP}, where the driver answers so for a missing
 * callback rather than for a bad argument).
 *
 * <p>A subclass, so a caller that can do without the operation catches just this; everything else an
 * {@link ErrnoException} says (operation, errno, request, what was asked) is there too, and the message says
 * "not supported by this kernel". Which errnos of which operation mean "not supported" is the throwing class's
 * call, stated in its javadoc: EOPNOTSUPP is also some ioctls' answer to an argument they refuse.
 */
public class NotSupportedException extends ErrnoException {
    private static final long serialVersionUID = 1L;

    /** The words every message of this exception carries. */
    public static final String NOT_SUPPORTED = "not supported by this kernel";

    /**
     * @param operation the ioctl or syscall name
     * @param errno     the positive errno value (ENOTTY, EOPNOTSUPP, ...)
     * @param request   the ioctl request number, or {@link #NO_REQUEST}
     * @param detail    what was asked and of what, or {@code null}; follows "not supported by this kernel"
     */
    public NotSupportedException(String operation, int errno, long request, String detail) {
        super(operation, errno, request, detail == null || detail.isEmpty() ? NOT_SUPPORTED : NOT_SUPPORTED + ", " + detail);
    }
}
