package dev.panavirt.bench.report;

import dev.panavirt.bench.Operation;
import dev.panavirt.bench.Via;
import java.util.Optional;

/**
 * One JMH benchmark as the report sees it.
 *
 * @param name      JMH's full name, {@code package.Class.method}
 * @param className the benchmark class
 * @param method    the benchmark method: a {@link Via} for per-call benchmarks, a workload for models
 * @param operation the {@link Operation} label (the class's simple name when it has none)
 * @param order     row order
 * @param note      what exactly is measured
 * @param maxRatioToC  the panavirt target ratio to C, or 0
 * @param model     whether this is a model throughput benchmark ({@code dev.panavirt.bench.model})
 */
public record Bench(String name, String className, String method, String operation, int order, String note,
                    double maxRatioToC, boolean model) {

    /** Package of model throughput benchmarks. */
    public static final String MODEL_PACKAGE = "dev.panavirt.bench.model.";

    /** Reads the class's {@link Operation}, without initializing it. */
    public static Bench of(String name, String className, String method) {
        Operation op = null;
        try {
            op = Class.forName(className, false, Bench.class.getClassLoader()).getAnnotation(Operation.class);
        } catch (ClassNotFoundException e) {
            // listed by JMH but not loadable: report it under its class name
        }
        String simple = className.substring(className.lastIndexOf('.') + 1);
        return new Bench(name, className, method, op != null ? op.value() : simple, op != null ? op.order() : 100,
                op != null ? op.note() : "", op != null ? op.panavirtMaxRatioToC() : 0,
                className.startsWith(MODEL_PACKAGE));
    }

    /** The path, for per-call benchmarks. */
    public Optional<Via> via() {
        return model ? Optional.empty() : Via.ofMethod(method);
    }

    /** {@code Class.method}, for progress lines. */
    public String shortName() {
        return className.substring(className.lastIndexOf('.') + 1) + "." + method;
    }
}
