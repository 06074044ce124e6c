package dev.panavirt.bench;

import dev.panavirt.bench.report.Bench;
import dev.panavirt.bench.report.Environment;
import dev.panavirt.bench.report.Report;
import dev.panavirt.bench.report.Sample;
import dev.panavirt.bench.report.Settings;
import dev.panavirt.bench.support.BenchJvm;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.regex.Pattern;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The benchmark suite's entry point ({@code bench/run}, {@code panavirt bench}): runs every JMH
 * benchmark in this jar in interleaved rounds and writes the Markdown report, the ratio chart and a
 * JSON record.
 *
 * <p>Each benchmark (a method with one value of each of its class's {@code @Param}s) runs in its own forked
 * JVM, one fork per round. A round goes over the whole suite, operation by operation (an operation is a
 * class, or one parameter value of it), running its paths (C, panavirt, FFM, JNA, jnr-ffi) back to back in
 * an order shuffled per round; with several rounds, slow drifts of a noisy machine spread over
 * every path instead of favouring whichever ran first. The iterations of all rounds are pooled per
 * benchmark, as JMH pools the iterations of its forks.
 *
 * <p>For a plain JMH run use {@code java -cp panavirt-bench.jar org.openjdk.jmh.Main}.
 */
public final class BenchMain {
    private BenchMain() {}

    /** Rough cost of starting and tearing down one fork, for the time estimate. */
    private static final double FORK_OVERHEAD_S = 1.0;

    public static void main(String[] args) {
        if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
            System.out.print(Settings.USAGE);
            return;
        }
        Settings s;
        try {
            s = Settings.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.err.print(Settings.USAGE);
            System.exit(2);
            return;
        }
        try {
            System.exit(run(s));
        } catch (IOException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(1);
        }
    }

    /** Runs the suite as configured; returns the process exit code (1 when a benchmark failed). */
    public static int run(Settings s) throws IOException {
        if (s.reportFrom() != null) {
            Path md = dev.panavirt.bench.report.ReportData.read(s.reportFrom(), s.out()).write();
            System.out.print(Files.readString(md));
            System.out.println("bench: report " + md + " (drawn again from " + s.reportFrom() + ")");
            return 0;
        }
        List<Bench> benches = discover(s.include());
        if (benches.isEmpty()) {
            System.err.println("bench: no benchmark matches " + s.include());
            return 2;
        }
        if (s.list()) {
            benches.forEach(b -> System.out.println(b.name() + "  [" + b.operation() + "]"));
            return 0;
        }
        benches = available(benches);
        if (benches.isEmpty()) {
            System.err.println("bench: nothing to run here (see above)");
            return 2;
        }
        Files.createDirectories(s.out());
        Path log = s.out().resolve("jmh-" + s.mode() + ".log");
        Files.deleteIfExists(log);
        double perFork = (s.warmup() * s.warmupMs() + s.iterations() * s.timeMs()) / 1000.0 + FORK_OVERHEAD_S;
        long estimate = Math.round(perFork * benches.size() * s.forks() / 60.0);
        System.out.printf(Locale.ROOT, "bench: %d benchmarks, %s; about %d min. JMH output: %s%n", benches.size(),
                s.describe(), Math.max(1, estimate), log);

        Environment env = Environment.probe();
        Instant started = Instant.now();
        Map<String, Sample> samples = new LinkedHashMap<>();
        benches.forEach(b -> samples.put(b.name(), new Sample(b)));
        List<List<Bench>> groups = byOperation(benches);
        int total = benches.size() * s.forks();
        int done = 0;
        try (PrintStream out = new PrintStream(new FileOutputStream(log.toFile(), true), true)) {
            OutputFormat format = OutputFormatFactory.createFormatInstance(out, VerboseMode.NORMAL);
            for (int round = 1; round <= s.forks(); round++) {
                Random shuffle = new Random(round);
                for (List<Bench> group : groups) {
                    List<Bench> order = new ArrayList<>(group);
                    Collections.shuffle(order, shuffle);
                    for (Bench b : order) {
                        done++;
                        runFork(s, b, format, samples.get(b.name()), round, done, total);
                    }
                }
            }
        }
        Instant finished = Instant.now();
        Report report = new Report(s, env, samples, started, finished, Environment.loadavg());
        Path md = report.write();
        System.out.println();
        System.out.print(Files.readString(md));
        System.out.println();
        System.out.println("bench: report " + md + " (took " + Duration.between(started, finished).toMinutes()
                + " min)");
        boolean failed = samples.values().stream().anyMatch(x -> !x.failures().isEmpty());
        return failed ? 1 : 0;
    }

    private static void runFork(Settings s, Bench b, OutputFormat format, Sample sample, int round, int done,
                                int total) {
        ChainedOptionsBuilder builder = new OptionsBuilder()
                .include("^" + Pattern.quote(b.benchmark()) + "$");
        b.params().forEach(builder::param);
        Options opts = builder
                .forks(1)
                .warmupForks(0)
                .warmupIterations(s.warmup())
                .warmupTime(TimeValue.milliseconds(s.warmupMs()))
                .measurementIterations(s.iterations())
                .measurementTime(TimeValue.milliseconds(s.timeMs()))
                .jvmArgsAppend(BenchJvm.all())
                .addProfiler(GCProfiler.class)
                .shouldFailOnError(true)
                .build();
        String prefix = String.format(Locale.ROOT, "[%3d/%d] round %d/%d  %-26s %-9s", done, total, round, s.forks(),
                b.operation(), b.method());
        try {
            Collection<RunResult> results = new Runner(opts, format).run();
            int before = sample.n();
            for (RunResult rr : results) {
                for (var br : rr.getBenchmarkResults()) {
                    List<Double> scores = new ArrayList<>();
                    List<Double> alloc = new ArrayList<>();
                    String unit = "";
                    for (IterationResult ir : br.getIterationResults()) {
                        scores.add(ir.getPrimaryResult().getScore());
                        unit = ir.getScoreUnit();
                        var secondary = ir.getSecondaryResults();
                        for (String key : secondary.keySet()) {
                            if (key.endsWith("gc.alloc.rate.norm")) {
                                alloc.add(secondary.get(key).getScore());
                            }
                        }
                    }
                    sample.addFork(scores, alloc, unit);
                }
            }
            if (sample.n() == before) {
                sample.addFailure("round " + round + ": no results (see the JMH log)");
                System.out.println(prefix + "  FAILED (no results; see the JMH log)");
            } else {
                List<Double> last = sample.scores().subList(before, sample.n());
                double mean = last.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
                System.out.printf(Locale.ROOT, "%s %12.1f %s  %8.1f B/op%n", prefix, mean, sample.unit(),
                        sample.allocPerOp());
            }
        } catch (RunnerException | RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            sample.addFailure("round " + round + ": " + root);
            System.out.println(prefix + "  FAILED: " + root);
        }
    }

    /**
     * {@code benches} without those whose class cannot run on this machine: a class that needs more than
     * {@code /dev/kvm} (such as {@code VfioType1Kernel}, which needs VFIO and QEMU's edu device, or {@code VdpaNetKernelLoopback}, which
     * needs {@code /dev/vhost-vdpa-0}) declares
     * {@code public static Optional<String> unavailable()}, the reason or empty; each class skipped is named once,
     * with its reason.
     */
    static List<Bench> available(List<Bench> benches) {
        Map<String, Optional<String>> why = new LinkedHashMap<>();
        for (Bench b : benches) {
            why.computeIfAbsent(b.className(), BenchMain::unavailable);
        }
        why.forEach((cls, reason) -> reason.ifPresent(r -> System.out.println(
                "bench: skipping " + cls.substring(cls.lastIndexOf('.') + 1) + ": " + r)));
        return benches.stream().filter(b -> why.get(b.className()).isEmpty()).toList();
    }

    private static Optional<String> unavailable(String className) {
        Method probe;
        try {
            probe = Class.forName(className, false, BenchMain.class.getClassLoader()).getMethod("unavailable");
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            return Optional.empty();
        }
        try {
            @SuppressWarnings("unchecked")
            Optional<String> reason = (Optional<String>) probe.invoke(null);
            return reason;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return Optional.of("its availability check failed: " + e);
        }
    }

    /**
     * The per-call and model benchmarks in this jar, one per method and combination of its class's
     * {@code @Param} values, filtered by the include patterns (matched against {@link Bench#name()}).
     */
    static List<Bench> discover(List<String> include) throws IOException {
        List<BenchmarkListEntry> entries;
        try (InputStream in = BenchMain.class.getResourceAsStream(BenchmarkList.BENCHMARK_LIST)) {
            if (in == null) {
                throw new IOException("no " + BenchmarkList.BENCHMARK_LIST + " on the class path: was the jar built "
                        + "with JMH's annotation processor?");
            }
            entries = BenchmarkList.readBenchmarkList(in);
        }
        List<Pattern> patterns = include.stream().map(Pattern::compile).toList();
        List<Bench> out = new ArrayList<>();
        for (BenchmarkListEntry e : entries) {
            String cls = e.getUserClassQName();
            String method = e.getUsername().substring(cls.length() + 1);
            for (Map<String, String> params : combinations(e.getParams().orElse(Map.of()))) {
                Bench b = Bench.of(cls, method, params);
                if (patterns.isEmpty() || patterns.stream().anyMatch(p -> p.matcher(b.name()).find())) {
                    out.add(b);
                }
            }
        }
        out.sort(Comparator.comparing((Bench b) -> b.model()).thenComparingInt(Bench::order)
                .thenComparing(Bench::className).thenComparing(Bench::paramText)
                .thenComparing(b -> b.via().map(Enum::ordinal).orElse(99)).thenComparing(Bench::method));
        return out;
    }

    /** Every combination of one value per parameter (one empty combination when there are none). */
    private static List<Map<String, String>> combinations(Map<String, String[]> params) {
        List<Map<String, String>> out = List.of(Map.of());
        for (var p : params.entrySet()) {
            List<Map<String, String>> next = new ArrayList<>();
            for (Map<String, String> partial : out) {
                for (String value : p.getValue()) {
                    Map<String, String> m = new LinkedHashMap<>(partial);
                    m.put(p.getKey(), value);
                    next.add(m);
                }
            }
            out = next;
        }
        return out;
    }

    private static List<List<Bench>> byOperation(List<Bench> benches) {
        Map<String, List<Bench>> groups = new LinkedHashMap<>();
        benches.forEach(b -> groups.computeIfAbsent(b.operation(), k -> new ArrayList<>()).add(b));
        return List.copyOf(groups.values());
    }
}
