package dev.panavirt.headers.emit;

import dev.panavirt.headers.model.BindingPackage;
import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Constant;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.Scalar;
import dev.panavirt.headers.model.StringConstant;
import dev.panavirt.headers.model.Typedef;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Emits a hand-built model, compiles the sources with the JDK's compiler, and exercises the
 * classes: the layouts must reproduce the model's offsets, and the accessors must read and write
 * where C would. Needs no libclang.
 *
 * <pre>
 * struct point { __u32 x; __u32 y; };
 * struct thing {                       // 40 bytes, aligned 8
 *     __u8 kind;                       // 0
 *     __u8 a:3, b:5;                   // 1: one storage unit
 *     __u16 default;                   // 2: a Java keyword
 *     union {                          // 8: anonymous member
 *         struct { __u32 lo, hi; } half;
 *         __u64 whole;
 *     };
 *     struct point pts[2];             // 16
 *     __u64 count;                     // 32
 *     struct point entries[];          // 40: flexible
 * };
 * struct grid {                        // 40 bytes, aligned 4
 *     __u8 cells[2][3];                // 0
 *     struct point pts[2][2];          // 8
 * };
 * typedef unsigned int __u32; typedef void *ptr_t;
 * #define NAME_STRING "a\"b\\c"
 * </pre>
 */
class JavaEmitterTest {

    static final CType U8 = new CType.ScalarType(Scalar.CHAR);
    static final CType U16 = new CType.ScalarType(Scalar.SHORT);
    static final CType U32 = new CType.ScalarType(Scalar.INT);
    static final CType U64 = new CType.ScalarType(Scalar.LONG_LONG);

    @TempDir
    static Path dir;
    static ClassLoader loader;
    static Map<String, String> sources;
    static JavaEmitter emitter;

    static Member.Field field(String name, long offset, CType t) {
        return new Member.Field(name, name.equals("default") ? "default_" : name, offset, t, "T " + name);
    }

    static BindingPackage model() {
        Record point = new Record("point", "struct point", "t.h", false, 8, 4);
        point.members().addAll(List.of(field("x", 0, U32), field("y", 4, U32)));
        Record thing = new Record("thing", "struct thing", "t.h", false, 40, 8);
        Record half = new Record("half", "struct {...} half in struct thing", "t.h", false, 8, 4);
        half.members().addAll(List.of(field("lo", 0, U32), field("hi", 4, U32)));
        thing.addNested(half);
        Record anon = new Record(null, "union (anonymous in struct thing)", "t.h", true, 8, 8);
        anon.members().addAll(List.of(field("half", 0, new CType.RecordType(half)), field("whole", 0, U64)));
        thing.members().addAll(List.of(
                field("kind", 0, U8),
                new Member.BitfieldUnit("bitfield0", 1, U8, List.of(
                        new Member.Bit("a", 0, 3, "__u8 a : 3"), new Member.Bit("b", 3, 5, "__u8 b : 5"))),
                field("default", 2, U16),
                new Member.AnonymousMember(anon, 8),
                field("pts", 16, new CType.ArrayType(new CType.RecordType(point), 2)),
                field("count", 32, U64),
                new Member.FlexibleArray("entries", "entries", 40, new CType.RecordType(point), "struct point entries[]")));
        Record grid = new Record("grid", "struct grid", "t.h", false, 40, 4);
        grid.members().addAll(List.of(
                field("cells", 0, new CType.ArrayType(new CType.ArrayType(U8, 3), 2)),
                field("pts", 8, new CType.ArrayType(new CType.ArrayType(new CType.RecordType(point), 2), 2))));
        List<Constant> constants = List.of(
                new Constant("KVM_GET_REGS", 8, 0x8090ae81L, "t.h", "#define KVM_GET_REGS _IOR(KVMIO, 0x81, struct kvm_regs)"),
                new Constant("KVM_RUN", 4, 0xae80, "t.h", "#define KVM_RUN _IO(KVMIO, 0x80)"),
                new Constant("BIG", 4, 0xffffffffL, "t.h", "#define BIG 0xffffffffU"),
                new Constant("NEG", 2, -2, "t.h", "#define NEG (short)-2 /* a comment */"));
        List<Typedef> typedefs = List.of(
                new Typedef("__u32", Scalar.INT, "t.h", "typedef unsigned int __u32"),
                new Typedef("ptr_t", Scalar.POINTER, "t.h", "typedef void *ptr_t"));
        List<StringConstant> strings = List.of(
                new StringConstant("NAME_STRING", "a\"b\\c", "t.h", "#define NAME_STRING \"a\\\"b\\\\c\""));
        return new BindingPackage("test.gen", "t_h", List.of("t.h"), "x86", List.of(grid, point, thing), constants,
                typedefs, strings, BindingPackage.newSkipped());
    }

