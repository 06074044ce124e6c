package dev.panavirt.bindings.verify;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Finds every generated class of a bindings package by scanning the compiled classes (directory or
 * jar) and pairs each record class with the C spelling recorded by the generator in
 * {@code generated-index.tsv}. Coverage does not depend on the index: a class missing from it is
 * an error.
 */
final class Bindings {

    /** A generated record class (top level or nested) and how C names its type. */
    record RecordClass(Class<?> type, String cType, String cPrefix) {
        GroupLayout layout() {
            try {
                return (GroupLayout) type.getMethod("layout").invoke(null);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(type.getName(), e);
            }
        }

        /** C member path of this class's record inside {@code cType}, without the trailing '.'; "" for top level. */
        String cPath() {
            return cPrefix.isEmpty() ? "" : cPrefix.substring(0, cPrefix.length() - 1);
        }
    }

    /** A bitfield of a storage unit: the unit's accessor name and the C member path. */
    record Bitfield(String unit, String cPath) {
    }

    /** One constant of a header class. */
    record Constant(String name, Class<?> javaType, long value) {
        int bytes() {
            if (javaType == long.class) return 8;
            if (javaType == int.class) return 4;
            if (javaType == short.class) return 2;
            return 1;
        }
    }

    /** A typedef layout of a header class ({@code kvm_h.__u32}): the C typedef name and its layout. */
    record Typedef(String name, MemoryLayout layout) {
    }

    /** A string macro of a header class: its name and the bytes of the segment, NUL included. */
    record StringMacro(String name, byte[] bytes) {
    }

    /** The header class's own layouts, which are not C names. */
    private static final java.util.Set<String> C_LAYOUTS = java.util.Set.of("C_BOOL", "C_CHAR", "C_SHORT", "C_INT",
            "C_LONG", "C_LONG_LONG", "C_FLOAT", "C_DOUBLE", "C_POINTER");

    private static final Map<String, String[]> INDEX_CLASSES = new HashMap<>();
    private static final Map<String, List<Bitfield>> INDEX_BITFIELDS = new HashMap<>();

    static {
        try (InputStream in = Bindings.class.getResourceAsStream("/dev/panavirt/bindings/generated-index.tsv")) {
            Objects.requireNonNull(in, "generated-index.tsv missing from the test resources; run native-headers/regen.sh");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                String[] w = line.split("\t", -1);
                switch (w[0]) {
                    case "class" -> INDEX_CLASSES.put(w[1], new String[] {w[2], w[3]});
                    case "bitfield" -> INDEX_BITFIELDS.computeIfAbsent(w[1], k -> new ArrayList<>())
                            .add(new Bitfield(w[2], w[3]));
                    default -> throw new IllegalStateException("bad index line " + line);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    final String packageName;
    final Class<?> headerClass;
    final List<RecordClass> records = new ArrayList<>();
    final List<Constant> constants = new ArrayList<>();
    final List<Typedef> typedefs = new ArrayList<>();
    final List<StringMacro> strings = new ArrayList<>();

    Bindings(String packageName) {
        this.packageName = packageName;
        Class<?> header = null;
        for (String name : classNames(packageName)) {
            Class<?> c = load(name);
            if (isHeaderClass(c)) {
                if (header != null) throw new IllegalStateException("two header classes in " + packageName);
                header = c;
            } else {
                addRecord(c);
            }
        }
        if (header == null) throw new IllegalStateException("no header class in " + packageName);
        headerClass = header;
        for (Method m : header.getDeclaredMethods()) {
            if (!Modifier.isPublic(m.getModifiers()) || !Modifier.isStatic(m.getModifiers())
                    || m.getParameterCount() != 0) continue;
            Class<?> t = m.getReturnType();
            if (t == MemorySegment.class) {
                try {
                    MemorySegment s = (MemorySegment) m.invoke(null);
                    strings.add(new StringMacro(m.getName(), s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(m.toString(), e);
                }
                continue;
            }
            if (t != long.class && t != int.class && t != short.class && t != byte.class) continue;
            try {
                long v = ((Number) m.invoke(null)).longValue();
                constants.add(new Constant(m.getName(), t, v));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(m.toString(), e);
            }
        }
        constants.sort(java.util.Comparator.comparing(Constant::name));
        strings.sort(java.util.Comparator.comparing(StringMacro::name));
        for (Field f : header.getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || !MemoryLayout.class.isAssignableFrom(f.getType())
                    || C_LAYOUTS.contains(f.getName())) continue;
            try {
                typedefs.add(new Typedef(f.getName(), (MemoryLayout) f.get(null)));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(f.toString(), e);
            }
        }
        typedefs.sort(java.util.Comparator.comparing(Typedef::name));
        if (records.isEmpty()) throw new IllegalStateException("no record classes in " + packageName);
    }

    private void addRecord(Class<?> c) {
        String[] idx = INDEX_CLASSES.get(c.getName());
        if (idx == null) throw new IllegalStateException(c.getName() + " is not in generated-index.tsv (stale index?)");
        try {
            c.getMethod("layout");
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(c.getName() + " is neither a header class nor a record class");
        }
        records.add(new RecordClass(c, idx[0], idx[1]));
        for (Class<?> n : c.getDeclaredClasses()) {
            if (Modifier.isPublic(n.getModifiers())) addRecord(n);
        }
    }

    static List<Bitfield> bitfields(Class<?> c) {
        return INDEX_BITFIELDS.getOrDefault(c.getName(), List.of());
    }

    private static boolean isHeaderClass(Class<?> c) {
        try {
            c.getField("C_INT");
            return true;
        } catch (NoSuchFieldException e) {
            return false;
        }
    }

    private static Class<?> load(String name) {
        try {
            return Class.forName(name, true, Bindings.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Top-level classes of a package, found in the compiled output (directory or jar), sorted. */
    static List<String> classNames(String packageName) {
        String anchor = packageName.replace('.', '/');
        try {
            URI location = Bindings.class.getClassLoader().getResource(anchor).toURI();
            List<String> out = new ArrayList<>();
            if (location.getScheme().equals("jar")) {
                try (FileSystem fs = FileSystems.newFileSystem(location, Map.of())) {
                    collect(fs.getPath(anchor), packageName, out);
                }
            } else {
                collect(Path.of(location), packageName, out);
            }
            out.sort(null);
            if (out.isEmpty()) throw new IllegalStateException("no classes found for " + packageName);
            return out;
        } catch (Exception e) {
            throw new IllegalStateException("cannot list the classes of " + packageName, e);
        }
    }

    private static void collect(Path dir, String pkg, List<String> out) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String f = p.getFileName().toString();
                if (f.endsWith(".class") && !f.contains("$")) out.add(pkg + "." + f.substring(0, f.length() - 6));
            }
        }
    }
}
