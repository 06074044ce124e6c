package dev.panavirt.headers;

import dev.panavirt.headers.clang.LibClang;
import dev.panavirt.headers.emit.JavaEmitter;
import dev.panavirt.headers.model.BindingPackage;
import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Constant;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.Scalar;
import dev.panavirt.headers.model.StringConstant;
import dev.panavirt.headers.model.Typedef;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parser on a small header with the C features the uapi headers use (and a few they happen not
 * to: a typedef of an anonymous struct, a member named like a Java keyword). Needs libclang, so
 * it is skipped, with the reason, where libclang1-16 is not installed — except where
 * {@code -Dpanavirt.require} names clang (CI), which makes that a failure.
 */
class ParserTest {

    static final String HEADER = """
            #define T_A 1
            #define T_B (T_A << 4)
            #define T_U 0xffffffffU
            #define T_L 0x100000000ULL
            #define T_SZ sizeof(struct outer)
            #define T_S "str"
            #define T_F(x) (x)
            #define T_EMPTY
            #define T_BROKEN (1 +
            enum t_e { T_E0, T_E1 = 5 };
            typedef struct { int a; char b; } anon_t;
            typedef unsigned int t_u32;
            typedef t_u32 t_u32_again;
            typedef char *t_str;
            typedef void (*t_fn)(int);
            struct packed_s { unsigned char c; unsigned long long v; } __attribute__((packed));
            struct outer {
                int class;
                unsigned int f1:3, f2:7;
                union { unsigned long long u64; struct { unsigned int lo, hi; } parts; };
                struct nested_named { short s; } nn;
                __uint128_t big;
                anon_t at;
                unsigned char tail[];
            };
            """;

    @TempDir
    static Path dir;
    static BindingPackage pkg;

    @BeforeAll
    static void parse() throws Exception {
        LibClang clang;
        try {
            clang = LibClang.load(null);
        } catch (IllegalStateException e) {
            // In CI (-Dpanavirt.require=clang, as for the cross-arch layout check) a missing libclang fails.
            if (System.getProperty("panavirt.require", "").contains("clang")) {
                org.junit.jupiter.api.Assertions.fail("libclang is required (-Dpanavirt.require=clang): "
                        + e.getMessage());
            }
            Assumptions.abort("libclang is not installed (" + e.getMessage() + "); the parser test needs it");
            return;
        }
        Path h = dir.resolve("t/test.h");
        Files.createDirectories(h.getParent());
        Files.writeString(h, HEADER);
        Spec spec = new Spec("test.parsed", "test_h", "x86", "x86_64-linux-gnu", List.of("t/test.h"), false);
        Parser p = new Parser(clang, spec, List.of(dir.toAbsolutePath()),
                List.of("-target", "x86_64-linux-gnu", "-nostdinc", "-ffreestanding", "-I" + dir.toAbsolutePath(),
                        "-ferror-limit=0"));
        pkg = p.parse();
    }

