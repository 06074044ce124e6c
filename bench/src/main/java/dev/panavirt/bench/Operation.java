package dev.panavirt.bench;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Names a benchmark class in the report. Each class under {@code dev.panavirt.bench.ioctl} is one
 * operation and each of its {@code @Benchmark} methods one path ({@link Via}); classes under
 * {@code dev.panavirt.bench.model} are model throughput benchmarks, one row per method.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface Operation {
    /** The operation as the report shows it, e.g. {@code KVM_CHECK_EXTENSION}. */
    String value();

    /** Row order in the report (ascending). */
    int order() default 100;

    /** One line on what exactly is measured, shown under the table. */
    String note() default "";

    /** A target ratio to C for the panavirt path that the report checks (0: none); reported, never enforced. */
    double panavirtMaxRatioToC() default 0;
}
