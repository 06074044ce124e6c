package dev.panavirt.bench;

import java.lang.annotation.ElementType;
import java.lang.annotation.Repeatable;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Names a benchmark class, or one value of its JMH {@code @Param}, in the report. Each class under
 * {@code dev.panavirt.bench.ioctl} is one operation per parameter value (one annotation each, told apart by
 * {@link #param()}) and each of its {@code @Benchmark} methods one path ({@link Via}); classes under
 * {@code dev.panavirt.bench.model} are model throughput benchmarks, one row per method.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Repeatable(Operation.List.class)
public @interface Operation {
    /** The operation as the report shows it, e.g. {@code KVM_CHECK_EXTENSION}. */
    String value();

    /**
     * The parameter value this row stands for, as {@code name=value} (e.g. {@code exit=pio}; several joined by
     * commas in name order); empty for a class without {@code @Param}.
     */
    String param() default "";

    /** Row order in the report (ascending). */
    int order() default 100;

    /** One line on what exactly is measured, shown under the table. */
    String note() default "";

    /** A target ratio to C for the panavirt path that the report checks (0: none); reported, never enforced. */
    double panavirtMaxRatioToC() default 0;

    /** The {@link Operation}s of a class with a {@code @Param}, one per value. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface List {
        /** One per parameter value. */
        Operation[] value();
    }
}
