package dev.panavirt.lane;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestReporter;

/**
 * The nested real-kernel lane seen from the host: boots the Debian 6.12 guest of {@code lane/run},
 * runs this project's device tests in it (tag {@code vfio} or {@code vdpa}, against the genuine
 * /dev/vfio and /dev/vhost-vdpa-N; and tag {@code kvm}, against the guest's genuine /dev/kvm, when
 * the KVM tests run nested), and reports every guest test case as a test of its own, with the guest's
 * message and stack trace when it fails. The guest's class path is this module's test class path:
 * the classes and test classes of every module with device tests (runtime, cli, bench).
 *
 * <p>Where the KVM tests run: {@code -Dpanavirt.kvm=local} (on this host's /dev/kvm, in the default
 * run), {@code nested} (here), or {@code auto} (the default: nested when this host has no /dev/kvm).
 * {@code ./run-tests} excludes the tag {@code kvm} from the default run when they run nested. The tests
 * tagged {@code kvm-hw} need KVM on hardware virtualization: when this host's /dev/kvm is the paravirtual
 * KVM, they run here ({@code lane/run --kvm-hw}) and {@code ./run-tests} leaves them out of its default run.
 *
 * <p>Excluded from the default run (tag {@code lane}); run it with
 * {@code mvn -Dpanavirt.test.groups=lane -Dpanavirt.test.excludedGroups= test}. Where it cannot run
 * (not Linux, not root) it is skipped with the reason, unless {@code -Dpanavirt.require} lists
 * {@code lane}: then that is a failure, as is a lane that boots but runs no test.
 *
 * <p>System properties: {@code panavirt.lane.args} (extra lane/run options, space separated, e.g.
 * {@code --select-class dev.panavirt.lane.VfioSmokeTest}), {@code panavirt.lane.limit} (seconds for
 * the whole run including a first-time prepare and a retry, default 3600).
 */
@Tag("lane")
class NestedKernelLaneTest {

