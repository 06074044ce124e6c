package dev.panavirt.bindings.verify;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The x86-64 bindings against gcc: every generated struct, member path, {@code x$offset()},
 * bitfield storage unit and constant of the x86 kvm, the arch-neutral kvm, vfio, vhost and virtio
 * packages is turned into
 * a C expression over the same headers, compiled with gcc, run, and compared. Zero mismatches.
 */
class GccProbeTest {

    static final List<String> PACKAGES = List.of(
            "dev.panavirt.bindings.kvm.x86_64",
            "dev.panavirt.bindings.kvm",
            "dev.panavirt.bindings.vfio",
            "dev.panavirt.bindings.vhost",
            "dev.panavirt.bindings.virtio");

    @Test
    void x86LayoutsAndConstantsMatchGcc() throws Exception {
        Path headers = Probe.headersDir();
        Path ext = Probe.extInclude();
        if (!Probe.onPath("gcc")) fail("gcc is not on the PATH; the x86-64 layout probe needs it");
        List<String> mismatches = new ArrayList<>();
        StringBuilder summary = new StringBuilder();
        int total = 0;
        for (String pkg : PACKAGES) {
            Checks checks = new Checks();
            checks.add(new Bindings(pkg));
            Path dir = Probe.workDir("gcc-" + pkg);
            Files.writeString(dir.resolve("probe.c"), checks.program(Probe.includes(pkg)), StandardCharsets.UTF_8);
            Probe.Result cc = Probe.run(dir, List.of("gcc", "-std=gnu11", "-O0", "-w",
                    "-I" + headers.resolve("x86/include"), "-I" + ext, "probe.c", "-o", "probe"));
            if (cc.exit() != 0) {
                fail("the " + pkg + " probe does not compile (" + dir.resolve("probe.c") + "):\n" + cc.output());
            }
            Probe.Result run = Probe.run(dir, List.of(dir.resolve("probe").toString()));
            assertEquals(0, run.exit(), "probe failed: " + run.output());
            Map<String, String> got = new HashMap<>();
            for (String line : run.output().split("\n")) {
                int sp = line.indexOf(' ');
                if (sp > 0) got.put(line.substring(0, sp), line.substring(sp + 1));
            }
            int bad = 0;
            for (int i = 0; i < checks.checks.size(); i++) {
                Checks.Check c = checks.checks.get(i);
                String v = got.get(String.valueOf(i));
                if (v == null) {
                    mismatches.add(pkg + ": " + c.what() + ": no output");
                    bad++;
                    continue;
                }
                long cv = Long.parseUnsignedLong(v);
                if (!c.matches(cv)) {
                    mismatches.add(pkg + ": " + c.what() + ": C " + c.cExpr() + " = " + cv + ", Java " + c.expected());
                    bad++;
                }
            }
            for (int i = 0; i < checks.bitfieldChecks.size(); i++) {
                Checks.BitfieldCheck b = checks.bitfieldChecks.get(i);
                String v = got.get("b" + i);
                String[] w = v == null ? new String[0] : v.split(" ");
                long lo = w.length == 2 ? Long.parseLong(w[0]) : -1;
                long hi = w.length == 2 ? Long.parseLong(w[1]) : -1;
                if (lo < b.unitStart() || hi >= b.unitEnd() || lo > hi) {
                    mismatches.add(pkg + ": " + b.what() + ": C bytes " + lo + ".." + hi + ", Java unit bytes "
                            + b.unitStart() + ".." + (b.unitEnd() - 1));
                    bad++;
                }
            }
            int n = checks.checks.size() + checks.bitfieldChecks.size();
            total += n;
            summary.append(String.format("  %-34s structs %4d  fields %5d  constants %4d  typedefs %3d  strings %2d"
                    + "  bitfields %3d  checks %6d  mismatches %d%n", pkg, checks.structs, checks.fields, checks.constants,
                    checks.typedefs, checks.strings, checks.bitfieldChecks.size(), n, bad));
        }
        System.out.println("gcc layout probe (x86_64, headers " + headers + "):\n" + summary
                + "  total checks " + total + ", mismatches " + mismatches.size());
        assertTrue(mismatches.isEmpty(), mismatches.size() + " mismatches between the bindings and gcc:\n  "
                + String.join("\n  ", mismatches));
    }
}
