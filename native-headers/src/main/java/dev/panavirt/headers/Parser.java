package dev.panavirt.headers;

import dev.panavirt.headers.clang.Cursor;
import dev.panavirt.headers.clang.LibClang;
import dev.panavirt.headers.clang.TranslationUnit;
import dev.panavirt.headers.clang.Type;
import dev.panavirt.headers.model.BindingPackage;
import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Constant;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.Scalar;
import dev.panavirt.headers.model.StringConstant;
import dev.panavirt.headers.model.Typedef;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns the bound headers of one {@link Spec} into a {@link BindingPackage} with libclang:
 * records (and every record type their fields use, from any header), enum constants, and the
 * object-like macros of the bound headers evaluated through clang.
 */
final class Parser {

    /** Which C type kinds count as integers for macro values. */
    private static final Set<Integer> INTEGER_KINDS = Set.of(Type.BOOL, Type.CHAR_U, Type.UCHAR, Type.USHORT,
            Type.UINT, Type.ULONG, Type.ULONGLONG, Type.CHAR_S, Type.SCHAR, Type.SHORT, Type.INT, Type.LONG,
            Type.LONGLONG, Type.ENUM);
    private static final Set<Integer> UNSIGNED_KINDS = Set.of(Type.BOOL, Type.CHAR_U, Type.UCHAR, Type.USHORT,
            Type.UINT, Type.ULONG, Type.ULONGLONG);
    private static final String MACRO_PREFIX = "__pv_";

    private final LibClang clang;
    private final Spec spec;
    private final List<Path> includeRoots;
    private final List<String> args;
    private final Map<String, byte[]> fileCache = new HashMap<>();

    /** Every file the parse read (absolute), for the manifest. */
    final Set<String> filesRead = new TreeSet<>();

    private final Map<String, String> anonTypedefs = new HashMap<>();
    private final Map<String, Record> topLevel = new TreeMap<>();
    private final Map<String, Record> byTag = new HashMap<>();
    private final Map<Record, Integer> bitfieldCounters = new HashMap<>();
    private final Map<String, List<String>> skipped = BindingPackage.newSkipped();

    Parser(LibClang clang, Spec spec, List<Path> includeRoots, List<String> args) {
        this.clang = clang;
        this.spec = spec;
        this.includeRoots = includeRoots;
        this.args = args;
    }

    private String syntheticName(String suffix) {
        return "/panavirt-synthetic/" + spec.packageName() + suffix + ".c";
    }

    private String includes() {
        StringBuilder sb = new StringBuilder();
        for (String h : spec.headers()) sb.append("#include <").append(h).append(">\n");
        return sb.toString();
    }

