package dev.panavirt.headers.model;

/**
 * The C scalar kinds the bindings expose, each with the header-class layout constant that
 * describes it and the Java carrier of its accessors. All targets are LP64.
 */
public enum Scalar {
    CHAR(1, "C_CHAR", "byte", "OfByte"),
    SHORT(2, "C_SHORT", "short", "OfShort"),
    INT(4, "C_INT", "int", "OfInt"),
    LONG(8, "C_LONG", "long", "OfLong"),
    LONG_LONG(8, "C_LONG_LONG", "long", "OfLong"),
    FLOAT(4, "C_FLOAT", "float", "OfFloat"),
    DOUBLE(8, "C_DOUBLE", "double", "OfDouble"),
    BOOL(1, "C_BOOL", "boolean", "OfBoolean"),
    POINTER(8, "C_POINTER", "MemorySegment", "AddressLayout");

    /** Size and natural alignment in bytes. */
    public final long size;
    /** Name of the constant in the header class, e.g. {@code C_INT}. */
    public final String constant;
    /** Java type of getters and setters. */
    public final String carrier;
    /** Simple name of the {@code ValueLayout} subtype. */
    public final String layoutType;

    Scalar(long size, String constant, String carrier, String layoutType) {
        this.size = size;
        this.constant = constant;
        this.carrier = carrier;
        this.layoutType = layoutType;
    }

    /** The integer scalar of the given byte width (1, 2, 4, 8). */
    public static Scalar integerOfSize(long bytes) {
        return switch ((int) bytes) {
            case 1 -> CHAR;
            case 2 -> SHORT;
            case 4 -> INT;
            case 8 -> LONG_LONG;
            default -> throw new IllegalArgumentException("no integer scalar of " + bytes + " bytes");
        };
    }
}
