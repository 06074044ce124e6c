package dev.panavirt.headers.clang;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Every FFM handle the generator uses, in one place: hand-written downcalls to the {@code clang-c}
 * C API of libclang (16 or newer) and the one upcall ({@code clang_visitChildren}'s visitor).
 *
 * <p>{@code CXCursor}, {@code CXType}, {@code CXString} and {@code CXSourceLocation} are small
 * structs that libclang passes and returns <em>by value</em>; their layouts below follow
 * {@code clang-c/Index.h} and {@code clang-c/CXString.h}. Values returned by value are copied into
 * an automatic arena, so they stay valid for as long as the Java wrapper is reachable.
 *
 * <p>The generator is single-threaded; so is this class.
 */
public final class LibClang {

    /** {@code typedef struct { enum CXCursorKind kind; int xdata; const void *data[3]; } CXCursor;} */
    static final StructLayout CX_CURSOR = MemoryLayout.structLayout(
            JAVA_INT.withName("kind"), JAVA_INT.withName("xdata"),
            MemoryLayout.sequenceLayout(3, ADDRESS).withName("data")).withName("CXCursor");
    /** {@code typedef struct { enum CXTypeKind kind; void *data[2]; } CXType;} */
    static final StructLayout CX_TYPE = MemoryLayout.structLayout(
            JAVA_INT.withName("kind"), MemoryLayout.paddingLayout(4),
            MemoryLayout.sequenceLayout(2, ADDRESS).withName("data")).withName("CXType");
    /** {@code typedef struct { const void *data; unsigned private_flags; } CXString;} */
    static final StructLayout CX_STRING = MemoryLayout.structLayout(
            ADDRESS.withName("data"), JAVA_INT.withName("private_flags"),
            MemoryLayout.paddingLayout(4)).withName("CXString");
    /** {@code typedef struct { const void *ptr_data[2]; unsigned int_data; } CXSourceLocation;} */
    static final StructLayout CX_SOURCE_LOCATION = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(2, ADDRESS).withName("ptr_data"), JAVA_INT.withName("int_data"),
            MemoryLayout.paddingLayout(4)).withName("CXSourceLocation");
    /** {@code typedef struct { const void *ptr_data[2]; unsigned begin_int_data, end_int_data; } CXSourceRange;} */
    static final StructLayout CX_SOURCE_RANGE = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(2, ADDRESS).withName("ptr_data"), JAVA_INT.withName("begin_int_data"),
            JAVA_INT.withName("end_int_data")).withName("CXSourceRange");
    /** {@code struct CXUnsavedFile { const char *Filename; const char *Contents; unsigned long Length; };} */
    static final StructLayout CX_UNSAVED_FILE = MemoryLayout.structLayout(
            ADDRESS.withName("Filename"), ADDRESS.withName("Contents"), JAVA_LONG.withName("Length"))
            .withName("CXUnsavedFile");

    private static final AddressLayout C_STRING = ADDRESS.withTargetLayout(
            MemoryLayout.sequenceLayout(Long.MAX_VALUE, ValueLayout.JAVA_BYTE));

    /** Where Debian's libclang1-16 puts the library; {@code --libclang} or PANAVIRT_LIBCLANG override it. */
    public static final List<String> DEFAULT_PATHS = List.of(
            "/usr/lib/llvm-16/lib/libclang.so.1",
            "/usr/lib/x86_64-linux-gnu/libclang-16.so.1",
            "/usr/lib/llvm-16/lib/libclang-16.so.1");

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lookup;
    /** Copies of by-value results live here; the GC frees them with their wrappers. */
    final Arena auto = Arena.ofAuto();

    final MethodHandle createIndex;
    final MethodHandle disposeIndex;
    final MethodHandle parseTranslationUnit2;
    final MethodHandle disposeTranslationUnit;
    final MethodHandle getTranslationUnitCursor;
    final MethodHandle visitChildren;
    final MethodHandle getCursorKind;
    final MethodHandle getCursorSpelling;
    final MethodHandle getCString;
    final MethodHandle disposeString;
    final MethodHandle getCursorType;
    final MethodHandle getCanonicalType;
    final MethodHandle getTypeDeclaration;
    final MethodHandle getTypeSpelling;
    final MethodHandle typeGetSizeOf;
    final MethodHandle typeGetAlignOf;
    final MethodHandle typeGetOffsetOf;
    final MethodHandle cursorGetOffsetOfField;
    final MethodHandle getArrayElementType;
    final MethodHandle getArraySize;
    final MethodHandle cursorIsBitField;
    final MethodHandle getFieldDeclBitWidth;
    final MethodHandle cursorIsAnonymous;
    final MethodHandle cursorIsAnonymousRecordDecl;
    final MethodHandle isCursorDefinition;
    final MethodHandle getCursorLocation;
    final MethodHandle getCursorExtent;
    final MethodHandle getRangeStart;
    final MethodHandle getRangeEnd;
    final MethodHandle getExpansionLocation;
    final MethodHandle getFileName;
    final MethodHandle cursorIsMacroFunctionLike;
    final MethodHandle cursorEvaluate;
    final MethodHandle evalResultGetKind;
    final MethodHandle evalResultIsUnsignedInt;
    final MethodHandle evalResultGetAsUnsigned;
    final MethodHandle evalResultGetAsLongLong;
    final MethodHandle evalResultDispose;
    final MethodHandle evalResultGetAsStr;
    final MethodHandle getPointeeType;
    final MethodHandle getNumDiagnostics;
    final MethodHandle getDiagnostic;
    final MethodHandle getDiagnosticSeverity;
    final MethodHandle getDiagnosticLocation;
    final MethodHandle formatDiagnostic;
    final MethodHandle disposeDiagnostic;
    final MethodHandle getEnumConstantDeclValue;
    final MethodHandle getEnumConstantDeclUnsignedValue;
    final MethodHandle getEnumDeclIntegerType;
    final MethodHandle getTypedefDeclUnderlyingType;
    final MethodHandle getClangVersion;
    final MethodHandle getIncludedFile;

    /** The visitor upcall stub, created once; it appends to {@link #visitSink}. */
    private final MemorySegment visitorStub;
    private List<Cursor> visitSink;

    private LibClang(Path library) {
        this.lookup = SymbolLookup.libraryLookup(library, Arena.global());
        FunctionDescriptor cursorToInt = FunctionDescriptor.of(JAVA_INT, CX_CURSOR);
        createIndex = down("clang_createIndex", FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT));
        disposeIndex = down("clang_disposeIndex", FunctionDescriptor.ofVoid(ADDRESS));
        parseTranslationUnit2 = down("clang_parseTranslationUnit2", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        disposeTranslationUnit = down("clang_disposeTranslationUnit", FunctionDescriptor.ofVoid(ADDRESS));
        getTranslationUnitCursor = down("clang_getTranslationUnitCursor", FunctionDescriptor.of(CX_CURSOR, ADDRESS));
        visitChildren = down("clang_visitChildren", FunctionDescriptor.of(JAVA_INT, CX_CURSOR, ADDRESS, ADDRESS));
        getCursorKind = down("clang_getCursorKind", cursorToInt);
        getCursorSpelling = down("clang_getCursorSpelling", FunctionDescriptor.of(CX_STRING, CX_CURSOR));
        getCString = down("clang_getCString", FunctionDescriptor.of(C_STRING, CX_STRING));
        disposeString = down("clang_disposeString", FunctionDescriptor.ofVoid(CX_STRING));
        getCursorType = down("clang_getCursorType", FunctionDescriptor.of(CX_TYPE, CX_CURSOR));
        getCanonicalType = down("clang_getCanonicalType", FunctionDescriptor.of(CX_TYPE, CX_TYPE));
        getTypeDeclaration = down("clang_getTypeDeclaration", FunctionDescriptor.of(CX_CURSOR, CX_TYPE));
        getTypeSpelling = down("clang_getTypeSpelling", FunctionDescriptor.of(CX_STRING, CX_TYPE));
        typeGetSizeOf = down("clang_Type_getSizeOf", FunctionDescriptor.of(JAVA_LONG, CX_TYPE));
        typeGetAlignOf = down("clang_Type_getAlignOf", FunctionDescriptor.of(JAVA_LONG, CX_TYPE));
        typeGetOffsetOf = down("clang_Type_getOffsetOf", FunctionDescriptor.of(JAVA_LONG, CX_TYPE, ADDRESS));
        cursorGetOffsetOfField = down("clang_Cursor_getOffsetOfField", FunctionDescriptor.of(JAVA_LONG, CX_CURSOR));
        getArrayElementType = down("clang_getArrayElementType", FunctionDescriptor.of(CX_TYPE, CX_TYPE));
        getArraySize = down("clang_getArraySize", FunctionDescriptor.of(JAVA_LONG, CX_TYPE));
        cursorIsBitField = down("clang_Cursor_isBitField", cursorToInt);
        getFieldDeclBitWidth = down("clang_getFieldDeclBitWidth", cursorToInt);
        cursorIsAnonymous = down("clang_Cursor_isAnonymous", cursorToInt);
        cursorIsAnonymousRecordDecl = down("clang_Cursor_isAnonymousRecordDecl", cursorToInt);
        isCursorDefinition = down("clang_isCursorDefinition", cursorToInt);
        getCursorLocation = down("clang_getCursorLocation", FunctionDescriptor.of(CX_SOURCE_LOCATION, CX_CURSOR));
        getCursorExtent = down("clang_getCursorExtent", FunctionDescriptor.of(CX_SOURCE_RANGE, CX_CURSOR));
        getRangeStart = down("clang_getRangeStart", FunctionDescriptor.of(CX_SOURCE_LOCATION, CX_SOURCE_RANGE));
        getRangeEnd = down("clang_getRangeEnd", FunctionDescriptor.of(CX_SOURCE_LOCATION, CX_SOURCE_RANGE));
        getExpansionLocation = down("clang_getExpansionLocation", FunctionDescriptor.ofVoid(
                CX_SOURCE_LOCATION, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        getFileName = down("clang_getFileName", FunctionDescriptor.of(CX_STRING, ADDRESS));
        cursorIsMacroFunctionLike = down("clang_Cursor_isMacroFunctionLike", cursorToInt);
        cursorEvaluate = down("clang_Cursor_Evaluate", FunctionDescriptor.of(ADDRESS, CX_CURSOR));
        evalResultGetKind = down("clang_EvalResult_getKind", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        evalResultIsUnsignedInt = down("clang_EvalResult_isUnsignedInt", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        evalResultGetAsUnsigned = down("clang_EvalResult_getAsUnsigned", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        evalResultGetAsLongLong = down("clang_EvalResult_getAsLongLong", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        evalResultDispose = down("clang_EvalResult_dispose", FunctionDescriptor.ofVoid(ADDRESS));
        evalResultGetAsStr = down("clang_EvalResult_getAsStr", FunctionDescriptor.of(C_STRING, ADDRESS));
        getPointeeType = down("clang_getPointeeType", FunctionDescriptor.of(CX_TYPE, CX_TYPE));
        getNumDiagnostics = down("clang_getNumDiagnostics", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getDiagnostic = down("clang_getDiagnostic", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        getDiagnosticSeverity = down("clang_getDiagnosticSeverity", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getDiagnosticLocation = down("clang_getDiagnosticLocation", FunctionDescriptor.of(CX_SOURCE_LOCATION, ADDRESS));
        formatDiagnostic = down("clang_formatDiagnostic", FunctionDescriptor.of(CX_STRING, ADDRESS, JAVA_INT));
        disposeDiagnostic = down("clang_disposeDiagnostic", FunctionDescriptor.ofVoid(ADDRESS));
        getEnumConstantDeclValue = down("clang_getEnumConstantDeclValue", FunctionDescriptor.of(JAVA_LONG, CX_CURSOR));
        getEnumConstantDeclUnsignedValue = down("clang_getEnumConstantDeclUnsignedValue",
                FunctionDescriptor.of(JAVA_LONG, CX_CURSOR));
        getEnumDeclIntegerType = down("clang_getEnumDeclIntegerType", FunctionDescriptor.of(CX_TYPE, CX_CURSOR));
        getTypedefDeclUnderlyingType = down("clang_getTypedefDeclUnderlyingType",
                FunctionDescriptor.of(CX_TYPE, CX_CURSOR));
        getClangVersion = down("clang_getClangVersion", FunctionDescriptor.of(CX_STRING));
        getIncludedFile = down("clang_getIncludedFile", FunctionDescriptor.of(ADDRESS, CX_CURSOR));
        disableCrashRecovery();

        try {
            MethodHandle target = MethodHandles.lookup().findVirtual(LibClang.class, "onVisit",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, MemorySegment.class))
                    .bindTo(this);
            // enum CXChildVisitResult (*CXCursorVisitor)(CXCursor cursor, CXCursor parent, CXClientData data)
            visitorStub = linker.upcallStub(target,
                    FunctionDescriptor.of(JAVA_INT, CX_CURSOR, CX_CURSOR, ADDRESS), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new LinkageError("visitor upcall", e);
        }
    }

    /**
     * Keeps libclang's crash recovery off for the life of the process. When it is on, LLVM's
     * {@code CrashRecoveryContext::Enable} replaces the process-wide SIGSEGV/SIGBUS/SIGABRT/... handlers;
     * the JVM raises SIGSEGV on purpose (implicit null checks, stack banging), LLVM's handler finds no
     * recovery context on that thread, restores the old handler and re-raises the signal with
     * {@code raise(3)}, and the JVM then dies of a SIGSEGV "sent by kill" or aborts — at random, seen
     * in CI. {@code clang_toggleCrashRecovery(0)} is not enough: every {@code clang_createIndex}
     * enables recovery again unless {@code LIBCLANG_DISABLE_CRASH_RECOVERY} is set in the environment
     * (clang/tools/libclang/CIndex.cpp, {@code clang_createIndex}), so the variable is set here, in
     * the process's own environment, before any index exists.
     */
    private void disableCrashRecovery() {
        try (Arena a = Arena.ofConfined()) {
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            int rc = (int) setenv.invokeExact(a.allocateFrom("LIBCLANG_DISABLE_CRASH_RECOVERY"),
                    a.allocateFrom("1"), 1);
            if (rc != 0) throw new IllegalStateException("setenv(LIBCLANG_DISABLE_CRASH_RECOVERY) failed");
            down("clang_toggleCrashRecovery", FunctionDescriptor.ofVoid(JAVA_INT)).invokeExact(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Loads libclang from {@code explicit} if given, else from {@code $PANAVIRT_LIBCLANG}, else from the
     * first of {@link #DEFAULT_PATHS} that exists.
     */
    public static LibClang load(String explicit) {
        List<String> candidates = new ArrayList<>();
        if (explicit != null && !explicit.isEmpty()) {
            candidates.add(explicit);
        } else {
            String env = System.getenv("PANAVIRT_LIBCLANG");
            if (env != null && !env.isEmpty()) candidates.add(env);
            candidates.addAll(DEFAULT_PATHS);
        }
        for (String c : candidates) {
            if (Files.exists(Path.of(c))) return new LibClang(Path.of(c));
        }
        throw new IllegalStateException("libclang not found (tried " + candidates
                + "); install libclang1-16 or pass --libclang <path>");
    }

    private MethodHandle down(String name, FunctionDescriptor fd) {
        MemorySegment addr = lookup.find(name).orElseThrow(
                () -> new NoSuchElementException("libclang has no symbol " + name));
        return linker.downcallHandle(addr, fd);
    }

    /** The upcall target: copies the (callback-scoped) cursor and keeps visiting siblings. */
    @SuppressWarnings("unused")
    private int onVisit(MemorySegment cursor, MemorySegment parent, MemorySegment data) {
        MemorySegment copy = auto.allocate(CX_CURSOR);
        copy.copyFrom(cursor);
        visitSink.add(new Cursor(this, copy));
        return 1; // CXChildVisit_Continue
    }

    /** The direct children of {@code parent}, in source order. */
    List<Cursor> children(Cursor parent) {
        List<Cursor> out = new ArrayList<>();
        List<Cursor> saved = visitSink;
        visitSink = out;
        try {
            int rc = (int) visitChildren.invokeExact(parent.segment(), visitorStub, MemorySegment.NULL);
            if (rc != 0) throw new IllegalStateException("clang_visitChildren stopped early");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            visitSink = saved;
        }
        return out;
    }

    /** Converts and disposes a {@code CXString}. */
    String string(MemorySegment cxString) {
        try {
            MemorySegment p = (MemorySegment) getCString.invokeExact(cxString);
            String s = p.equals(MemorySegment.NULL) ? "" : p.getString(0);
            disposeString.invokeExact(cxString);
            return s;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The libclang version string, e.g. "Debian clang version 16.0.6 (15~deb12u1)". */
    public String version() {
        try {
            return string((MemorySegment) getClangVersion.invokeExact((java.lang.foreign.SegmentAllocator) auto));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
