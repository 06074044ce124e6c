package dev.panavirt.headers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code native-headers/headers.manifest}: the pinned Debian package, the bound headers, and the
 * sha256 of every installed header file the generator reads (paths relative to the cache dir).
 */
record Manifest(String packageName, String version, Map<String, String> sha256) {

    static Manifest read(Path file) throws IOException {
        String pkg = null;
        String version = null;
        Map<String, String> sums = new TreeMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) continue;
            String[] w = t.split("\\s+");
            switch (w[0]) {
                case "package" -> pkg = w[1];
                case "version" -> version = w[1];
                case "sha256" -> sums.put(w[2], w[1]);
                case "bind" -> {
                }
                default -> throw new IllegalStateException(file + ": unknown line " + line);
            }
        }
        if (pkg == null || version == null) throw new IllegalStateException(file + ": needs package and version lines");
        return new Manifest(pkg, version, sums);
    }

    /** Problems: files read whose hash differs from, or is missing in, the manifest. */
    List<String> check(Map<String, String> read) {
        List<String> bad = new ArrayList<>();
        for (Map.Entry<String, String> e : read.entrySet()) {
            String want = sha256.get(e.getKey());
            if (want == null) bad.add(e.getKey() + ": not in the manifest (regenerate it with --write-manifest)");
            else if (!want.equals(e.getValue())) bad.add(e.getKey() + ": sha256 " + e.getValue() + ", manifest " + want);
        }
        return bad;
    }

    static void write(Path file, String pkg, String version, List<String> binds, Map<String, String> sums)
            throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("# Pinned uapi headers of panavirt's generated bindings.");
        lines.add("# Written by the generator (native-headers/regen.sh --write-manifest). Checked by");
        lines.add("# native-headers/install-headers.sh after every install or run, and by the generator before it");
        lines.add("# writes anything. Paths are relative to the cache dir install-headers.sh prints.");
        lines.add("package " + pkg);
        lines.add("version " + version);
        lines.add("# bind <java package> <ARCH tree> <bound headers...>");
        lines.addAll(binds.stream().map(b -> "bind " + b).toList());
        lines.add("# sha256 <hex> <file>: the bound headers and everything they include, per arch");
        new TreeMap<>(sums).forEach((f, h) -> lines.add("sha256 " + h + " " + f));
        Files.write(file, lines, StandardCharsets.UTF_8);
    }

    static String sha256(Path f) {
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(f.toString(), e);
        }
    }
}
