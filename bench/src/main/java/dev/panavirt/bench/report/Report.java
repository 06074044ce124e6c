package dev.panavirt.bench.report;

import dev.panavirt.bench.Via;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Turns the samples of a run into the Markdown report, the JSON record and the ratio chart.
 *
 * <p>Ratios to C divide means measured in separate forks of the same run; their error is propagated
 * from both means' relative errors (first order), so a ratio's error bar covers the noise of both.
 */
public final class Report {
    /** Below this many bytes per operation, JMH's gc.alloc.rate.norm is profiler noise: it counts as 0 B/op. */
    static final double ZERO_ALLOC = 1.0;

    private final Settings settings;
    private final Environment env;
    private final Map<String, Sample> samples;
    private final Instant started;
    private final Instant finished;
    private final String loadAfter;
    /** Operations in report order, each with its samples by path. */
    private final Map<String, Map<Via, Sample>> perCall = new LinkedHashMap<>();
    private final List<String> notes = new ArrayList<>();
    private final List<Sample> models = new ArrayList<>();
    private final Map<String, Robust.Estimate> ratioCache = new java.util.HashMap<>();

    public Report(Settings settings, Environment env, Map<String, Sample> samples, Instant started, Instant finished,
                  String loadAfter) {
        this.settings = settings;
        this.env = env;
        this.samples = samples;
        this.started = started;
        this.finished = finished;
        this.loadAfter = loadAfter;
        samples.values().stream()
                .sorted(java.util.Comparator.comparingInt((Sample s) -> s.bench().order())
                        .thenComparing(s -> s.bench().operation()))
                .forEach(s -> {
                    Bench b = s.bench();
                    if (b.model()) {
                        models.add(s);
                    } else {
                        b.via().ifPresent(v -> perCall.computeIfAbsent(b.operation(), k -> {
                            if (!b.note().isEmpty()) {
                                notes.add("**" + b.operation() + "**: " + b.note() + ".");
                            }
                            return new LinkedHashMap<>();
                        }).put(v, s));
                    }
                });
    }

    /** A mean with its error. */
    record Value(double mean, double error) {
        static Optional<Value> of(Sample s) {
            return s == null || !s.hasData() ? Optional.empty() : Optional.of(new Value(s.mean(), s.error()));
        }

        double relError() {
            return Double.isNaN(error) ? 0 : error / mean;
        }

        /** this / other, with the relative errors combined in quadrature. */
        Value over(Value other) {
            double r = mean / other.mean;
            return new Value(r, r * Math.hypot(relError(), other.relError()));
        }

        /** this - other, errors combined in quadrature. */
        Value minus(Value other) {
            return new Value(mean - other.mean, Math.hypot(nz(error), nz(other.error)));
        }

        private static double nz(double d) {
            return Double.isNaN(d) ? 0 : d;
        }
    }

    private Optional<Value> value(String op, Via via) {
        return Value.of(perCall.get(op).get(via));
    }

    /** JMH's view: the ratio of a path's mean to C's mean, when both ran. */
    Optional<Value> meanRatio(String op, Via via) {
        Optional<Value> c = value(op, Via.C);
        return value(op, via).flatMap(v -> c.map(v::over));
    }

    /** The median of a path's iterations with its 95% interval, when it ran. */
    Optional<Robust.Estimate> median(String op, Via via) {
        Sample s = perCall.get(op).get(via);
        return s == null || !s.hasData() ? Optional.empty() : Optional.of(Robust.median(s.scores()));
    }

    /** The ratio of a path's median to C's median with its 95% bootstrap interval, when both ran. */
    Optional<Robust.Estimate> ratio(String op, Via via) {
        return ratio(op, via, Via.C);
    }

    /** The ratio of medians {@code via / over} for an operation, when both ran. */
    Optional<Robust.Estimate> ratio(String op, Via via, Via over) {
        Sample a = perCall.get(op).get(via);
        Sample b = perCall.get(op).get(over);
        if (a == null || b == null || !a.hasData() || !b.hasData()) {
            return Optional.empty();
        }
        long seed = (op + "/" + via + "/" + over).hashCode();
        return Optional.of(ratioCache.computeIfAbsent(op + "/" + via + "/" + over,
                k -> Robust.ratioOfMedians(a.scores(), b.scores(), seed)));
    }

