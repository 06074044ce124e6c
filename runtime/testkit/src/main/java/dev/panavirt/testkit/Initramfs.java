package dev.panavirt.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a Linux initramfs: an uncompressed cpio archive in the "newc" format the kernel unpacks into its rootfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst), with directories, regular files, symlinks and
 * device nodes. Parent directories are added as needed. Entries keep the order they were added in; the archive
 * ends with the {@code TRAILER!!!} entry.
 *
 * <p>Also: the kernel modules a set of modules needs, from a module tree's {@code modules.dep}
 * ({@link #moduleClosure}).
 */
public final class Initramfs {
    /** File type bits of {@code st_mode}. */
    private static final int S_IFDIR = 0040000, S_IFREG = 0100000, S_IFLNK = 0120000, S_IFCHR = 0020000;

    private record Entry(String name, int mode, byte[] data, int rdevMajor, int rdevMinor) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    /** Adds a directory (mode 0755) and its parents. */
    public Initramfs directory(String path) {
        String p = normalise(path);
        if (p.isEmpty() || entries.containsKey(p)) {
            return this;
        }
        parents(p);
        entries.put(p, new Entry(p, S_IFDIR | 0755, new byte[0], 0, 0));
        return this;
    }

    /** Adds a regular file with the given permission bits (e.g. 0755 for a program). */
    public Initramfs file(String path, byte[] data, int permissions) {
        String p = normalise(path);
        parents(p);
        entries.put(p, new Entry(p, S_IFREG | (permissions & 07777), data.clone(), 0, 0));
        return this;
    }

    /** Adds a symbolic link. */
    public Initramfs symlink(String path, String target) {
        String p = normalise(path);
        parents(p);
        entries.put(p, new Entry(p, S_IFLNK | 0777, target.getBytes(StandardCharsets.UTF_8), 0, 0));
        return this;
    }

    /** Adds a character device node (e.g. {@code dev/console}, 5:1, so init has a console before devtmpfs). */
    public Initramfs charDevice(String path, int major, int minor) {
        String p = normalise(path);
        parents(p);
        entries.put(p, new Entry(p, S_IFCHR | 0600, new byte[0], major, minor));
        return this;
    }

    private void parents(String p) {
        int slash = p.lastIndexOf('/');
        if (slash > 0) {
            directory(p.substring(0, slash));
        }
    }

    private static String normalise(String path) {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        if (p.contains("\0") || p.contains("..")) {
            throw new IllegalArgumentException("bad initramfs path: " + path);
        }
        return p;
    }

    /** {@return the archive's bytes} */
    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int ino = 1;
        for (Entry e : entries.values()) {
            write(out, ino++, e);
        }
        write(out, 0, new Entry("TRAILER!!!", 0, new byte[0], 0, 0));
        return out.toByteArray();
    }

    private static void write(ByteArrayOutputStream out, int ino, Entry e) {
        byte[] name = (e.name() + "\0").getBytes(StandardCharsets.UTF_8);
        boolean dir = (e.mode() & 0170000) == S_IFDIR;
        String header = String.format("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", ino, e.mode(),
                0, 0, dir ? 2 : 1, 0, e.data().length, 0, 0, e.rdevMajor(), e.rdevMinor(), name.length, 0);
        out.writeBytes(header.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(name);
        pad(out);
        out.writeBytes(e.data());
        pad(out);
    }

    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 4 != 0) {
            out.write(0);
        }
    }

    /**
     * The modules {@code names} need, dependencies first, as paths relative to {@code moduleTree}
     * ({@code /lib/modules/<release>}), read from its {@code modules.dep}, as {@code modprobe --show-depends}
     * orders them.
     *
     * @param moduleTree the module directory of one kernel release
     * @param names      module names ({@code virtio_blk}; dashes and underscores are the same)
     * @throws IllegalArgumentException when a module is not in {@code modules.dep}
     */
    public static List<String> moduleClosure(Path moduleTree, String... names) throws IOException {
        Map<String, List<String>> deps = new LinkedHashMap<>();
        Map<String, String> byName = new LinkedHashMap<>();
        for (String line : Files.readAllLines(moduleTree.resolve("modules.dep"))) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String path = line.substring(0, colon).trim();
            String rest = line.substring(colon + 1).trim();
            deps.put(path, rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
            byName.put(moduleName(path), path);
        }
        Set<String> ordered = new LinkedHashSet<>();
        for (String n : names) {
            String path = byName.get(n.replace('-', '_'));
            if (path == null) {
                throw new IllegalArgumentException("module " + n + " is not in " + moduleTree.resolve("modules.dep"));
            }
            visit(path, deps, ordered, new LinkedHashSet<>());
        }
        return new ArrayList<>(ordered);
    }

    private static void visit(String path, Map<String, List<String>> deps, Set<String> ordered, Set<String> onPath) {
        if (ordered.contains(path) || !onPath.add(path)) {
            return;
        }
        // modules.dep lists every transitive dependency; visiting each first puts them in load order.
        for (String d : deps.getOrDefault(path, List.of())) {
            visit(d, deps, ordered, onPath);
        }
        ordered.add(path);
    }

    private static String moduleName(String path) {
        String file = path.substring(path.lastIndexOf('/') + 1);
        int ko = file.indexOf(".ko");
        return (ko < 0 ? file : file.substring(0, ko)).replace('-', '_');
    }
}