    BindingPackage parse() {
        String main = syntheticName("");
        List<Constant> constants = new ArrayList<>();
        List<MacroDef> macros = new ArrayList<>();
        try (TranslationUnit tu = TranslationUnit.parse(clang, main, args, Map.of(main, includes()),
                TranslationUnit.DETAILED_PREPROCESSING_RECORD)) {
            List<String> errors = new ArrayList<>();
            for (TranslationUnit.Diagnostic d : tu.diagnostics()) {
                if (d.isError()) errors.add(d.text());
                else if (d.severity() == 2) System.err.println("warning: " + d.text());
            }
            if (!errors.isEmpty()) {
                throw new IllegalStateException("clang reported errors parsing " + spec.headers() + " for "
                        + spec.arch() + ":\n  " + String.join("\n  ", errors));
            }
            List<Cursor> top = tu.cursor().children();
            for (Cursor c : top) {
                if (c.kind() == Cursor.INCLUSION_DIRECTIVE) {
                    String f = c.includedFile();
                    if (!f.isEmpty()) filesRead.add(Path.of(f).toAbsolutePath().normalize().toString());
                } else if (c.kind() == Cursor.TYPEDEF_DECL) {
                    Type u = c.typedefUnderlyingType().canonical();
                    if (u.kind() == Type.RECORD && u.declaration().isAnonymous()) {
                        anonTypedefs.putIfAbsent(key(u.declaration()), c.spelling());
                    }
                    scalarTypedef(c);
                }
            }
            for (Cursor c : top) {
                String header = header(c);
                if (header == null || !spec.headers().contains(header)) continue;
                switch (c.kind()) {
                    case Cursor.MACRO_DEFINITION -> {
                        if (c.isMacroFunctionLike()) skip("function-like macros", c.spelling() + " (" + header + ")");
                        else {
                            String text = macroText(c);
                            if (text.substring(("#define " + c.spelling()).length()).isBlank()) {
                                skip("empty macros (include guards, feature flags)", c.spelling() + " (" + header + ")");
                            } else {
                                macros.add(new MacroDef(c.spelling(), header, c.location().line(), text));
                            }
                        }
                    }
                    case Cursor.STRUCT_DECL, Cursor.UNION_DECL -> {
                        if (!c.isAnonymous()) {
                            if (c.isDefinition()) topLevelRecord(c);
                            else if (c.type().sizeOf() < 0) {
                                skip("records declared but not defined", tagName(c) + " (" + header + ")");
                            }
                        }
                        findNamedNested(c);
                    }
                    case Cursor.ENUM_DECL -> enumConstants(c, header, constants);
                    case Cursor.TYPEDEF_DECL -> {
                        Type u = c.typedefUnderlyingType().canonical();
                        if (u.kind() == Type.RECORD && (u.declaration().isAnonymous()
                                || u.spelling().equals(c.spelling()))) {
                            // typedef struct { ... } name;: the typedef names the record (clang 16
                            // spells such a record by the typedef name), so the class carries it.
                            topLevelRecord(u.declaration());
                        } else if (!typedefs.containsKey(c.spelling())) {
                            skip("typedefs", c.spelling() + " = " + c.typedefUnderlyingType().spelling()
                                    + " (" + header + ")");
                        }
                    }
                    case Cursor.FUNCTION_DECL -> skip("functions", c.spelling() + " (" + header + ")");
                    case Cursor.VAR_DECL -> skip("variables", c.spelling() + " (" + header + ")");
                    default -> {
                    }
                }
            }
        }
        // Macros: evaluated by clang in a second translation unit.
        constants.addAll(evaluateMacros(macros));
        List<Constant> ordered = orderConstants(constants);
        List<StringConstant> orderedStrings = new ArrayList<>(strings);
        orderedStrings.sort(Comparator.comparingInt((StringConstant c) -> spec.headers().indexOf(c.header()))
                .thenComparingInt(c -> positions.getOrDefault(c.name(), 0))
                .thenComparing(StringConstant::name));
        checkHeaderClassNames(ordered, orderedStrings);
        for (List<String> l : skipped.values()) l.sort(Comparator.naturalOrder());
        return new BindingPackage(spec.packageName(), spec.headerClass(), spec.headers(), spec.arch(),
                List.copyOf(topLevel.values()), ordered, List.copyOf(typedefs.values()), List.copyOf(orderedStrings),
                skipped);
    }

    /** Names the generated header class holds besides the typedef layouts. */
    private static final Set<String> HEADER_CLASS_FIELDS = Set.of("C_BOOL", "C_CHAR", "C_SHORT", "C_INT",
            "C_LONG_LONG", "C_FLOAT", "C_DOUBLE", "C_POINTER", "C_LONG", "LIBRARY_ARENA");

    /** Constants, strings and typedefs share the header class: a clash would not compile, so it stops here. */
    private void checkHeaderClassNames(List<Constant> constants, List<StringConstant> strings) {
        Set<String> seen = new java.util.HashSet<>(HEADER_CLASS_FIELDS);
        List<String> names = new ArrayList<>(typedefs.keySet());
        constants.forEach(c -> names.add(c.name()));
        strings.forEach(c -> names.add(c.name()));
        for (String n : names) {
            if (!seen.add(n)) {
                throw new IllegalStateException(spec.headerClass() + ": two members named " + n
                        + " (a typedef, constant or string macro clashes with another or with a C_* layout)");
            }
        }
    }

