package dev.panavirt.headers;

import dev.panavirt.headers.clang.LibClang;
import dev.panavirt.headers.emit.JavaEmitter;
import dev.panavirt.headers.emit.Report;
import dev.panavirt.headers.model.BindingPackage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Command line of the generator.
 *
 * <pre>
 * java --enable-native-access=dev.panavirt.headers -p native-headers/target/classes \
 *      -m dev.panavirt.headers/dev.panavirt.headers.Main \
 *      --headers-dir $CACHE --ext-include native-headers/include --manifest native-headers/headers.manifest \
 *      --out bindings/src/main/java --index bindings/src/test/resources/.../generated-index.tsv \
 *      --report native-headers/generated-report.txt [--write-manifest] [--libclang PATH] [--resource-dir DIR]
 * </pre>
 *
 * Without {@code --write-manifest} every header file clang read from the header tree must match
 * the manifest's sha256, or nothing is written.
 */
public final class Main {

    private Main() {
    }

    public static void main(String[] argv) throws IOException {
        Map<String, String> opt = new LinkedHashMap<>();
        boolean writeManifest = false;
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--write-manifest")) {
                writeManifest = true;
            } else if (a.startsWith("--") && i + 1 < argv.length) {
                opt.put(a.substring(2), argv[++i]);
            } else {
                usage("unexpected argument " + a);
            }
        }
        for (String req : List.of("headers-dir", "ext-include", "manifest", "out", "index", "report")) {
            if (!opt.containsKey(req)) usage("missing --" + req);
        }
        Path cache = Path.of(opt.get("headers-dir")).toAbsolutePath().normalize();
        Path ext = Path.of(opt.get("ext-include")).toAbsolutePath().normalize();
        Path manifestFile = Path.of(opt.get("manifest"));
        Path out = Path.of(opt.get("out"));
        String resourceDir = opt.getOrDefault("resource-dir", "/usr/lib/llvm-16/lib/clang/16");

        Manifest manifest = Manifest.read(manifestFile);
        String provenance = manifest.packageName() + " " + manifest.version();

        LibClang clang = LibClang.load(opt.get("libclang"));
        System.err.println("libclang: " + clang.version());

        List<BindingPackage> packages = new ArrayList<>();
        Map<String, String> read = new TreeMap<>();
        String only = opt.get("only");
        for (Spec spec : Spec.all()) {
            if (only != null && !spec.packageName().contains(only)) continue;
            Path root = cache.resolve(spec.arch()).resolve("include");
            if (!Files.isDirectory(root)) throw new IllegalStateException("no header tree at " + root);
            List<String> args = List.of("-target", spec.target(), "-nostdinc", "-ffreestanding", "-std=gnu11",
                    "-I" + root, "-I" + ext, "-isystem", resourceDir + "/include", "-ferror-limit=0");
            System.err.println("parsing " + spec.packageName() + " " + spec.headers() + " (" + spec.target() + ")");
            Parser p = new Parser(clang, spec, List.of(root, ext), args);
            BindingPackage pkg = p.parse();
            List<Parser> parsers = new ArrayList<>(List.of(p));
            if (spec.archNeutral()) {
                // Keep what every tree agrees on (vfio_h.__u32 is the same everywhere;
                // __kernel_old_uid_t is not; kvm_h.KVM_RUN is, KVM_GET_REGS is not), so the
                // package stays arch-neutral.
                Map<String, BindingPackage> others = new LinkedHashMap<>();
                for (String[] a : Spec.ARCHES) {
                    if (a[0].equals(spec.arch())) continue;
                    Path other = cache.resolve(a[0]).resolve("include");
                    System.err.println("  comparing with the " + a[0] + " tree (" + a[2] + ")");
                    Parser q = new Parser(clang, spec, List.of(other, ext), List.of("-target", a[2], "-nostdinc",
                            "-ffreestanding", "-std=gnu11", "-I" + other, "-I" + ext, "-isystem",
                            resourceDir + "/include", "-ferror-limit=0"));
                    others.put(a[0], q.parse());
                    parsers.add(q);
                }
                pkg = Agreement.keepAgreed(pkg, others);
            }
            packages.add(pkg);
            for (Parser q : parsers) {
                for (String f : q.filesRead) {
                    Path fp = Path.of(f);
                    if (fp.startsWith(cache)) read.put(cache.relativize(fp).toString(), Manifest.sha256(fp));
                }
            }
        }
        if (writeManifest) {
            List<String> binds = new ArrayList<>();
            for (Spec s : Spec.all()) {
                binds.add(s.packageName() + " " + s.arch() + " " + String.join(" ", s.headers()));
            }
            Manifest.write(manifestFile, manifest.packageName(), manifest.version(), binds, read);
            System.err.println("wrote " + manifestFile + " (" + read.size() + " files)");
        } else {
            List<String> bad = manifest.check(read);
            if (!bad.isEmpty()) {
                System.err.println("refusing to generate: header files differ from " + manifestFile + ":");
                bad.forEach(b -> System.err.println("  " + b));
                System.exit(3);
            }
        }

        List<String> index = new ArrayList<>();
        index.add("# " + JavaEmitter.GENERATED_BY);
        index.add("# Names the C type of every generated class");
        index.add("# (class <binary name> <C type> <C member prefix>) and the C bitfields inside each storage unit");
        index.add("# (bitfield <binary name> <unit> <C member path>), for the layout tests.");
        List<Report.Entry> report = new ArrayList<>();
        for (BindingPackage pkg : packages) {
            Path dir = out.resolve(pkg.packageName().replace('.', '/'));
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    for (Path f : s.filter(f -> f.toString().endsWith(".java")).toList()) Files.delete(f);
                }
            }
            JavaEmitter emitter = new JavaEmitter(pkg, provenance);
            Map<String, String> files = emitter.emit();
            for (Map.Entry<String, String> e : files.entrySet()) {
                Path f = out.resolve(e.getKey());
                Files.createDirectories(f.getParent());
                Files.writeString(f, e.getValue(), StandardCharsets.UTF_8);
            }
            index.addAll(emitter.index());
            report.add(new Report.Entry(pkg, emitter.counts()));
            System.err.printf("%s: %d structs, %d fields, %d constants, %d typedefs, %d strings%n", pkg.packageName(),
                    emitter.counts().structs, emitter.counts().fields, emitter.counts().constants,
                    emitter.counts().typedefs, emitter.counts().strings);
            pkg.skipped().forEach((what, names) -> System.err.printf("  skipped %d %s%n", names.size(), what));
        }
        if (only == null) {
            Path idx = Path.of(opt.get("index"));
            Files.createDirectories(idx.getParent());
            Files.write(idx, index, StandardCharsets.UTF_8);
            String text = Report.render(provenance, report);
            Files.writeString(Path.of(opt.get("report")), text, StandardCharsets.UTF_8);
            System.out.print(Report.summary(report));
        }
    }

    private static void usage(String why) {
        System.err.println("dev.panavirt.headers.Main: " + why);
        System.err.println("usage: --headers-dir DIR --ext-include DIR --manifest FILE --out DIR --index FILE"
                + " --report FILE [--write-manifest] [--libclang PATH] [--resource-dir DIR] [--only PKG]");
        System.exit(2);
    }
}
