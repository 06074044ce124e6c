package dev.panavirt.headers.clang;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** A {@code CXCursor} (held by value in a GC-managed segment). */
public final class Cursor {
    public static final int STRUCT_DECL = 2;
    public static final int UNION_DECL = 3;
    public static final int ENUM_DECL = 5;
    public static final int FIELD_DECL = 6;
    public static final int ENUM_CONSTANT_DECL = 7;
    public static final int FUNCTION_DECL = 8;
    public static final int VAR_DECL = 9;
    public static final int TYPEDEF_DECL = 20;
    public static final int PACKED_ATTR = 408;
    public static final int MACRO_DEFINITION = 501;
    public static final int INCLUSION_DIRECTIVE = 503;

    private final LibClang clang;
    private final MemorySegment segment;

    Cursor(LibClang clang, MemorySegment segment) {
        this.clang = clang;
        this.segment = segment;
    }

    MemorySegment segment() {
        return segment;
    }

    private SegmentAllocator auto() {
        return clang.auto;
    }

    public int kind() {
        try {
            return (int) clang.getCursorKind.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public String spelling() {
        try {
            return clang.string((MemorySegment) clang.getCursorSpelling.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public Type type() {
        try {
            return new Type(clang, (MemorySegment) clang.getCursorType.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public List<Cursor> children() {
        return clang.children(this);
    }

    private boolean flag(java.lang.invoke.MethodHandle h) {
        try {
            return (int) h.invokeExact(segment) != 0;
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public boolean isBitField() {
        return flag(clang.cursorIsBitField);
    }

    public int bitWidth() {
        try {
            return (int) clang.getFieldDeclBitWidth.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** Offset of a field in bits from the start of its immediately enclosing record; negative on error. */
    public long offsetOfFieldBits() {
        try {
            return (long) clang.cursorGetOffsetOfField.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** A tag without a name ({@code struct { ... }}). */
    public boolean isAnonymous() {
        return flag(clang.cursorIsAnonymous);
    }

    /** An anonymous struct/union that is an unnamed member of its parent (C11 anonymous member). */
    public boolean isAnonymousRecordDecl() {
        return flag(clang.cursorIsAnonymousRecordDecl);
    }

    public boolean isDefinition() {
        return flag(clang.isCursorDefinition);
    }

    public boolean isMacroFunctionLike() {
        return flag(clang.cursorIsMacroFunctionLike);
    }

    /** Where the cursor is, after macro expansion. */
    public SourcePos location() {
        try {
            return position(clang, (MemorySegment) clang.getCursorLocation.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** Start and end positions of the cursor's source extent. */
    public SourcePos[] extent() {
        try {
            MemorySegment range = (MemorySegment) clang.getCursorExtent.invokeExact(auto(), segment);
            MemorySegment start = (MemorySegment) clang.getRangeStart.invokeExact(auto(), range);
            MemorySegment end = (MemorySegment) clang.getRangeEnd.invokeExact(auto(), range);
            return new SourcePos[] {position(clang, start), position(clang, end)};
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /** For an inclusion directive: the absolute name of the file it included, or "" if none. */
    public String includedFile() {
        try {
            MemorySegment f = (MemorySegment) clang.getIncludedFile.invokeExact(segment);
            if (f.equals(MemorySegment.NULL)) return "";
            return clang.string((MemorySegment) clang.getFileName.invokeExact(auto(), f));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public long enumConstantValue() {
        try {
            return (long) clang.getEnumConstantDeclValue.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public long enumConstantUnsignedValue() {
        try {
            return (long) clang.getEnumConstantDeclUnsignedValue.invokeExact(segment);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public Type enumIntegerType() {
        try {
            return new Type(clang, (MemorySegment) clang.getEnumDeclIntegerType.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public Type typedefUnderlyingType() {
        try {
            return new Type(clang, (MemorySegment) clang.getTypedefDeclUnderlyingType.invokeExact(auto(), segment));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    /**
     * The result of {@code clang_Cursor_Evaluate}; {@code kind} is a {@code CXEvalResultKind}.
     * {@code string} holds the bytes of a string literal (one char per byte, ISO-8859-1), else null.
     */
    public record Eval(int kind, boolean unsigned, long value, String string) {
        public static final int INT = 1;
        public static final int STR_LITERAL = 4;
    }

    /** Evaluates a variable's initializer (or an expression); null when clang cannot. */
    public Eval evaluate() {
        try {
            MemorySegment r = (MemorySegment) clang.cursorEvaluate.invokeExact(segment);
            if (r.equals(MemorySegment.NULL)) return null;
            try {
                int kind = (int) clang.evalResultGetKind.invokeExact(r);
                if (kind == Eval.STR_LITERAL) {
                    MemorySegment p = (MemorySegment) clang.evalResultGetAsStr.invokeExact(r);
                    String s = p.equals(MemorySegment.NULL) ? null : p.getString(0, StandardCharsets.ISO_8859_1);
                    return new Eval(kind, false, 0, s);
                }
                if (kind != Eval.INT) return new Eval(kind, false, 0, null);
                boolean unsigned = (int) clang.evalResultIsUnsignedInt.invokeExact(r) != 0;
                long v = unsigned ? (long) clang.evalResultGetAsUnsigned.invokeExact(r)
                        : (long) clang.evalResultGetAsLongLong.invokeExact(r);
                return new Eval(kind, unsigned, v, null);
            } finally {
                clang.evalResultDispose.invokeExact(r);
            }
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    @Override
    public String toString() {
        return "Cursor[" + kind() + " " + spelling() + " @ " + location() + "]";
    }

    /** A file position after macro expansion ({@code clang_getExpansionLocation}). */
    public record SourcePos(String file, int line, int column, int offset) {
        @Override
        public String toString() {
            return file + ":" + line + ":" + column;
        }
    }

    static SourcePos position(LibClang clang, MemorySegment location) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment file = a.allocate(ADDRESS);
            MemorySegment line = a.allocate(JAVA_INT);
            MemorySegment col = a.allocate(JAVA_INT);
            MemorySegment off = a.allocate(JAVA_INT);
            clang.getExpansionLocation.invokeExact(location, file, line, col, off);
            MemorySegment f = file.get(ADDRESS, 0);
            String name = f.equals(MemorySegment.NULL) ? ""
                    : clang.string((MemorySegment) clang.getFileName.invokeExact((SegmentAllocator) clang.auto, f));
            return new SourcePos(name, line.get(JAVA_INT, 0), col.get(JAVA_INT, 0), off.get(JAVA_INT, 0));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }
}
