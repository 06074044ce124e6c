package dev.panavirt.testsupport;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which types the compiled classes of one artifact (a {@code target/classes} folder or a jar) name, read from
 * their constant pools: class entries, and the types inside field and method descriptors and signatures. For
 * the layering rules the module system cannot state (a module may read the bindings for constants, but not
 * use a layout or {@code MemorySegment}).
 */
public final class ClassReferences {

    private static final Pattern TYPE = Pattern.compile("(?:java/lang/foreign|dev/panavirt)/[A-Za-z0-9_/$]+");

    private ClassReferences() {
    }

    /**
     * For every class in the artifact that holds {@code anchor}, the internal names it refers to under
     * {@code dev/panavirt/} and {@code java/lang/foreign/}.
     */
    public static Map<String, Set<String>> of(Class<?> anchor) throws IOException {
        Path where;
        try {
            where = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
        Map<String, Set<String>> out = new TreeMap<>();
        if (Files.isDirectory(where)) {
            collect(where, out);
        } else {
            try (FileSystem jar = FileSystems.newFileSystem(where)) {
                collect(jar.getPath("/"), out);
            }
        }
        return out;
    }

    private static void collect(Path root, Map<String, Set<String>> out) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".class"))::iterator) {
                if (f.getFileName().toString().equals("module-info.class")) {
                    continue;
                }
                var model = ClassFile.of().parse(Files.readAllBytes(f));
                String self = model.thisClass().asInternalName();
                Set<String> names = new TreeSet<>();
                for (PoolEntry e : model.constantPool()) {
                    if (e instanceof Utf8Entry u) {
                        Matcher m = TYPE.matcher(u.stringValue());
                        while (m.find()) {
                            names.add(m.group());
                        }
                    }
                }
                names.remove(self);
                out.put(self, names);
            }
        }
    }

    /** The references of {@code refs} that start with one of {@code prefixes}, as "class -> name" lines. */
    public static Set<String> matching(Map<String, Set<String>> refs, String... prefixes) {
        Set<String> hits = new TreeSet<>();
        refs.forEach((cls, names) -> {
            for (String n : names) {
                for (String p : prefixes) {
                    if (n.startsWith(p)) {
                        hits.add(cls + " -> " + n);
                    }
                }
            }
        });
        return hits;
    }
}
