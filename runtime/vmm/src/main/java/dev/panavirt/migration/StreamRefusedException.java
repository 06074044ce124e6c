package dev.panavirt.migration;

import java.io.IOException;

/** A migration stream the destination will not take: bad magic or version, a record out of bounds, truncation. */
public final class StreamRefusedException extends IOException {
    private final long offset;

    /** Refused at byte {@code offset} of the stream, for {@code reason}. */
    public StreamRefusedException(long offset, String reason) {
        super("migration stream refused at byte " + offset + ": " + reason);
        this.offset = offset;
    }

    /** The byte offset of the record that was refused. */
    public long offset() {
        return offset;
    }
}
