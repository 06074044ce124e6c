package dev.panavirt.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.module.ModuleDescriptor;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** The layer table of README.md ("Layers") and the module descriptors it is checked against. */
public final class Layers {

    /** A row of the README's table: {@code | `dev.panavirt.x` | `a`, `b` |}. */
    private static final Pattern ROW = Pattern.compile("^\\| `(dev\\.panavirt\\.[a-z]+)` \\| ([^|]*) \\|",
            Pattern.MULTILINE);
    private static final String PREFIX = "dev.panavirt.";

    private Layers() {
    }

    /** The table: module name to the panavirt modules it requires, by short name ({@code kvm}, {@code base}). */
    public static Map<String, Set<String>> readmeTable() throws IOException {
        Map<String, Set<String>> table = new TreeMap<>();
        Matcher m = ROW.matcher(Files.readString(repositoryRoot().resolve("README.md")));
        while (m.find()) {
            Set<String> requires = new TreeSet<>();
            for (String r : m.group(2).split(",")) {
                String name = r.strip().replace("`", "");
                if (!name.isEmpty() && !name.equals("—")) {
                    requires.add(name);
                }
            }
            table.put(m.group(1), requires);
        }
        return table;
    }

    /** Every panavirt module descriptor on the class path, by name. */
    public static Map<String, ModuleDescriptor> descriptors() throws IOException {
        Map<String, ModuleDescriptor> out = new TreeMap<>();
        for (URL u : Collections.list(Layers.class.getClassLoader().getResources("module-info.class"))) {
            try (InputStream in = u.openStream()) {
                ModuleDescriptor d = ModuleDescriptor.read(in);
                if (d.name().startsWith(PREFIX)) {
                    out.put(d.name(), d);
                }
            }
        }
        return out;
    }

    /** The panavirt modules {@code d} requires, by short name. */
    public static Set<String> requires(ModuleDescriptor d) {
        return d.requires().stream().map(ModuleDescriptor.Requires::name).filter(n -> n.startsWith(PREFIX))
                .map(n -> n.substring(PREFIX.length())).collect(Collectors.toCollection(TreeSet::new));
    }

    /** The checkout's root: the first folder above the working directory with README.md and runtime/. */
    public static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir.resolve("README.md")) && Files.isDirectory(dir.resolve("runtime"))) {
                return dir;
            }
        }
        throw new UncheckedIOException(new IOException("no README.md with runtime/ above " + Path.of("").toAbsolutePath()));
    }
}
