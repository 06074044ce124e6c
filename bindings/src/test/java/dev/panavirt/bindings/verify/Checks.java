package dev.panavirt.bindings.verify;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Walks generated bindings and states, for each fact the Java side claims, the C expression that
 * must have the same value: sizes, alignments and offsets of every record and member path,
 * the {@code x$offset()} methods, the value and width of every constant, the size and alignment of
 * every typedef layout of the header class, and the size and bytes of every string macro. Unnamed groups in a
 * layout are anonymous members and are transparent (their members are reached by name in C);
 * named groups and arrays of records extend the member path ({@code io.port}, {@code entries[0].index}).
 */
final class Checks {

    /** {@code C expression} (as unsigned long long) masked with {@code mask} must equal {@code expected}. */
    record Check(String what, String cExpr, long expected, long mask) {
        boolean matches(long c) {
            return (c & mask) == (expected & mask);
        }
    }

    /** The bytes a C bitfield occupies must lie in [unitStart, unitEnd). */
    record BitfieldCheck(String what, String cType, String cPath, String cBase, long unitStart, long unitEnd) {
    }

    private static final Pattern UNIT = Pattern.compile("bitfield\\d+");
    private static final Set<String> KEYWORDS = Set.of("abstract", "assert", "boolean", "break", "byte", "case",
            "catch", "char", "class", "const", "continue", "default", "do", "double", "else", "enum", "extends",
            "final", "finally", "float", "for", "goto", "if", "implements", "import", "instanceof", "int",
            "interface", "long", "native", "new", "package", "private", "protected", "public", "return", "short",
            "static", "strictfp", "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try",
            "void", "volatile", "while", "true", "false", "null", "_");

    final List<Check> checks = new ArrayList<>();
    final List<BitfieldCheck> bitfieldChecks = new ArrayList<>();
    int structs;
    int fields;
    int constants;
    int typedefs;
    int strings;

    /** Adds every check of a package. */
    void add(Bindings b) {
        for (Bindings.RecordClass r : b.records) addRecord(r);
        for (Bindings.Constant c : b.constants) {
            constants++;
            long mask = c.bytes() == 8 ? -1L : (1L << (8 * c.bytes())) - 1;
            checks.add(new Check(b.headerClass.getSimpleName() + "." + c.name() + "()",
                    "(unsigned long long)(" + c.name() + ")", c.value(), mask));
            checks.add(new Check("width of " + c.name() + " (Java " + c.javaType() + ")",
                    "sizeof(" + c.name() + ")", c.bytes(), -1L));
        }
        String h = b.headerClass.getSimpleName();
        for (Bindings.Typedef t : b.typedefs) {
            typedefs++;
            checks.add(new Check("size of " + h + "." + t.name(), "sizeof(" + t.name() + ")", t.layout().byteSize(), -1L));
            checks.add(new Check("alignment of " + h + "." + t.name(), "__alignof__(" + t.name() + ")",
                    t.layout().byteAlignment(), -1L));
        }
        // String macros: the segment's size is sizeof the literal (NUL included), and every byte matches.
        for (Bindings.StringMacro s : b.strings) {
            strings++;
            checks.add(new Check("size of " + h + "." + s.name() + "()", "sizeof(" + s.name() + ")", s.bytes().length, -1L));
            for (int i = 0; i < s.bytes().length; i++) {
                checks.add(new Check("byte " + i + " of " + h + "." + s.name() + "()", "(" + s.name() + ")[" + i + "]",
                        s.bytes()[i], 0xffL));
            }
        }
    }

    private static String member(String cType, String path) {
        return "((" + cType + " *)0)->" + path;
    }