    // ------------------------------------------------------------------ typedefs

    /** Scalar and pointer typedefs by name, in declaration order (jextract's header-class layouts). */
    private final Map<String, Typedef> typedefs = new LinkedHashMap<>();

    /**
     * Records a typedef of a scalar or data pointer declared in any header of the tree, as jextract
     * emits it; function pointers (jextract makes functional interfaces of them), enums, 128-bit
     * integers, arrays and records are not layouts of the header class. Typedefs from outside the
     * header tree (clang's own stdint.h) are left out.
     */
    private void scalarTypedef(Cursor c) {
        String header = header(c);
        String name = c.spelling();
        if (header == null || typedefs.containsKey(name)) return;
        Type u = c.typedefUnderlyingType();
        Scalar s = scalarOf(u.canonical());
        if (s == null) return;
        if (Names.isReserved(name)) {
            skip("typedefs named like Java keywords", name + " (" + header + ")");
            return;
        }
        long align = c.type().alignOf();
        long size = c.type().sizeOf();
        if (size != s.size || align != s.size) {
            skip("typedefs whose size or alignment differs from their scalar's", name + " (" + header + ": size "
                    + size + ", alignment " + align + ")");
            return;
        }
        typedefs.put(name, new Typedef(name, s, header, "typedef " + u.spelling() + " " + name));
    }

    /** The scalar of a canonical type, or null (records, arrays, enums, 128-bit, function pointers). */
    private static Scalar scalarOf(Type c) {
        return switch (c.kind()) {
            case Type.BOOL -> Scalar.BOOL;
            case Type.CHAR_U, Type.UCHAR, Type.CHAR_S, Type.SCHAR -> Scalar.CHAR;
            case Type.USHORT, Type.SHORT -> Scalar.SHORT;
            case Type.UINT, Type.INT -> Scalar.INT;
            case Type.ULONG, Type.LONG -> Scalar.LONG;
            case Type.ULONGLONG, Type.LONGLONG -> Scalar.LONG_LONG;
            case Type.FLOAT -> Scalar.FLOAT;
            case Type.DOUBLE -> Scalar.DOUBLE;
            case Type.POINTER -> {
                int p = c.pointee().canonical().kind();
                yield p == Type.FUNCTION_PROTO || p == Type.FUNCTION_NO_PROTO ? null : Scalar.POINTER;
            }
            default -> null;
        };
    }

    private record MacroDef(String name, String header, int line, String text) {
    }

    // ------------------------------------------------------------------ locations

    /** Include-relative name of the file a cursor is in, or null if outside the include roots. */
    private String header(Cursor c) {
        return relative(c.location().file());
    }

    private String relative(String file) {
        if (file.isEmpty()) return null;
        Path p = Path.of(file).toAbsolutePath().normalize();
        for (Path root : includeRoots) {
            if (p.startsWith(root)) return root.relativize(p).toString();
        }
        return null;
    }

    private static String key(Cursor decl) {
        Cursor.SourcePos p = decl.location();
        return p.file() + ":" + p.offset() + ":" + decl.kind();
    }

