package dev.panavirt.headers.clang;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;

/** A parsed {@code CXTranslationUnit} together with its {@code CXIndex}. */
public final class TranslationUnit implements AutoCloseable {
    /** {@code CXTranslationUnit_DetailedPreprocessingRecord}: keep macro definitions as cursors. */
    public static final int DETAILED_PREPROCESSING_RECORD = 0x01;
    /** {@code CXTranslationUnit_SkipFunctionBodies}. */
    public static final int SKIP_FUNCTION_BODIES = 0x40;

    /** One diagnostic; severity follows {@code CXDiagnosticSeverity} (3 error, 4 fatal). */
    public record Diagnostic(int severity, String text, Cursor.SourcePos where) {
        public boolean isError() {
            return severity >= 3;
        }
    }

    private final LibClang clang;
    private final MemorySegment index;
    private final MemorySegment tu;

    private TranslationUnit(LibClang clang, MemorySegment index, MemorySegment tu) {
        this.clang = clang;
        this.index = index;
        this.tu = tu;
    }

    /**
     * Parses {@code file} with {@code args}; {@code unsaved} maps file names to in-memory contents
     * (used for the synthetic macro-evaluation source).
     */
    public static TranslationUnit parse(LibClang clang, String file, List<String> args,
                                        Map<String, String> unsaved, int options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment index = (MemorySegment) clang.createIndex.invokeExact(0, 0);
            MemorySegment argv = a.allocate(ADDRESS, Math.max(1, args.size()));
            for (int i = 0; i < args.size(); i++) argv.setAtIndex(ADDRESS, i, a.allocateFrom(args.get(i)));
            MemorySegment files = a.allocate(LibClang.CX_UNSAVED_FILE, Math.max(1, unsaved.size()));
            int i = 0;
            for (Map.Entry<String, String> e : unsaved.entrySet()) {
                byte[] bytes = e.getValue().getBytes(StandardCharsets.UTF_8);
                MemorySegment contents = a.allocate(bytes.length + 1L);
                contents.copyFrom(MemorySegment.ofArray(bytes));
                MemorySegment slot = files.asSlice(i * LibClang.CX_UNSAVED_FILE.byteSize(),
                        LibClang.CX_UNSAVED_FILE.byteSize());
                slot.set(ADDRESS, 0, a.allocateFrom(e.getKey()));
                slot.set(ADDRESS, 8, contents);
                slot.set(java.lang.foreign.ValueLayout.JAVA_LONG, 16, bytes.length);
                i++;
            }
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) clang.parseTranslationUnit2.invokeExact(index, a.allocateFrom(file), argv, args.size(),
                    files, unsaved.size(), options, out);
            if (rc != 0) {
                clang.disposeIndex.invokeExact(index);
                throw new IllegalStateException("clang_parseTranslationUnit2(" + file + ") failed with CXErrorCode " + rc);
            }
            return new TranslationUnit(clang, index, out.get(ADDRESS, 0));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public Cursor cursor() {
        try {
            return new Cursor(clang, (MemorySegment) clang.getTranslationUnitCursor.invokeExact(
                    (SegmentAllocator) clang.auto, tu));
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }

    public List<Diagnostic> diagnostics() {
        List<Diagnostic> out = new ArrayList<>();
        try {
            int n = (int) clang.getNumDiagnostics.invokeExact(tu);
            for (int i = 0; i < n; i++) {
                MemorySegment d = (MemorySegment) clang.getDiagnostic.invokeExact(tu, i);
                int severity = (int) clang.getDiagnosticSeverity.invokeExact(d);
                // CXDiagnostic_DisplaySourceLocation | DisplayColumn | DisplayOption
                String text = clang.string((MemorySegment) clang.formatDiagnostic.invokeExact(
                        (SegmentAllocator) clang.auto, d, 0x1 | 0x2 | 0x8));
                Cursor.SourcePos where = Cursor.position(clang, (MemorySegment) clang.getDiagnosticLocation
                        .invokeExact((SegmentAllocator) clang.auto, d));
                clang.disposeDiagnostic.invokeExact(d);
                out.add(new Diagnostic(severity, text, where));
            }
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
        return out;
    }

    @Override
    public void close() {
        try {
            clang.disposeTranslationUnit.invokeExact(tu);
            clang.disposeIndex.invokeExact(index);
        } catch (Throwable t) {
            throw LibClang.rethrow(t);
        }
    }
}
