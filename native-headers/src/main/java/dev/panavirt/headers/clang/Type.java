package dev.panavirt.headers.clang;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;

/** A {@code CXType} (held by value in a GC-managed segment). */
public final class Type {
    public static final int INVALID = 0;
    public static final int VOID = 2;
    public static final int BOOL = 3;
    public static final int CHAR_U = 4;
    public static final int UCHAR = 5;
    public static final int USHORT = 8;
    public static final int UINT = 9;
    public static final int ULONG = 10;
    public static final int ULONGLONG = 11;
    public static final int UINT128 = 12;
    public static final int CHAR_S = 13;
    public static final int SCHAR = 14;
    public static final int SHORT = 16;
    public static final int INT = 17;
    public static final int LONG = 18;
    public static final int LONGLONG = 19;
    public static final int INT128 = 20;
    public static final int FLOAT = 21;
    public static final int DOUBLE = 22;
    public static final int LONGDOUBLE = 23;
    public static final int POINTER = 101;
    public static final int RECORD = 105;
    public static final int ENUM = 106;
    public static final int TYPEDEF = 107;
    public static final int FUNCTION_NO_PROTO = 110;
    public static final int FUNCTION_PROTO = 111;
    public static final int CONSTANT_ARRAY = 112;
    public static final int INCOMPLETE_ARRAY = 114;
    public static final int ELABORATED = 119;

    private final LibClang clang;
    private final MemorySegment segment;

    Type(LibClang clang, MemorySegment segment) {
        this.clang = clang;
        this.segment = segment;
    }

    private SegmentAllocator auto() {
        return clang.auto;
    }

    public int kind() {
        return segment.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
    }

    public Type canonical() {
        try {
            return new Type(clang, (MemorySegment) clang.getCanonicalType.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public Cursor declaration() {
        try {
            return new Cursor(clang, (MemorySegment) clang.getTypeDeclaration.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public String spelling() {
        try {
            return clang.string((MemorySegment) clang.getTypeSpelling.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** Size in bytes, or a negative {@code CXTypeLayoutError}. */
    public long sizeOf() {
        try {
            return (long) clang.typeGetSizeOf.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** Alignment in bytes, or a negative {@code CXTypeLayoutError}. */
    public long alignOf() {
        try {
            return (long) clang.typeGetAlignOf.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** Offset in bits of a (possibly indirect, through anonymous members) field; negative on error. */
    public long offsetOfBits(String field) {
        try (Arena a = Arena.ofConfined()) {
            return (long) clang.typeGetOffsetOf.invokeExact(segment, a.allocateFrom(field));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public Type arrayElementType() {
        try {
            return new Type(clang, (MemorySegment) clang.getArrayElementType.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** The type a pointer type points to (invalid for other types). */
    public Type pointee() {
        try {
            return new Type(clang, (MemorySegment) clang.getPointeeType.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** Element count of a constant array, -1 otherwise. */
    public long arraySize() {
        try {
            return (long) clang.getArraySize.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    @Override
    public String toString() {
        return spelling() + " (kind " + kind() + ")";
    }
}