    @BeforeAll
    static void compile() throws Exception {
        emitter = new JavaEmitter(model(), "linux-source-6.12 test");
        sources = emitter.emit();
        Path src = dir.resolve("src");
        List<String> files = new ArrayList<>();
        for (Map.Entry<String, String> e : sources.entrySet()) {
            Path f = src.resolve(e.getKey());
            Files.createDirectories(f.getParent());
            Files.writeString(f, e.getValue());
            files.add(f.toString());
        }
        java.util.spi.ToolProvider javac = java.util.spi.ToolProvider.findFirst("javac").orElseThrow();
        Path out = dir.resolve("classes");
        Files.createDirectories(out);
        // As the project's pom: every lint but [restricted] (reinterpret is restricted, as in jextract's output).
        List<String> args = new ArrayList<>(List.of("-Xlint:all,-restricted", "-Werror", "-d", out.toString()));
        args.addAll(files);
        StringWriter err = new StringWriter();
        PrintWriter pw = new PrintWriter(err);
        int rc = javac.run(pw, pw, args.toArray(String[]::new));
        pw.flush();
        assertEquals(0, rc, "generated code does not compile cleanly:\n" + err);
        loader = new URLClassLoader(new URL[] {out.toUri().toURL()}, JavaEmitterTest.class.getClassLoader());
    }

    static Object call(String cls, String method, Object... args) throws Exception {
        Class<?> c = Class.forName("test.gen." + cls, true, loader);
        for (Method m : c.getMethods()) {
            if (m.getName().equals(method) && m.getParameterCount() == args.length) {
                Class<?>[] p = m.getParameterTypes();
                boolean ok = true;
                for (int i = 0; i < args.length; i++) {
                    Class<?> want = p[i].isPrimitive() ? box(p[i]) : p[i];
                    if (args[i] != null && !want.isInstance(args[i])) ok = false;
                }
                if (ok) return m.invoke(null, args);
            }
        }
        throw new NoSuchMethodException(cls + "." + method + " with " + args.length + " args");
    }

    static Class<?> box(Class<?> p) {
        return switch (p.getName()) {
            case "byte" -> Byte.class;
            case "short" -> Short.class;
            case "int" -> Integer.class;
            case "long" -> Long.class;
            case "boolean" -> Boolean.class;
            case "float" -> Float.class;
            default -> Double.class;
        };
    }

    @Test
    void layoutMatchesTheModel() throws Exception {
        GroupLayout l = (GroupLayout) call("thing", "layout");
        assertEquals(40, l.byteSize());
        assertEquals(8, l.byteAlignment());
        assertEquals(8L, call("thing", "whole$offset"));
        assertEquals(8L, call("thing", "half$offset"));
        assertEquals(4L, call("thing$half", "hi$offset"));
        assertEquals(2L, call("thing", "default_$offset"));
        assertEquals(40L, call("thing", "entries$offset"));
        // The anonymous union is an unnamed member; its members are not reachable by name at top level.
        boolean unnamed = false;
        for (MemoryLayout m : l.memberLayouts()) {
            if (m.name().isEmpty() && m instanceof GroupLayout) unnamed = true;
        }
        assertTrue(unnamed, l.toString());
        assertEquals(1L, ((MemoryLayout) call("thing", "bitfield0$layout")).byteSize());
    }