    private void addRecord(Bindings.RecordClass r) {
        structs++;
        String name = r.type().getName().substring(r.type().getPackageName().length() + 1);
        String t = r.cType();
        GroupLayout layout = r.layout();
        String base = r.cPath().isEmpty() ? "0" : "offsetof(" + t + ", " + r.cPath() + ")";
        String self = r.cPath().isEmpty() ? t : "__typeof__(" + member(t, r.cPath()) + ")";
        checks.add(new Check("sizeof " + name, "sizeof(" + self + ")", layout.byteSize(), -1L));
        checks.add(new Check("alignment of " + name, "__alignof__(" + self + ")", layout.byteAlignment(), -1L));
        try {
            long sizeof = (long) r.type().getMethod("sizeof").invoke(null);
            checks.add(new Check(name + ".sizeof()", "sizeof(" + self + ")", sizeof, -1L));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        walk(name, t, r.cPrefix(), base, layout, 0);
        // The x$offset() accessors, which are literals in the generated code.
        for (Method m : r.type().getDeclaredMethods()) {
            String n = m.getName();
            if (!n.endsWith("$offset") || m.getParameterCount() != 0 || !Modifier.isStatic(m.getModifiers())) continue;
            String javaName = n.substring(0, n.length() - "$offset".length());
            if (UNIT.matcher(javaName).matches()) continue;
            String cName = javaName.endsWith("_") && KEYWORDS.contains(javaName.substring(0, javaName.length() - 1))
                    ? javaName.substring(0, javaName.length() - 1) : javaName;
            try {
                long off = (long) m.invoke(null);
                fields++;
                checks.add(new Check(name + "." + n + "()",
                        "(offsetof(" + t + ", " + r.cPrefix() + cName + ") - " + base + ")", off, -1L));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        for (Bindings.Bitfield bf : Bindings.bitfields(r.type())) {
            try {
                long off = (long) r.type().getMethod(bf.unit() + "$offset").invoke(null);
                MemoryLayout ul = (MemoryLayout) r.type().getMethod(bf.unit() + "$layout").invoke(null);
                bitfieldChecks.add(new BitfieldCheck(name + "." + bf.unit() + " holds " + bf.cPath(), t, bf.cPath(),
                        base, off, off + ul.byteSize()));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(name + " " + bf, e);
            }
        }
    }

    /** Members of {@code g} (at {@code offset} from the class's record), C path prefix {@code prefix}. */
    private void walk(String cls, String t, String prefix, String base, GroupLayout g, long offset) {
        long pos = 0;
        boolean union = g instanceof java.lang.foreign.UnionLayout;
        for (MemoryLayout m : g.memberLayouts()) {
            long at = offset + (union ? 0 : pos);
            if (!union) pos += m.byteSize();
            if (m instanceof PaddingLayout) continue;
            if (m.name().isEmpty()) {
                if (!(m instanceof GroupLayout inner)) throw new IllegalStateException(cls + ": unnamed non-group " + m);
                walk(cls, t, prefix, base, inner, at);
                continue;
            }
            String name = m.name().get();
            if (UNIT.matcher(name).matches()) continue; // storage units are checked bit by bit
            String path = prefix + name;
            fields++;
            checks.add(new Check(cls + " offset of " + path, "(offsetof(" + t + ", " + path + ") - " + base + ")", at, -1L));
            if (m instanceof SequenceLayout s && s.elementCount() == 0) {
                checks.add(new Check(cls + " element size of flexible " + path, "sizeof(" + member(t, path + "[0]") + ")",
                        s.elementLayout().byteSize(), -1L));
            } else {
                checks.add(new Check(cls + " size of " + path, "sizeof(" + member(t, path) + ")", m.byteSize(), -1L));
            }
            MemoryLayout e = m;
            String ePath = path;
            while (e instanceof SequenceLayout s) {
                e = s.elementLayout();
                ePath += "[0]";
            }
            if (e instanceof GroupLayout inner) walk(cls, t, ePath + ".", base, inner, at);
        }
    }

    /** The C source of a program printing "index value" for every check and bitfield check. */
    String program(List<String> includes) {
        StringBuilder sb = new StringBuilder();
        sb.append("#include <stddef.h>\n#include <stdio.h>\n#include <string.h>\n");
        for (String i : includes) sb.append("#include <").append(i).append(">\n");
        sb.append("static void pr(int id, unsigned long long v) { printf(\"%d %llu\\n\", id, v); }\n");
        sb.append("static void bf(int id, const unsigned char *p, size_t n, size_t base) {\n");
        sb.append("  long lo = -1, hi = -1;\n  for (size_t i = 0; i < n; i++) if (p[i]) { if (lo < 0) lo = (long) i; hi = (long) i; }\n");
        sb.append("  printf(\"b%d %ld %ld\\n\", id, lo - (long) base, hi - (long) base);\n}\n");
        sb.append("int main(void) {\n");
        for (int i = 0; i < checks.size(); i++) {
            sb.append("  pr(").append(i).append(", (unsigned long long)(").append(checks.get(i).cExpr()).append("));\n");
        }
        for (int i = 0; i < bitfieldChecks.size(); i++) {
            BitfieldCheck b = bitfieldChecks.get(i);
            sb.append("  { static ").append(b.cType()).append(" s; memset(&s, 0, sizeof s); s.").append(b.cPath())
                    .append(" = ~s.").append(b.cPath()).append("; bf(").append(i)
                    .append(", (const unsigned char *) &s, sizeof s, ").append(b.cBase()).append("); }\n");
        }
        sb.append("  return 0;\n}\n");
        return sb.toString();
    }

    /** The same checks as {@code _Static_assert}s named "c<index>" (bitfields cannot be checked this way). */
    String staticAsserts(List<String> includes) {
        StringBuilder sb = new StringBuilder();
        sb.append("#include <stddef.h>\n");
        for (String i : includes) sb.append("#include <").append(i).append(">\n");
        for (int i = 0; i < checks.size(); i++) {
            Check c = checks.get(i);
            sb.append("_Static_assert(((unsigned long long)(").append(c.cExpr()).append(") & ")
                    .append(Long.toUnsignedString(c.mask())).append("ULL) == ")
                    .append(Long.toUnsignedString(c.expected() & c.mask())).append("ULL, \"c").append(i).append("\");\n");
        }
        return sb.toString();
    }
}