    @TestFactory
    Stream<DynamicNode> guestTests(TestReporter reporter) throws Exception {
        Path repo = laneRepoOrSkip();
        Path runDir = Path.of("target", "lane",
                        LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)))
                .toAbsolutePath();
        List<String> args = new ArrayList<>();
        if (kvmNested()) {
            args.add("--kvm");
        } else if (localKvmIsParavirtual()) {
            args.add("--kvm-hw");   // ./run-tests leaves the tag kvm-hw out of the default run then
        }
        args.add("--cp");
        args.add(String.join(File.pathSeparator, guestClassPath(repo)));
        String extra = System.getProperty("panavirt.lane.args", "").strip();
        if (!extra.isEmpty()) {
            args.addAll(Arrays.asList(extra.split("\\s+")));
        }
        Duration limit = Duration.ofSeconds(Long.getLong("panavirt.lane.limit", 3600));

        LaneRunner.Result result = LaneRunner.run(repo, runDir, args, limit);
        Path summary = result.runDir().resolve("summary");
        if (Files.exists(summary)) {
            reporter.publishEntry("lane.timings", Files.readString(summary).strip());
        }

        if (result.exitCode() != 0 && result.exitCode() != 1) {
            Assertions.fail(laneFailure(result));
        }
        GuestReport report = GuestReport.read(result.reportsDir());
        if (report.cases().isEmpty()) {
            Assertions.fail("the guest ran no test (lane/run exit " + result.exitCode() + ")\n" + laneFailure(result));
        }
        if (result.exitCode() == 1 && report.cases().stream().noneMatch(c -> c.outcome() == GuestReport.Outcome.FAILED)) {
            Assertions.fail("the guest JVM failed without a failed test\n" + laneFailure(result));
        }
        // Flat, in report order: surefire names each test by its display name (see the root pom).
        return report.cases().stream().map(NestedKernelLaneTest::dynamicTest);
    }

    private static DynamicNode dynamicTest(GuestReport.Case c) {
        String name = c.simpleClassName() + "." + c.name();
        return DynamicTest.dynamicTest(name, () -> {
            switch (c.outcome()) {
                case PASSED -> { }
                case SKIPPED -> Assumptions.abort("skipped in the guest: " + c.message());
                case FAILED -> throw GuestTestFailure.fromTrace(c.detail(),
                        c.type() + (c.message().isEmpty() ? "" : ": " + c.message()), name);
            }
        });
    }

    private static String laneFailure(LaneRunner.Result r) {
        StringBuilder sb = new StringBuilder();
        sb.append("nested lane failed (lane/run exit ").append(r.exitCode()).append(")\n");
        Path failure = r.runDir().resolve("failure");
        try {
            if (Files.exists(failure)) {
                sb.append("reason: ").append(Files.readString(failure).strip()).append('\n');
            }
            sb.append("guest console log: ").append(r.consoleLog()).append('\n');
            if (Files.exists(r.consoleLog())) {
                List<String> lines = Files.readAllLines(r.consoleLog(), java.nio.charset.StandardCharsets.ISO_8859_1);
                sb.append("last console lines:\n");
                lines.subList(Math.max(0, lines.size() - 40), lines.size())
                        .forEach(l -> sb.append("  | ").append(l.replace("\r", "")).append('\n'));
            }
        } catch (IOException e) {
            sb.append("(could not read the run dir: ").append(e.getMessage()).append(")\n");
        }
        sb.append("last lane/run output:\n");
        r.outputTail().forEach(l -> sb.append("  > ").append(l).append('\n'));
        return sb.toString();
    }

    /**
     * Whether this host's /dev/kvm is the paravirtual KVM (no kvm_amd or kvm_intel module), which cannot run
     * the tests tagged kvm-hw; the lane then runs them. The rule of tools/kvm-where.sh and KvmFlavour.
     */
    private static boolean localKvmIsParavirtual() {
        Path modules = Path.of("/sys/module");
        return Files.exists(Path.of("/dev/kvm")) && !Files.isDirectory(modules.resolve("kvm_amd"))
                && !Files.isDirectory(modules.resolve("kvm_intel"));
    }

    /** Whether the KVM tests run in the nested host ({@code -Dpanavirt.kvm}, see the class comment). */
    static boolean kvmNested() {
        String where = System.getProperty("panavirt.kvm", "auto").strip();
        return switch (where) {
            case "nested" -> true;
            case "local" -> false;
            case "auto", "" -> !Files.exists(Path.of("/dev/kvm"));
            default -> throw new IllegalArgumentException("-Dpanavirt.kvm takes local, nested or auto, not " + where);
        };
    }

    /**
     * The repository whose lane/run this host can run. Where it cannot, the test is skipped with the
     * reason, or fails when {@code -Dpanavirt.require} lists the lane.
     */
    static Path laneRepoOrSkip() throws IOException {
        String unavailable = whyUnavailable();
        if (unavailable != null) {
            if (required()) {
                Assertions.fail("the lane is required (-Dpanavirt.require) but cannot run: " + unavailable);
            }
            Assumptions.abort(unavailable);
        }
        return repoRoot();
    }

    private static boolean required() {
        return Arrays.stream(System.getProperty("panavirt.require", "").split("[,\\s]+"))
                .anyMatch(s -> s.equals("lane") || s.equals("all"));
    }

    private static String whyUnavailable() throws IOException {
        if (!System.getProperty("os.name", "").equals("Linux")) {
            return "the nested lane needs Linux (QEMU, Debian packages)";
        }
        Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (!Integer.valueOf(0).equals(uid)) {
            return "the nested lane needs root (apt-get in lane/prepare, device nodes in the guest)";
        }
        if (repoRoot() == null) {
            return "lane/run not found above " + Path.of("").toAbsolutePath();
        }
        return null;
    }

    /** The directory above the working directory that holds lane/run. */
    static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("lane/run"))) {
                return p;
            }
        }
        return null;
    }

    /**
     * This project's part of the test class path, for the guest (which sees the host's file system at
     * the same paths): a module of this repository as its {@code target/classes} and
     * {@code target/test-classes} directories (lane/run picks the device test classes from
     * directories), third-party jars as they are. JUnit and surefire stay out: the console launcher
     * in the guest brings its own JUnit.
     */
    static List<String> guestClassPath(Path repo) {
        String cp = System.getProperty("surefire.test.class.path");
        if (cp == null || cp.isBlank()) {
            cp = System.getProperty("java.class.path", "");
        }
        Path self = repo.resolve("lane");
        java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
        for (String e : cp.split(File.pathSeparator)) {
            if (e.isBlank()) {
                continue;
            }
            Path p = Path.of(e).toAbsolutePath().normalize();
            String name = p.getFileName().toString();
            if (!Files.exists(p) || p.startsWith(self) || name.startsWith("surefire")
                    || JUNIT_JARS.stream().anyMatch(j -> p.toString().contains(j))) {
                continue;
            }
            if (p.startsWith(repo) && name.endsWith(".jar") && p.getParent().getFileName().toString().equals("target")) {
                Path dir = p.getParent().resolve(name.endsWith("-tests.jar") ? "test-classes" : "classes");
                out.add((Files.isDirectory(dir) ? dir : p).toString());
            } else {
                out.add(p.toString());
            }
        }
        return new ArrayList<>(out);
    }

    /** Where JUnit's own jars live in a Maven repository. */
    private static final List<String> JUNIT_JARS = List.of("/org/junit/", "/org/opentest4j/", "/org/apiguardian/");
}
