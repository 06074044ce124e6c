package dev.panavirt.bench.report;

import dev.panavirt.bench.Operation;
import dev.panavirt.bench.RatioTo;
import dev.panavirt.bench.Via;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * One JMH benchmark, with one value of each of its class's {@code @Param}s, as the report sees it.
 *
 * @param name      {@code package.Class.method}, followed by {@code :}{@link #paramText()} when it has parameters:
 *                  unique per report row and path
 * @param className the benchmark class
 * @param method    the benchmark method: a {@link Via} for per-call benchmarks, a workload for models
 * @param params    the JMH parameter values this benchmark runs with, by name (empty when it has none)
 * @param operation the {@link Operation} label (the class's simple name when it has none)
 * @param order     row order
 * @param note      what exactly is measured
 * @param maxRatioToC  the panavirt target ratio to C, or 0
 * @param model     whether this is a workload benchmark, reported in the models' table: a model benchmark
 *                  ({@code dev.panavirt.bench.model}), or a kernel workload whose methods are not paths
 *                  ({@link Via}), such as {@code ioctl.VfioType1Kernel}
 * @param ratioTo   the baseline method of the same class this one is divided by ({@link RatioTo}), or empty
 * @param ratioAtMost the target for that ratio, or 0
 */
public record Bench(String name, String className, String method, SortedMap<String, String> params,
                    String operation, int order, String note, double maxRatioToC, boolean model, String ratioTo,
                    double ratioAtMost) {

    /** Package of model throughput benchmarks. */
    public static final String MODEL_PACKAGE = "dev.panavirt.bench.model.";

    /**
     * Reads the class's {@link Operation} for these parameter values, without initializing the class: the one
     * whose {@link Operation#param()} names them, else the class's general one with the values appended to its
     * label, else the class's simple name.
     *
     * @param params one value per {@code @Param} of the class (empty when it has none)
     */
    public static Bench of(String className, String method, Map<String, String> params) {
        SortedMap<String, String> p = Collections.unmodifiableSortedMap(new TreeMap<>(params));
        String text = paramText(p);
        Class<?> cls = load(className);
        Operation[] ops = cls == null ? new Operation[0] : cls.getAnnotationsByType(Operation.class);
        Optional<RatioTo> ratio = cls == null ? Optional.empty() : Arrays.stream(cls.getMethods())
                .filter(m -> m.getName().equals(method) && m.isAnnotationPresent(RatioTo.class))
                .map(m -> m.getAnnotation(RatioTo.class)).findFirst();
        Optional<Operation> exact = Arrays.stream(ops).filter(o -> o.param().equals(text)).findFirst();
        Optional<Operation> op = exact.or(() -> Arrays.stream(ops).filter(o -> o.param().isEmpty()).findFirst());
        String label = op.map(Operation::value).orElse(className.substring(className.lastIndexOf('.') + 1))
                + (exact.isPresent() || text.isEmpty() ? "" : " (" + text + ")");
        return new Bench(className + "." + method + (text.isEmpty() ? "" : ":" + text), className, method, p, label,
                op.map(Operation::order).orElse(100), op.map(Operation::note).orElse(""),
                op.map(Operation::panavirtMaxRatioToC).orElse(0.0),
                className.startsWith(MODEL_PACKAGE) || Via.ofMethod(method).isEmpty(),
                ratio.map(RatioTo::value).orElse(""), ratio.map(RatioTo::atMost).orElse(0.0));
    }

    private static Class<?> load(String className) {
        try {
            return Class.forName(className, false, Bench.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return null;   // listed by JMH but not loadable: reported under its class name
        }
    }

    /** The {@link #name()} of the baseline this benchmark is divided by ({@link #ratioTo()}), or empty. */
    public Optional<String> ratioToName() {
        if (ratioTo.isEmpty()) {
            return Optional.empty();
        }
        String text = paramText();
        return Optional.of(className + "." + ratioTo + (text.isEmpty() ? "" : ":" + text));
    }

    private static String paramText(SortedMap<String, String> params) {
        return params.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
    }

    /** The parameter values as {@code name=value}, joined by commas in name order; empty when there are none. */
    public String paramText() {
        return paramText(params);
    }

    /** JMH's own name of the benchmark method, {@code package.Class.method}, without parameters. */
    public String benchmark() {
        return className + "." + method;
    }

    /** The path, for per-call benchmarks. */
    public Optional<Via> via() {
        return model ? Optional.empty() : Via.ofMethod(method);
    }

    /** {@code Class.method} (with {@code :name=value} when it has parameters), for progress lines. */
    public String shortName() {
        return name.substring(className.lastIndexOf('.') + 1);
    }
}