    private byte[] file(String name) {
        return fileCache.computeIfAbsent(name, n -> {
            try {
                return Files.readAllBytes(Path.of(n));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** The macro's definition as written: name and replacement list. */
    private String macroText(Cursor c) {
        Cursor.SourcePos[] ext = c.extent();
        if (!ext[0].file().equals(ext[1].file()) || ext[1].offset() < ext[0].offset()) {
            throw new IllegalStateException("macro " + c.spelling() + " has an odd extent " + ext[0] + " - " + ext[1]);
        }
        byte[] bytes = file(ext[0].file());
        int end = Math.min(bytes.length, ext[1].offset());
        return "#define " + new String(bytes, ext[0].offset(), end - ext[0].offset(), StandardCharsets.UTF_8);
    }

    private void skip(String category, String entry) {
        BindingPackage.skip(skipped, category, entry);
    }

    // ------------------------------------------------------------------ records

    private static String tagName(Cursor decl) {
        return (decl.kind() == Cursor.UNION_DECL ? "union " : "struct ") + decl.spelling();
    }

    /** Named record definitions nested in a record are file-scope in C: they get classes too. */
    private void findNamedNested(Cursor decl) {
        for (Cursor k : decl.children()) {
            if (k.kind() == Cursor.STRUCT_DECL || k.kind() == Cursor.UNION_DECL) {
                if (!k.isAnonymous() && k.isDefinition()) topLevelRecord(k);
                findNamedNested(k);
            } else if (k.kind() == Cursor.ENUM_DECL) {
                String header = header(k);
                if (header != null && spec.headers().contains(header)) {
                    throw new IllegalStateException("enum declared inside a record is not supported: " + k);
                }
            }
        }
    }

    /** The class of a named (or typedef-named anonymous) record, built on first use. */
    private Record topLevelRecord(Cursor decl) {
        String cName;
        String javaName;
        if (decl.isAnonymous()) {
            String td = anonTypedefs.get(key(decl));
            if (td == null) throw new IllegalStateException("anonymous top-level record without typedef: " + decl);
            cName = td;
            javaName = Names.typeName(td);
        } else {
            // "struct kvm_regs", "union x", or for typedef struct { ... } name; just "name".
            cName = decl.type().canonical().spelling();
            javaName = Names.typeName(cName.replaceFirst("^(struct|union) ", ""));
        }
        Record existing = byTag.get(cName);
        if (existing != null) return existing;
        if (topLevel.containsKey(javaName)) {
            throw new IllegalStateException("two records map to class " + javaName + ": " + cName + " and "
                    + topLevel.get(javaName).cName());
        }
        String header = header(decl);
        if (header == null) throw new IllegalStateException("record outside the include roots: " + decl);
        Type t = decl.type();
        Record r = new Record(javaName, cName, header, decl.kind() == Cursor.UNION_DECL, t.sizeOf(), t.alignOf());
        byTag.put(cName, r);
        topLevel.put(javaName, r);
        fill(r, decl, r);
        return r;
    }

    /** Raw bitfield before grouping. */
    private record RawBit(String name, long bitOffset, long width, String cDecl, boolean zeroWidth) {
    }

    /**
     * Fills {@code r}'s members from {@code decl}'s children; nested classes go to {@code cls}, the
     * class on which {@code r}'s members are exposed.
     */
    private void fill(Record r, Cursor decl, Record cls) {
        if (r.size() < 0 || r.align() < 0) throw new IllegalStateException("incomplete record " + decl);
        Type recType = decl.type();
        List<Member> members = new ArrayList<>();
        List<List<RawBit>> runs = new ArrayList<>();
        List<Integer> runPositions = new ArrayList<>();
        List<RawBit> run = null;
        for (Cursor k : decl.children()) {
            int kind = k.kind();
            if ((kind == Cursor.STRUCT_DECL || kind == Cursor.UNION_DECL) && k.isAnonymousRecordDecl()) {
                run = null;
                Type at = k.type();
                Record anon = new Record(null, (kind == Cursor.UNION_DECL ? "union" : "struct") + " (anonymous in "
                        + r.cName() + ")", r.header(), kind == Cursor.UNION_DECL, at.sizeOf(), at.alignOf());
                fill(anon, k, cls);
                long offset = anonymousOffset(recType, anon);
                members.add(new Member.AnonymousMember(anon, offset));
            } else if (kind == Cursor.FIELD_DECL) {
                if (k.isBitField()) {
                    int width = k.bitWidth();
                    String name = k.spelling();
                    if (width == 0) {
                        run = null;
                        continue;
                    }
                    if (run == null) {
                        run = new ArrayList<>();
                        runs.add(run);
                        runPositions.add(members.size());
                        members.add(null); // placeholder, replaced below
                    }
                    run.add(new RawBit(name, k.offsetOfFieldBits(), width,
                            k.type().spelling() + (name.isEmpty() ? "" : " " + name) + " : " + width, false));
                } else {
                    run = null;
                    members.add(field(k, cls));
                }
            }
        }
        // Bitfield runs become storage units that must not reach into the next member.
        for (int i = 0; i < runs.size(); i++) {
            List<RawBit> bits = runs.get(i);
            long startBit = Long.MAX_VALUE;
            long endBit = 0;
            for (RawBit b : bits) {
                startBit = Math.min(startBit, b.bitOffset());
                endBit = Math.max(endBit, b.bitOffset() + b.width());
            }
            long start = startBit / 8;
            long end = (endBit + 7) / 8;
            long limit = r.size();
            if (!r.isUnion()) {
                for (Member m : members) {
                    if (m != null && m.offset() >= end) limit = Math.min(limit, m.offset());
                }
                for (int j = 0; j < runs.size(); j++) {
                    if (j == i) continue;
                    long s = runs.get(j).stream().mapToLong(RawBit::bitOffset).min().orElseThrow() / 8;
                    if (s >= end) limit = Math.min(limit, s);
                }
            }
            long len = end - start;
            CType unit = null;
            for (long size : new long[] {1, 2, 4, 8}) {
                if (size >= len && start + size <= limit) {
                    unit = new CType.ScalarType(Scalar.integerOfSize(size));
                    break;
                }
            }
            if (unit == null) unit = new CType.ArrayType(new CType.ScalarType(Scalar.CHAR), len);
            List<Member.Bit> out = new ArrayList<>();
            for (RawBit b : bits) out.add(new Member.Bit(b.name(), b.bitOffset() - start * 8, b.width(), b.cDecl()));
            int n = bitfieldCounters.merge(cls, 1, Integer::sum) - 1;
            members.set(runPositions.get(i), new Member.BitfieldUnit("bitfield" + n, start, unit, out));
        }
        if (!r.isUnion()) members.sort(Comparator.comparingLong(Member::offset));
        r.members().addAll(members);
    }

    /** Offset in bytes of an anonymous member: clang knows its fields' offsets in the parent. */
    private long anonymousOffset(Type parent, Record anon) {
        Object[] probe = firstNamed(anon, 0);
        if (probe == null) throw new IllegalStateException("anonymous member without named fields in " + parent);
        long abs = parent.offsetOfBits((String) probe[0]);
        if (abs < 0) throw new IllegalStateException("clang_Type_getOffsetOf(" + parent + ", " + probe[0] + ") = " + abs);
        long rel = (Long) probe[1];
        long bits = abs - rel;
        if (bits % 8 != 0) throw new IllegalStateException("anonymous member at bit offset " + bits);
        return bits / 8;
    }

    /** The first named field of a record (through anonymous members): {name, bit offset in record}. */
    private static Object[] firstNamed(Record r, long baseBits) {
        for (Member m : r.members()) {
            switch (m) {
                case Member.Field f -> {
                    return new Object[] {f.cName(), baseBits + f.offset() * 8};
                }
                case Member.FlexibleArray f -> {
                    return new Object[] {f.cName(), baseBits + f.offset() * 8};
                }
                case Member.BitfieldUnit b -> {
                    for (Member.Bit bit : b.bits()) {
                        if (!bit.name().isEmpty()) {
                            return new Object[] {bit.name(), baseBits + b.offset() * 8 + bit.bitOffset()};
                        }
                    }
                }
                case Member.AnonymousMember a -> {
                    Object[] p = firstNamed(a.record(), baseBits + a.offset() * 8);
                    if (p != null) return p;
                }
            }
        }
        return null;
    }

    private Member field(Cursor k, Record cls) {
        String name = k.spelling();
        long bits = k.offsetOfFieldBits();
        if (bits < 0 || bits % 8 != 0) throw new IllegalStateException("field " + name + " at bit offset " + bits);
        long offset = bits / 8;
        Type t = k.type();
        Type c = t.canonical();
        String javaName = Names.memberName(name);
        String cDecl = declaration(t, name);
        if (c.kind() == Type.INCOMPLETE_ARRAY || (c.kind() == Type.CONSTANT_ARRAY && c.arraySize() == 0)) {
            return new Member.FlexibleArray(name, javaName, offset, type(c.arrayElementType(), name, cls), cDecl);
        }
        return new Member.Field(name, javaName, offset, type(t, name, cls), cDecl);
    }

    /** {@code __u8 pad[16]} from type {@code __u8[16]} and name {@code pad}; anonymous records shortened. */
    private static String declaration(Type t, String name) {
        String s = t.spelling().replaceAll("(struct|union) \\((unnamed|anonymous) (struct |union )?at [^)]*\\)",
                "$1 {...}");
        int bracket = s.indexOf('[');
        if (bracket >= 0) return s.substring(0, bracket).trim() + " " + name + s.substring(bracket);
        return s + " " + name;
    }

    private CType type(Type t, String fieldName, Record cls) {
        Type c = t.canonical();
        return switch (c.kind()) {
            case Type.BOOL -> new CType.ScalarType(Scalar.BOOL);
            case Type.CHAR_U, Type.UCHAR, Type.CHAR_S, Type.SCHAR -> new CType.ScalarType(Scalar.CHAR);
            case Type.USHORT, Type.SHORT -> new CType.ScalarType(Scalar.SHORT);
            case Type.UINT, Type.INT -> new CType.ScalarType(Scalar.INT);
            case Type.ULONG, Type.LONG -> new CType.ScalarType(Scalar.LONG);
            case Type.ULONGLONG, Type.LONGLONG -> new CType.ScalarType(Scalar.LONG_LONG);
            case Type.FLOAT -> new CType.ScalarType(Scalar.FLOAT);
            case Type.DOUBLE -> new CType.ScalarType(Scalar.DOUBLE);
            case Type.INT128, Type.UINT128 -> new CType.Int128Type(c.kind() == Type.UINT128);
            case Type.POINTER -> new CType.ScalarType(Scalar.POINTER);
            case Type.ENUM -> new CType.ScalarType(Scalar.integerOfSize(c.sizeOf()));
            case Type.RECORD -> {
                Cursor decl = c.declaration();
                if (!decl.isAnonymous() || anonTypedefs.containsKey(key(decl))) {
                    yield new CType.RecordType(topLevelRecord(decl));
                }
                String javaName = Names.nestedName(fieldName, cls);
                String what = decl.kind() == Cursor.UNION_DECL ? "union" : "struct";
                Record n = new Record(javaName, what + " {...} " + fieldName + " in " + cls.cName(), cls.header(),
                        decl.kind() == Cursor.UNION_DECL, c.sizeOf(), c.alignOf());
                cls.addNested(n);
                fill(n, decl, n);
                yield new CType.RecordType(n);
            }
            case Type.CONSTANT_ARRAY -> new CType.ArrayType(type(c.arrayElementType(), fieldName, cls), c.arraySize());
            default -> throw new IllegalStateException("unsupported type " + t + " (canonical " + c + ") of field "
                    + fieldName + " in " + cls.cName());
        };
    }

    // ------------------------------------------------------------------ constants

    private void enumConstants(Cursor e, String header, List<Constant> out) {
        Type it = e.enumIntegerType().canonical();
        int bytes = (int) it.sizeOf();
        boolean unsigned = UNSIGNED_KINDS.contains(it.kind());
        String tag = e.isAnonymous() ? "enum" : "enum " + e.spelling();
        for (Cursor k : e.children()) {
            if (k.kind() != Cursor.ENUM_CONSTANT_DECL) continue;
            long v = unsigned ? k.enumConstantUnsignedValue() : k.enumConstantValue();
            out.add(new Constant(k.spelling(), bytes, normalize(v, bytes, unsigned), header,
                    k.spelling() + " (" + tag + ")"));
            positions.put(k.spelling(), k.location().line());
        }
    }

    private final Map<String, Integer> positions = new HashMap<>();
    /** String-literal macros, found by {@link #evaluateMacros}. */
    private final List<StringConstant> strings = new ArrayList<>();

    /** The value as the C type of width {@code bytes} holds it, widened to long. */
    static long normalize(long v, int bytes, boolean unsigned) {
        if (bytes >= 8) return v;
        int shift = 64 - bytes * 8;
        return unsigned ? (v << shift) >>> shift : (v << shift) >> shift;
    }

    /**
     * jextract's approach: every object-like macro becomes {@code __auto_type __pv_NAME = (NAME);}
     * in a synthetic file that includes the headers; declarations that do not compile are dropped
     * (and the file re-parsed) until clang is happy, then each initializer is evaluated.
     */
    private List<Constant> evaluateMacros(List<MacroDef> macros) {
        Map<String, MacroDef> live = new LinkedHashMap<>();
        for (MacroDef m : macros) live.putIfAbsent(m.name(), m);
        String file = syntheticName("-macros");
        for (int round = 0; ; round++) {
            if (round > 20) throw new IllegalStateException("macro evaluation does not converge");
            StringBuilder src = new StringBuilder(includes());
            int firstLine = spec.headers().size() + 1;
            List<String> byLine = new ArrayList<>(live.keySet());
            for (String name : byLine) {
                src.append("__auto_type ").append(MACRO_PREFIX).append(name).append(" = (").append(name).append(");\n");
            }
            try (TranslationUnit tu = TranslationUnit.parse(clang, file, args, Map.of(file, src.toString()), 0)) {
                Set<String> failed = new LinkedHashSet<>();
                boolean otherErrors = false;
                for (TranslationUnit.Diagnostic d : tu.diagnostics()) {
                    if (!d.isError()) continue;
                    int idx = d.where().line() - firstLine;
                    if (d.where().file().equals(file) && idx >= 0 && idx < byLine.size()) {
                        failed.add(byLine.get(idx));
                    } else {
                        otherErrors = true;
                        System.err.println("macro TU: " + d.text());
                    }
                }
                if (otherErrors && failed.isEmpty()) {
                    throw new IllegalStateException("errors outside the macro declarations; see above");
                }
                if (!failed.isEmpty()) {
                    for (String n : failed) {
                        MacroDef m = live.remove(n);
                        skip("macros that are not integer constant expressions",
                                n + " (" + m.header() + ": does not compile as an expression)");
                    }
                    continue;
                }
                List<Constant> out = new ArrayList<>();
                List<MacroDef> stringCandidates = new ArrayList<>();
                for (Cursor c : tu.cursor().children()) {
                    if (c.kind() != Cursor.VAR_DECL || !c.spelling().startsWith(MACRO_PREFIX)) continue;
                    if (!c.location().file().equals(file)) continue;
                    String name = c.spelling().substring(MACRO_PREFIX.length());
                    MacroDef m = live.get(name);
                    Type t = c.type().canonical();
                    long size = t.sizeOf();
                    Cursor.Eval ev = c.evaluate();
                    if (t.kind() == Type.POINTER && CHAR_KINDS.contains(t.pointee().canonical().kind())
                            && (ev == null || ev.kind() != Cursor.Eval.INT)) {
                        stringCandidates.add(m);
                        continue;
                    }
                    if (!INTEGER_KINDS.contains(t.kind()) || ev == null || ev.kind() != Cursor.Eval.INT
                            || !(size == 1 || size == 2 || size == 4 || size == 8)) {
                        skip("macros that are not integer constant expressions",
                                name + " (" + m.header() + ": " + t.spelling() + ")");
                        continue;
                    }
                    boolean unsigned = UNSIGNED_KINDS.contains(t.kind())
                            || (t.kind() == Type.ENUM && ev.unsigned());
                    out.add(new Constant(name, (int) size, normalize(ev.value(), (int) size, unsigned), m.header(),
                            m.text()));
                    positions.put(name, m.line());
                }
                evaluateStrings(stringCandidates);
                return out;
            }
        }
    }

    private static final Set<Integer> CHAR_KINDS = Set.of(Type.CHAR_U, Type.UCHAR, Type.CHAR_S, Type.SCHAR);

    /**
     * Macros whose value is a {@code char *}: evaluated again exactly as jextract writes them,
     * {@code __auto_type __pv_NAME = NAME;}, because libclang reports a string literal only when it
     * is not wrapped in parentheses. Each becomes a {@link StringConstant} if it is one.
     */
    private void evaluateStrings(List<MacroDef> candidates) {
        if (candidates.isEmpty()) return;
        String file = syntheticName("-strings");
        StringBuilder src = new StringBuilder(includes());
        for (MacroDef m : candidates) {
            src.append("__auto_type ").append(MACRO_PREFIX).append(m.name()).append(" = ").append(m.name()).append(";\n");
        }
        Map<String, MacroDef> byName = new LinkedHashMap<>();
        candidates.forEach(m -> byName.put(m.name(), m));
        try (TranslationUnit tu = TranslationUnit.parse(clang, file, args, Map.of(file, src.toString()), 0)) {
            List<String> errors = new ArrayList<>();
            for (TranslationUnit.Diagnostic d : tu.diagnostics()) {
                if (d.isError()) errors.add(d.text());
            }
            if (!errors.isEmpty()) {
                throw new IllegalStateException("string macros that compiled in parentheses do not compile without: "
                        + String.join("; ", errors));
            }
            for (Cursor c : tu.cursor().children()) {
                if (c.kind() != Cursor.VAR_DECL || !c.spelling().startsWith(MACRO_PREFIX)) continue;
                if (!c.location().file().equals(file)) continue;
                MacroDef m = byName.remove(c.spelling().substring(MACRO_PREFIX.length()));
                Cursor.Eval ev = c.evaluate();
                if (ev == null || ev.kind() != Cursor.Eval.STR_LITERAL || ev.string() == null) {
                    skip("macros that are not integer constant expressions",
                            m.name() + " (" + m.header() + ": " + c.type().spelling() + ", not a string literal)");
                } else if (!ev.string().chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f)) {
                    skip("string macros with bytes other than printable ASCII", m.name() + " (" + m.header() + ")");
                } else {
                    strings.add(new StringConstant(m.name(), ev.string(), m.header(), m.text()));
                    positions.put(m.name(), m.line());
                }
            }
        }
        if (!byName.isEmpty()) throw new IllegalStateException("string macros not found again: " + byName.keySet());
    }

    /** Header order, then line; an enum constant and a same-named macro collapse into one. */
    private List<Constant> orderConstants(List<Constant> all) {
        List<Constant> sorted = new ArrayList<>(all);
        sorted.sort(Comparator.comparingInt((Constant c) -> spec.headers().indexOf(c.header()))
                .thenComparingInt(c -> positions.getOrDefault(c.name(), 0))
                .thenComparing(Constant::name));
        Map<String, Constant> seen = new LinkedHashMap<>();
        for (Constant c : sorted) {
            if (Names.isReserved(c.name())) {
                skip("constants named like Java keywords", c.name());
                continue;
            }
            Constant prev = seen.get(c.name());
            if (prev == null) {
                seen.put(c.name(), c);
            } else if (prev.value() != c.value() || prev.bytes() != c.bytes()) {
                throw new IllegalStateException("constant " + c.name() + " has two values: " + prev + " / " + c);
            }
        }
        return List.copyOf(seen.values());
    }
}
