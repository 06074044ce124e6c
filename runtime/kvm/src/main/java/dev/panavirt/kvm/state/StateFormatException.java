package dev.panavirt.kvm.state;

/**
 * Bytes that are not a state record this version of panavirt can read: a wrong magic, an unknown version, a
 * section that is unknown, repeated, missing, of the wrong length or longer than the input, or trailing bytes.
 * Decoding checks every length before it reads, so hostile input ends here and never in an out-of-bounds read.
 */
public final class StateFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** A refusal that says what was wrong and where. */
    public StateFormatException(String message) {
        super(message);
    }
}
