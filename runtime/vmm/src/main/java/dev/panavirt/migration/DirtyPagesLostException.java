package dev.panavirt.migration;

/**
 * A dirty source can no longer vouch for its reports: pages may have been written without being reported,
 * so a migration that went on would lose them. The migration stops; the source VM runs on untouched.
 */
public final class DirtyPagesLostException extends RuntimeException {
    /** Thrown by {@code source} for {@code reason}. */
    public DirtyPagesLostException(String source, String reason) {
        super(source + ": dirty pages may have been lost: " + reason);
    }
}