    // ---------------------------------------------------------------- Markdown

    public String markdown(String chartFile) {
        StringBuilder md = new StringBuilder();
        md.append("# panavirt benchmarks: ioctl paths against C, JNA and jnr-ffi (").append(settings.mode())
                .append(" mode)\n\n");
        header(md);
        if (!perCall.isEmpty()) {
            perCallTable(md);
            if (chartFile != null) {
                md.append("\n![Per-call cost relative to C](").append(chartFile).append(")\n");
            }
            allocationTable(md);
            targets(md);
            meanTable(md);
            md.append("\n## What each row measures\n\n");
            notes.forEach(n -> md.append("- ").append(n).append('\n'));
            md.append("\n## Paths\n\n");
            md.append("""
                    - **C (gcc -O2)**: a loop of the same call in `libpvbench.so` (bench/src/main/c/pvbench.c), one \
                    FFM downcall per 100 or 1000 calls, in its own fork of the same run; the baseline every ratio \
                    divides by.
                    - **panavirt**: the public API as users call it (`Kvm.checkExtension`, `Vcpu.getRegs/setRegs/run`, \
                    `Vm.getDirtyLog(slot, segment)`, `EventFd.signal`): errno capture, checks, exceptions on failure.
                    - **FFM + errno**: panavirt's syscall layer alone (`Libc.ioctl`/`Libc.write`): an FFM downcall \
                    with `captureCallState("errno")`, returning -errno; no wrapper. Its buffers and capture segment \
                    (and those of FFM raw and C) live in an automatic arena, which costs no session acquire per call.
                    - **FFM + errno, critical** (`KVM_CHECK_EXTENSION` only): the same downcall with                     `Linker.Option.critical(false)`, no thread-state transitions (`Libc.ioctlCritical`).
                    - **FFM raw**: the same downcall without errno capture; FFM + errno minus this is what capture \
                    costs.
                    - **JNA direct**: JNA direct mapping (`Native.register`) with `throws LastErrorException` (errno \
                    captured), buffers in JNA `Memory` allocated once.
                    - **jnr-ffi**: a jnr-ffi `LibC` interface from `LibraryLoader` (errno saved), buffers from \
                    `Memory.allocateDirect` allocated once.
                    - **jnr-posix** (where its API reaches): `POSIXFactory.getNativePOSIX()` as its users call it,                     ioctls through `LibC.syscall(SYS_ioctl, ...)` (it has no `ioctl`), writes through                     `POSIX.write` of a direct `ByteBuffer` allocated once (errno saved).
                    """);
        }
        if (!models.isEmpty()) {
            modelTable(md);
        }
        failures(md);
        return md.toString();
    }