    @Test
    void accessorsWriteWhereCWould() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = (MemorySegment) call("thing", "allocate", 2L, arena);
            assertEquals(40 + 2 * 8, s.byteSize());
            assertEquals(56L, call("thing", "sizeof", 2L));
            call("thing", "whole", s, 0x1111222233334444L);
            MemorySegment half = (MemorySegment) call("thing", "half", s);
            assertEquals(0x33334444, call("thing$half", "lo", half));
            assertEquals(0x11112222, call("thing$half", "hi", half));
            call("thing", "default_", s, (short) 7);
            assertEquals((short) 7, s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2));
            MemorySegment p1 = (MemorySegment) call("thing", "pts", s, 1L);
            call("point", "y", p1, 99);
            assertEquals(99, s.get(ValueLayout.JAVA_INT_UNALIGNED, 16 + 8 + 4));
            MemorySegment e1 = (MemorySegment) call("thing", "entries", s, 1L);
            call("point", "x", e1, 5);
            assertEquals(5, s.get(ValueLayout.JAVA_INT_UNALIGNED, 48));
            call("thing", "bitfield0", s, (byte) (3 | 7 << 3));
            assertEquals((byte) 0x3b, s.get(ValueLayout.JAVA_BYTE, 1));
        }
    }

    @Test
    void constantsKeepTheirCWidth() throws Exception {
        assertEquals(0x8090ae81L, call("t_h", "KVM_GET_REGS"));
        assertEquals(0xae80, call("t_h", "KVM_RUN"));
        assertEquals(-1, call("t_h", "BIG"));
        assertEquals((short) -2, call("t_h", "NEG"));
        String h = sources.get("test/gen/t_h.java");
        assertTrue(h.contains("private static final int KVM_RUN = (int)44672L;"), h);
        assertTrue(h.contains("private static final long KVM_GET_REGS = 2156965505L;"), h);
        assertTrue(h.contains("#define NEG (short)-2 /* a comment &#42;/"), h);
        assertTrue(h.startsWith("// Code generated by panavirt native-headers (native-headers/regen.sh). DO NOT EDIT.\n"
                + "// Source: t.h (x86 tree) of linux-source-6.12 test.\n"), h);
    }

    @Test
    void bitfieldUnitsAreDocumentedAndIndexed() {
        String t = sources.get("test/gen/thing.java");
        assertTrue(t.contains("<li><code>__u8 b : 5</code>: bit offset 3, width 5</li>"), t);
        assertTrue(t.contains("FFM has no bitfields"), t);
        assertTrue(emitter.index().contains("bitfield\ttest.gen.thing\tbitfield0\tb"), emitter.index().toString());
        assertTrue(emitter.index().contains("class\ttest.gen.thing$half\tstruct thing\thalf."), emitter.index().toString());
        assertEquals(4, emitter.counts().structs);
        assertEquals(4, emitter.counts().constants);
    }

    @Test
    void everyFileCarriesTheGeneratedMarker() {
        // The convention of Go, GitHub linguist and many linters: the first line alone marks the file.
        java.util.regex.Pattern marker = java.util.regex.Pattern.compile("^// Code generated .* DO NOT EDIT\\.$");
        for (Map.Entry<String, String> e : sources.entrySet()) {
            String first = e.getValue().lines().findFirst().orElse("");
            assertTrue(marker.matcher(first).matches(), e.getKey() + ": " + first);
        }
    }

    @Test
    void reinterpretGivesOneOrManyElements() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = (MemorySegment) call("thing", "allocate", arena);
            MemorySegment raw = MemorySegment.ofAddress(s.address());
            assertEquals(0, raw.byteSize());
            MemorySegment one = (MemorySegment) call("thing", "reinterpret", raw, arena, null);
            assertEquals(40, one.byteSize());
            assertEquals(s.address(), one.address());
            MemorySegment three = (MemorySegment) call("point", "reinterpret", raw, 3L, arena, null);
            assertEquals(24, three.byteSize());
            boolean[] cleaned = {false};
            try (Arena inner = Arena.ofConfined()) {
                call("point", "reinterpret", raw, inner, (java.util.function.Consumer<MemorySegment>) x -> cleaned[0] = true);
            }
            assertTrue(cleaned[0], "cleanup runs when the arena closes");
        }
    }

    @Test
    void flexibleArrayAndStructElementSetters() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = (MemorySegment) call("thing", "allocate", 2L, arena);
            MemorySegment two = (MemorySegment) call("point", "allocateArray", 2L, arena);
            call("point", "x", call("point", "asSlice", two, 1L), 77);
            call("thing", "entries", s, two);
            assertEquals(77, s.get(ValueLayout.JAVA_INT_UNALIGNED, 48));
            MemorySegment p = (MemorySegment) call("point", "allocate", arena);
            call("point", "y", p, 5);
            call("thing", "pts", s, 1L, p);
            assertEquals(5, s.get(ValueLayout.JAVA_INT_UNALIGNED, 16 + 8 + 4));
            call("point", "y", p, 6);
            call("thing", "entries", s, 0L, p);
            assertEquals(6, s.get(ValueLayout.JAVA_INT_UNALIGNED, 40 + 4));
            assertThrows(InvocationTargetException.class, () -> call("thing", "pts", s, 2L, p));
        }
    }

    @Test
    void multiDimensionalArraysTakeOneIndexPerDimension() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment g = (MemorySegment) call("grid", "allocate", arena);
            assertArrayEquals(new long[] {2, 3}, (long[]) call("grid", "cells$dimensions"));
            call("grid", "cells", g, 1L, 2L, (byte) 7);
            assertEquals((byte) 7, g.get(ValueLayout.JAVA_BYTE, 5));
            assertEquals((byte) 7, call("grid", "cells", g, 1L, 2L));
            assertThrows(InvocationTargetException.class, () -> call("grid", "cells", g, 0L, 3L));
            assertThrows(InvocationTargetException.class, () -> call("grid", "cells", g, 2L, 0L));
            MemorySegment p = (MemorySegment) call("grid", "pts", g, 1L, 0L);
            assertEquals(8, p.byteSize());
            assertEquals(g.address() + 8 + 2 * 8, p.address());
            MemorySegment q = (MemorySegment) call("point", "allocate", arena);
            call("point", "x", q, 9);
            call("grid", "pts", g, 1L, 1L, q);
            assertEquals(9, g.get(ValueLayout.JAVA_INT_UNALIGNED, 8 + 3 * 8));
        }
    }

    @Test
    void typedefLayoutsAndStringMacros() throws Exception {
        Class<?> h = Class.forName("test.gen.t_h", true, loader);
        assertEquals(ValueLayout.JAVA_INT, h.getField("__u32").get(null));
        assertEquals(ValueLayout.ADDRESS, h.getField("ptr_t").get(null));
        MemorySegment str = (MemorySegment) call("t_h", "NAME_STRING");
        assertEquals("a\"b\\c", str.getString(0));
        assertEquals(6, str.byteSize());
        assertTrue(str.isReadOnly());
        assertSame(str, call("t_h", "NAME_STRING"), "allocated once");
        assertEquals(2, emitter.counts().typedefs);
        assertEquals(1, emitter.counts().strings);
    }

    @Test
    void outputIsDeterministic() {
        JavaEmitter again = new JavaEmitter(model(), "linux-source-6.12 test");
        assertEquals(sources, again.emit());
    }
}
