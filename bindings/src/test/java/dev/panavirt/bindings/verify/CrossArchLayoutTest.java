package dev.panavirt.bindings.verify;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The non-x86 bindings against clang: the walker of {@link GccProbeTest} writes one
 * {@code _Static_assert} per size, alignment, offset and constant, compiled with
 * {@code clang-16 --target=<triple> -fsyntax-only} against that arch's installed headers. The
 * arch-neutral kvm, vfio, vhost and virtio packages (generated from the x86 tree) are checked against
 * the aarch64, riscv64 and loongarch64 trees as well, which is what shows they are arch-neutral.
 *
 * <p>{@code native-headers/install-headers.sh}, which the test runner calls before the build, installs
 * clang-16, so the check runs in the default test run. Without clang this test is skipped (an
 * assumption fails, with the reason), unless
 * {@code -Dpanavirt.crossarch.required=true} (what {@code native-headers/regen.sh} passes) or
 * {@code panavirt.require} contains {@code clang}, which make a missing clang a failure.
 * Bitfield storage units are checked by the gcc probe only (a bitfield's bytes are not a constant
 * expression).
 */
class CrossArchLayoutTest {

    record Case(String pkg, String arch, String triple) {
    }

    static final List<Case> CASES = List.of(
            new Case("dev.panavirt.bindings.kvm.arm64", "arm64", "aarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.kvm.riscv64", "riscv", "riscv64-linux-gnu"),
            new Case("dev.panavirt.bindings.kvm.loongarch64", "loongarch", "loongarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.kvm", "arm64", "aarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.vfio", "arm64", "aarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.vhost", "arm64", "aarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.virtio", "arm64", "aarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.kvm", "riscv", "riscv64-linux-gnu"),
            new Case("dev.panavirt.bindings.vfio", "riscv", "riscv64-linux-gnu"),
            new Case("dev.panavirt.bindings.vhost", "riscv", "riscv64-linux-gnu"),
            new Case("dev.panavirt.bindings.virtio", "riscv", "riscv64-linux-gnu"),
            new Case("dev.panavirt.bindings.kvm", "loongarch", "loongarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.vfio", "loongarch", "loongarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.vhost", "loongarch", "loongarch64-linux-gnu"),
            new Case("dev.panavirt.bindings.virtio", "loongarch", "loongarch64-linux-gnu"));

    private static final Pattern FAILED = Pattern.compile("static (?:assertion|_assert) failed.*\"?c(\\d+)\"?");

    static boolean required() {
        return Boolean.getBoolean("panavirt.crossarch.required")
                || System.getProperty("panavirt.require", "").contains("clang");
    }

    @Test
    void otherArchesMatchClang() throws Exception {
        String clang = System.getProperty("panavirt.clang", "clang-16");
        if (!Probe.onPath(clang)) {
            if (required()) fail(clang + " is not on the PATH but the cross-arch layout check is required");
            Assumptions.abort(clang + " is not installed: cross-arch layout check skipped "
                    + "(native-headers/install-headers.sh installs it; native-headers/regen.sh always runs this check)");
        }
        Path headers = Probe.headersDir();
        Path ext = Probe.extInclude();
        Path work = Probe.workDir("clang");
        Probe.Result rd = Probe.run(work, List.of(clang, "-print-resource-dir"));
        if (rd.exit() != 0) fail(clang + " -print-resource-dir failed: " + rd.output());
        String resource = rd.output().strip();

        List<String> mismatches = new ArrayList<>();
        StringBuilder summary = new StringBuilder();
        int total = 0;
        for (Case c : CASES) {
            Checks checks = new Checks();
            checks.add(new Bindings(c.pkg()));
            Path dir = Probe.workDir("clang-" + c.pkg() + "-" + c.arch());
            Files.writeString(dir.resolve("asserts.c"), checks.staticAsserts(Probe.includes(c.pkg())),
                    StandardCharsets.UTF_8);
            Probe.Result r = Probe.run(dir, List.of(clang, "--target=" + c.triple(), "-fsyntax-only",
                    "-ferror-limit=0", "-nostdinc", "-ffreestanding", "-std=gnu11",
                    "-isystem", resource + "/include",
                    "-I" + headers.resolve(c.arch()).resolve("include"), "-I" + ext, "asserts.c"));
            int bad = 0;
            List<String> otherErrors = new ArrayList<>();
            for (String line : r.output().split("\n")) {
                if (!line.contains("error:")) continue;
                Matcher m = FAILED.matcher(line);
                if (m.find()) {
                    Checks.Check k = checks.checks.get(Integer.parseInt(m.group(1)));
                    mismatches.add(c.pkg() + " on " + c.triple() + ": " + k.what() + ": " + k.cExpr()
                            + " != Java " + k.expected());
                    bad++;
                } else {
                    otherErrors.add(line);
                }
            }
            if (!otherErrors.isEmpty() || (r.exit() != 0 && bad == 0)) {
                fail(c.pkg() + " on " + c.triple() + ": clang reported errors other than failed asserts ("
                        + dir.resolve("asserts.c") + "):\n" + String.join("\n", otherErrors) + "\n" + r.output());
            }
            total += checks.checks.size();
            summary.append(String.format("  %-38s %-22s structs %4d  fields %5d  constants %4d  typedefs %3d  strings %2d"
                    + "  asserts %6d  mismatches %d%n", c.pkg(), c.triple(), checks.structs, checks.fields, checks.constants,
                    checks.typedefs, checks.strings, checks.checks.size(), bad));
        }
        System.out.println("clang cross-arch layout check (headers " + headers + "):\n" + summary
                + "  total asserts " + total + ", mismatches " + mismatches.size());
        assertTrue(mismatches.isEmpty(), mismatches.size() + " mismatches between the bindings and clang:\n  "
                + String.join("\n  ", mismatches));
    }
}