    private void header(StringBuilder md) {
        DateTimeFormatter f = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);
        Duration took = Duration.between(started, finished);
        md.append("- **Run**: ").append(f.format(started));
        if (!settings.commit().isEmpty()) {
            md.append(", commit `").append(settings.commit()).append('`');
        }
        md.append(", ").append(samples.size()).append(" benchmarks in ").append(took.toMinutes()).append(" min ")
                .append(took.toSecondsPart()).append(" s\n");
        md.append("- **Measurement**: ").append(settings.describe()).append(". Each fork is one round over the "
                + "whole suite; within a round the paths of one operation run back to back in shuffled order, so "
                + "C and Java runs are interleaved and share the machine's state.\n");
        md.append("- **Statistics**: the main table gives the median of all iterations of all forks ± the larger "
                + "distance to the ends of its 95% confidence interval (order statistics), and the ratio of medians "
                + "to C (95% bootstrap interval in the targets table and the chart): on a shared machine, bursts of "
                + "load from other tenants only ever add time and drag the mean, not the median. JMH's own view, "
                + "mean ± 99.9% confidence half-width (Student's t), follows the targets.\n");
        md.append("- **Machine**: ").append(env.cpu()).append(", ").append(env.cores()).append(" CPUs")
                .append(env.hypervisor() ? ", itself a guest (KVM here is nested/paravirtual, so exits cost more "
                        + "than on bare metal)" : "")
                .append(", Linux ").append(env.kernel()).append("; load average ").append(env.loadBefore())
                .append(" at the start, ").append(loadAfter).append(" at the end\n");
        md.append("- **Software**: ").append(env.jdk()).append(", JMH ").append(env.version("jmh.version"))
                .append(", JNA ").append(env.version("jna.version")).append(", jnr-ffi ")
                .append(env.version("jnr-ffi.version")).append(", jnr-posix ")
                .append(env.version("jnr-posix.version")).append(", C harness built with `")
                .append(env.version("cc")).append(" -O2`\n");
    }

    private List<Via> columns() {
        return java.util.Arrays.stream(Via.values())
                .filter(v -> perCall.values().stream().anyMatch(m -> m.containsKey(v))).toList();
    }

    private void perCallTable(StringBuilder md) {
        md.append("\n## Per-call cost: median ns/op ± error (ratio to C)\n\n");
        table(md, (op, v) -> median(op, v).map(m -> {
            String cell = ns(m.value()) + " ± " + ns(m.halfWidth());
            return v == Via.C ? cell : cell + ratio(op, v).map(r -> " (" + x(r.value()) + ")").orElse("");
        }));
    }

    private void meanTable(StringBuilder md) {
        md.append("\n## JMH's view: mean ns/op ± 99.9% error (ratio of means to C)\n\n")
                .append("The mean counts every burst of interference from other tenants; compare it with the "
                        + "median table above to see how much of a path's time was the machine's.\n\n");
        table(md, (op, v) -> value(op, v).map(m -> {
            String cell = ns(m.mean()) + " ± " + ns(m.error());
            return v == Via.C ? cell : cell + meanRatio(op, v).map(r -> " (" + x(r.mean()) + ")").orElse("");
        }));
    }

    /** One row per operation, one column per path; {@code cell} gives a cell's text (empty: failed). */
    private void table(StringBuilder md, java.util.function.BiFunction<String, Via, Optional<String>> cell) {
        List<Via> cols = columns();
        md.append("| Operation |");
        cols.forEach(v -> md.append(' ').append(v.label()).append(" |"));
        md.append("\n|---|");
        cols.forEach(v -> md.append("---:|"));
        md.append('\n');
        for (var e : perCall.entrySet()) {
            String op = e.getKey();
            md.append("| ").append(op).append(" |");
            for (Via v : cols) {
                md.append(' ').append(e.getValue().get(v) == null ? "—" : cell.apply(op, v).orElse("failed"))
                        .append(" |");
            }
            md.append('\n');
        }
    }

    private void allocationTable(StringBuilder md) {
        List<Via> cols = columns();
        md.append("\n## Allocation: bytes per operation (JMH `-prof gc`, gc.alloc.rate.norm)\n\n")
                .append("Values under ").append((int) ZERO_ALLOC)
                .append(" B/op count as 0. The C loop allocates nothing per call, so its column is the floor: JMH's "
                        + "and the profiler's own bookkeeping spread over the operations of an iteration, higher for "
                        + "slow operations and short iterations. A path \"allocates nothing\" when it stays within "
                        + "1 B/op of that floor.\n\n| Operation |");
        cols.forEach(v -> md.append(' ').append(v.label()).append(" |"));
        md.append("\n|---|");
        cols.forEach(v -> md.append("---:|"));
        md.append('\n');
        for (var e : perCall.entrySet()) {
            md.append("| ").append(e.getKey()).append(" |");
            for (Via v : cols) {
                Sample s = e.getValue().get(v);
                md.append(' ').append(s == null || !s.hasData() ? "—" : bytes(s.allocPerOp())).append(" |");
            }
            md.append('\n');
        }
    }

    private void targets(StringBuilder md) {
        md.append("\n## Targets (reported, not enforced)\n\nJudged on the ratios of medians and their 95% "
                + "bootstrap intervals; \"within error\" means the interval reaches across the target.\n\n"
                + "| Target | Measured | Met |\n|---|---|---|\n");
        for (var e : perCall.entrySet()) {
            String op = e.getKey();
            Sample pv = e.getValue().get(Via.PANAVIRT);
            double max = pv != null ? pv.bench().maxRatioToC() : 0;
            if (max > 0) {
                Optional<Robust.Estimate> r = ratio(op, Via.PANAVIRT);
                md.append("| panavirt ≤ ").append(String.format(Locale.ROOT, "%.2f", max)).append("× C on ")
                        .append(op).append(" | ").append(r.map(Report::interval).orElse("not measured"))
                        .append(" | ").append(r.map(v -> verdictAtMost(v, max)).orElse("—")).append(" |\n");
            }
        }
        for (var e : perCall.entrySet()) {
            String op = e.getKey();
            Optional<Robust.Estimate> speedup = ratio(op, Via.JNA, Via.PANAVIRT);
            if (speedup.isEmpty()) {
                continue;
            }
            String overhead = "";
            Optional<Robust.Estimate> c = median(op, Via.C);
            if (c.isPresent()) {
                Robust.Estimate pv = median(op, Via.PANAVIRT).orElseThrow();
                Robust.Estimate jna = median(op, Via.JNA).orElseThrow();
                double pvOver = pv.value() - c.get().value();
                double jnaOver = jna.value() - c.get().value();
                double noise = Math.hypot(pv.halfWidth(), c.get().halfWidth());
                overhead = pvOver <= noise
                        ? "; above C: JNA " + signedNs(jnaOver) + " ns, panavirt " + signedNs(pvOver)
                        + " ns (within noise of C)"
                        : "; above C: JNA " + signedNs(jnaOver) + " ns vs panavirt " + signedNs(pvOver) + " ns = "
                        + x(jnaOver / pvOver);
            }
            md.append("| panavirt ≥ 3× faster than JNA per call: ").append(op).append(" | ")
                    .append(interval(speedup.get())).append(" per call").append(overhead).append(" | ")
                    .append(verdictAtLeast(speedup.get(), 3)).append(" |\n");
        }
        for (var e : perCall.entrySet()) {
            Sample pv = e.getValue().get(Via.PANAVIRT);
            if (pv != null && pv.hasData()) {
                double b = pv.allocPerOp();
                Sample c = e.getValue().get(Via.C);
                double floor = c != null && c.hasData() && !Double.isNaN(c.allocPerOp()) ? c.allocPerOp() : 0;
                md.append("| panavirt 0 B/op: ").append(e.getKey()).append(" | ").append(bytes(b));
                if (floor >= ZERO_ALLOC) {
                    md.append(" (C floor ").append(bytes(floor)).append(')');
                }
                md.append(" | ").append(Double.isNaN(b) ? "—" : allocatesNothing(b, floor) ? "yes" : "**no**")
                        .append(" |\n");
            }
        }
    }

    /**
     * Whether a path allocates nothing per call: it stays within 1 B/op of the C path's reading, which
     * allocates nothing per call by construction (what JMH reports for it is bookkeeping spread over the
     * iteration's operations, so it grows for slow operations).
     */
    static boolean allocatesNothing(double bytesPerOp, double cFloor) {
        return bytesPerOp < Math.max(ZERO_ALLOC, cFloor + ZERO_ALLOC);
    }

    private static String interval(Robust.Estimate r) {
        return x(r.value()) + " (" + fmt2(r.low()) + "–" + fmt2(r.high()) + ")";
    }

    static String verdictAtMost(Robust.Estimate v, double max) {
        if (v.value() <= max) {
            return v.high() <= max ? "yes" : "yes (within error)";
        }
        return v.low() <= max ? "no (within error)" : "**no**";
    }

    static String verdictAtLeast(Robust.Estimate v, double min) {
        if (v.value() >= min) {
            return v.low() >= min ? "yes" : "yes (within error)";
        }
        return v.high() >= min ? "no (within error)" : "**no**";
    }

    private void modelTable(StringBuilder md) {
        boolean ratios = models.stream().anyMatch(s -> s.bench().ratioToName().isPresent());
        md.append("\n## Models and kernel workloads: throughput or time per operation\n\n| Model | Workload | Score ± error | B/op |")
                .append(ratios ? " Ratio to baseline (95% CI) | Target |\n|---|---|---:|---:|---:|---|\n"
                        : "\n|---|---|---:|---:|\n");
        List<String> noted = new ArrayList<>();
        for (Sample s : models) {
            md.append("| ").append(s.bench().operation()).append(" | ").append(s.bench().method()).append(" | ");
            if (s.hasData()) {
                md.append(String.format(Locale.ROOT, "%,.0f ± %,.0f %s", s.mean(), s.error(), s.unit()));
            } else {
                md.append("failed");
            }
            md.append(" | ").append(s.hasData() ? bytes(s.allocPerOp()) : "—").append(" |");
            if (ratios) {
                Optional<Robust.Estimate> r = modelRatio(s);
                String base = s.bench().ratioTo();
                md.append(' ').append(base.isEmpty() ? "" : r.map(v -> interval(v) + " of " + base)
                        .orElse("not measured")).append(" |");
                double max = s.bench().ratioAtMost();
                md.append(' ').append(max <= 0 ? "" : "≤ " + fmt2(max) + "× " + base + ": "
                        + r.map(v -> verdictAtMost(v, max)).orElse("—")).append(" |");
            }
            md.append('\n');
            if (!s.bench().note().isEmpty() && !noted.contains(s.bench().operation())) {
                noted.add(s.bench().operation());
            }
        }
        if (ratios) {
            md.append("\nRatios are of medians (time per operation over the baseline's, or the baseline's "
                    + "throughput over this one's: above 1 is slower than the baseline), with their 95% bootstrap "
                    + "interval; the baseline is measured in the same run, interleaved.\n");
        }
        for (Sample s : models) {
            if (noted.remove(s.bench().operation())) {
                md.append("\n**").append(s.bench().operation()).append("**: ").append(s.bench().note()).append(".\n");
            }
        }
    }

    /**
     * A model benchmark's ratio of medians to its {@link Bench#ratioTo() baseline}, slower-is-above-1: time over
     * time for time-per-operation units, the baseline's throughput over this one's otherwise.
     */
    Optional<Robust.Estimate> modelRatio(Sample s) {
        Optional<String> baseName = s.bench().ratioToName();
        if (baseName.isEmpty()) {
            return Optional.empty();
        }
        Sample b = samples.get(baseName.get());
        if (b == null || !b.hasData() || !s.hasData()) {
            return Optional.empty();
        }
        boolean time = s.unit().endsWith("/op");
        long seed = (s.bench().name() + "/" + baseName.get()).hashCode();
        return Optional.of(ratioCache.computeIfAbsent(s.bench().name() + "/" + baseName.get(),
                k -> time ? Robust.ratioOfMedians(s.scores(), b.scores(), seed)
                        : Robust.ratioOfMedians(b.scores(), s.scores(), seed)));
    }

    private void failures(StringBuilder md) {
        List<Sample> failed = samples.values().stream().filter(s -> !s.failures().isEmpty()).toList();
        if (!failed.isEmpty()) {
            md.append("\n## Failures\n\n");
            for (Sample s : failed) {
                md.append("- `").append(s.bench().shortName()).append("`: ")
                        .append(String.join("; ", s.failures())).append('\n');
            }
        }
    }

    static String ns(double v) {
        if (Double.isNaN(v)) {
            return "?";
        }
        return Math.abs(v) >= 100 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.1f", v);
    }

    static String signedNs(double v) {
        return (v >= 0 ? "+" : "−") + ns(Math.abs(v));
    }

    static String x(double r) {
        return String.format(Locale.ROOT, "%.2f×", r);
    }

    static String fmt2(double r) {
        return Double.isNaN(r) ? "?" : String.format(Locale.ROOT, "%.2f", r);
    }

    static String bytes(double b) {
        if (Double.isNaN(b)) {
            return "—";
        }
        if (b < ZERO_ALLOC) {
            return String.format(Locale.ROOT, "≈ 0 (%.2f)", b);
        }
        return String.format(Locale.ROOT, "%,.0f", b);
    }

    // ---------------------------------------------------------------- chart data

    /** Operation labels in report order, for the chart. */
    List<String> operations() {
        return List.copyOf(perCall.keySet());
    }

    /** Paths other than C that ran, for the chart's series. */
    List<Via> chartSeries() {
        return columns().stream().filter(v -> v != Via.C).toList();
    }

    // ---------------------------------------------------------------- JSON

    /** Everything needed to draw the report again ({@code bench/run --report-from FILE}) or analyse it. */
    public String json() {
        StringBuilder j = new StringBuilder();
        j.append("{\n  \"mode\": ").append(q(settings.mode()))
                .append(",\n  \"settings\": ").append(q(settings.describe()))
                .append(",\n  \"forks\": ").append(settings.forks())
                .append(",\n  \"warmupIterations\": ").append(settings.warmup())
                .append(",\n  \"warmupMs\": ").append(settings.warmupMs())
                .append(",\n  \"iterations\": ").append(settings.iterations())
                .append(",\n  \"iterationMs\": ").append(settings.timeMs())
                .append(",\n  \"commit\": ").append(q(settings.commit()))
                .append(",\n  \"started\": ").append(q(started.toString()))
                .append(",\n  \"finished\": ").append(q(finished.toString()))
                .append(",\n  \"cpu\": ").append(q(env.cpu()))
                .append(",\n  \"cores\": ").append(env.cores())
                .append(",\n  \"hypervisor\": ").append(env.hypervisor())
                .append(",\n  \"kernel\": ").append(q(env.kernel()))
                .append(",\n  \"jdk\": ").append(q(env.jdk()))
                .append(",\n  \"loadBefore\": ").append(q(env.loadBefore()))
                .append(",\n  \"loadAfter\": ").append(q(loadAfter))
                .append(",\n  \"versions\": {");
        List<String> keys = env.versions().stringPropertyNames().stream().sorted().toList();
        for (int i = 0; i < keys.size(); i++) {
            j.append(i == 0 ? "" : ", ").append(q(keys.get(i))).append(": ")
                    .append(q(env.versions().getProperty(keys.get(i))));
        }
        j.append("},\n  \"benchmarks\": [");
        boolean first = true;
        for (Sample s : samples.values()) {
            j.append(first ? "\n" : ",\n");
            first = false;
            Bench b = s.bench();
            Robust.Estimate m = s.hasData() ? Robust.median(s.scores()) : Robust.median(List.of());
            j.append("    {\"name\": ").append(q(b.name())).append(", \"operation\": ").append(q(b.operation()))
                    .append(", \"class\": ").append(q(b.className())).append(", \"path\": ").append(q(b.method()))
                    .append(", \"params\": {");
            String sep = "";
            for (var p : b.params().entrySet()) {
                j.append(sep).append(q(p.getKey())).append(": ").append(q(p.getValue()));
                sep = ", ";
            }
            j.append("}, \"unit\": ").append(q(s.unit()))
                    .append(", \"n\": ").append(s.n())
                    .append(", \"median\": ").append(num(m.value()))
                    .append(", \"medianLow\": ").append(num(m.low()))
                    .append(", \"medianHigh\": ").append(num(m.high()))
                    .append(", \"mean\": ").append(num(s.hasData() ? s.mean() : Double.NaN))
                    .append(", \"error\": ").append(num(s.hasData() ? s.error() : Double.NaN))
                    .append(", \"allocBytesPerOp\": ").append(num(s.allocPerOp()))
                    .append(", \"forkMeans\": ").append(nums(s.forkMeans()))
                    .append(", \"iterations\": ").append(nums(s.scores()))
                    .append(", \"failures\": [");
            for (int i = 0; i < s.failures().size(); i++) {
                j.append(i == 0 ? "" : ", ").append(q(s.failures().get(i)));
            }
            j.append("]}");
        }
        j.append("\n  ]\n}\n");
        return j.toString();
    }

    private static String nums(List<Double> l) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < l.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(num(l.get(i)));
        }
        return b.append(']').toString();
    }

    private static String num(double d) {
        return Double.isNaN(d) || Double.isInfinite(d) ? "null" : String.format(Locale.ROOT, "%.4f", d);
    }

    private static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    // ---------------------------------------------------------------- files

    /** Writes report, JSON and chart under {@link Settings#out()}; returns the Markdown file. */
    public Path write() throws IOException {
        Path dir = settings.out();
        Files.createDirectories(dir);
        String mode = settings.mode();
        Files.writeString(dir.resolve("results-" + mode + ".json"), json());
        String chart = null;
        if (!perCall.isEmpty()) {
            try {
                RatioChart.write(this, dir.resolve("ratios-" + mode), settings.describe());
                chart = "ratios-" + mode + ".png";
            } catch (IOException | RuntimeException | LinkageError e) {
                System.err.println("bench: could not draw the chart (" + e + "); writing the report without it");
            }
        }
        Path md = dir.resolve("report-" + mode + ".md");
        Files.writeString(md, markdown(chart));
        return md;
    }
}