    static Record record(String name) {
        return pkg.records().stream().filter(r -> r.javaName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void constantsAreEvaluatedByClang() {
        Map<String, Constant> c = pkg.constants().stream().collect(Collectors.toMap(Constant::name, x -> x));
        assertEquals(1, c.get("T_A").value());
        assertEquals(16, c.get("T_B").value());
        assertEquals(4, c.get("T_U").bytes());
        assertEquals(0xffffffffL, c.get("T_U").value());
        assertEquals(8, c.get("T_L").bytes());
        assertEquals(8, c.get("T_SZ").bytes());
        assertEquals(64, c.get("T_SZ").value());
        assertEquals(5, c.get("T_E1").value());
        assertEquals(List.of("T_A", "T_B", "T_U", "T_L", "T_SZ", "T_E0", "T_E1"),
                pkg.constants().stream().map(Constant::name).toList());
        assertTrue(pkg.skipped().get("function-like macros").get(0).startsWith("T_F"));
        assertTrue(pkg.skipped().get("empty macros (include guards, feature flags)").get(0).startsWith("T_EMPTY"));
        String notInt = String.join(",", pkg.skipped().get("macros that are not integer constant expressions"));
        assertTrue(notInt.contains("T_BROKEN") && !notInt.contains("T_S "), notInt);
        assertEquals(List.of(new StringConstant("T_S", "str", "t/test.h", "#define T_S \"str\"")), pkg.strings());
    }

    @Test
    void scalarAndPointerTypedefsBecomeLayouts() {
        assertEquals(List.of("t_u32", "t_u32_again", "t_str"), pkg.typedefs().stream().map(Typedef::name).toList());
        assertEquals(Scalar.INT, pkg.typedefs().get(1).scalar());
        assertEquals("typedef t_u32 t_u32_again", pkg.typedefs().get(1).cDecl());
        assertEquals(Scalar.POINTER, pkg.typedefs().get(2).scalar());
        // A function pointer is a functional interface in jextract, not a layout; it is reported.
        assertTrue(pkg.skipped().get("typedefs").get(0).startsWith("t_fn"), pkg.skipped().toString());
    }

    @Test
    void recordsAndTheirMembers() {
        assertEquals(List.of("anon_t", "nested_named", "outer", "packed_s"),
                pkg.records().stream().map(Record::javaName).toList());
        assertEquals("anon_t", record("anon_t").cName());
        Record packed = record("packed_s");
        assertEquals(9, packed.size());
        assertEquals(1, packed.align());
        Record outer = record("outer");
        assertEquals(64, outer.size());
        assertEquals(16, outer.align());
        List<Member> m = outer.members();
        Member.Field cls = (Member.Field) m.get(0);
        assertEquals("class_", cls.javaName());
        Member.BitfieldUnit bits = (Member.BitfieldUnit) m.get(1);
        assertEquals(4, bits.offset());
        assertEquals(new CType.ScalarType(Scalar.SHORT), bits.unit());
        assertEquals(List.of("f1", "f2"), bits.bits().stream().map(Member.Bit::name).toList());
        assertEquals(3, bits.bits().get(1).bitOffset());
        Member.AnonymousMember anon = (Member.AnonymousMember) m.get(2);
        assertEquals(8, anon.offset());
        assertTrue(anon.record().isUnion());
        assertEquals(List.of("parts"), outer.nested().stream().map(Record::javaName).toList());
        Member.Field nn = (Member.Field) m.get(3);
        assertEquals(16, nn.offset());
        assertEquals("nested_named", ((CType.RecordType) nn.type()).record().javaName());
        Member.Field big = (Member.Field) m.get(4);
        assertEquals(32, big.offset());
        assertInstanceOf(CType.Int128Type.class, big.type());
        assertEquals(48, m.get(5).offset());
        Member.FlexibleArray tail = (Member.FlexibleArray) m.get(6);
        assertEquals(56, tail.offset());
    }

    /**
     * After a parse, SIGSEGV is still handled by the JVM. HotSpot installs one handler for SIGSEGV and
     * SIGPIPE alike (os/posix/signals_posix.cpp, {@code install_signal_handlers}); LLVM's crash recovery,
     * if libclang were let enable it, would take SIGSEGV and leave SIGPIPE, and the JVM would die of
     * its own next implicit null check (see {@code LibClang.disableCrashRecovery}).
     */
    @Test
    void parsingLeavesTheJvmSignalHandlersAlone() throws Throwable {
        java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        java.lang.invoke.MethodHandle sigaction = linker.downcallHandle(
                linker.defaultLookup().find("sigaction").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                        java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.ADDRESS,
                        java.lang.foreign.ValueLayout.ADDRESS));
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            // struct sigaction (x86_64 glibc) is 152 bytes; the handler is its first word.
            java.lang.foreign.MemorySegment segv = a.allocate(152), pipe = a.allocate(152);
            assertEquals(0, (int) sigaction.invokeExact(11, java.lang.foreign.MemorySegment.NULL, segv));
            assertEquals(0, (int) sigaction.invokeExact(13, java.lang.foreign.MemorySegment.NULL, pipe));
            long pipeHandler = pipe.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
            assertTrue(pipeHandler > 1, "the JVM has a SIGPIPE handler");
            assertEquals(pipeHandler, segv.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0),
                    "SIGSEGV is no longer handled by the JVM's handler");
        }
    }

    @Test
    void emittedCodeCompiles() throws Exception {
        JavaEmitter e = new JavaEmitter(pkg, "test");
        Path src = dir.resolve("src");
        List<String> args = new ArrayList<>(List.of("-Xlint:all,-restricted", "-Werror", "-d",
                dir.resolve("classes").toString()));
        for (Map.Entry<String, String> f : e.emit().entrySet()) {
            Path p = src.resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.writeString(p, f.getValue());
            args.add(p.toString());
        }
        StringWriter out = new StringWriter();
        PrintWriter pw = new PrintWriter(out);
        int rc = java.util.spi.ToolProvider.findFirst("javac").orElseThrow().run(pw, pw, args.toArray(String[]::new));
        pw.flush();
        assertEquals(0, rc, out.toString());
    }
}
