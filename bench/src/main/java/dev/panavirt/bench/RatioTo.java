package dev.panavirt.bench;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Puts a model benchmark ({@code dev.panavirt.bench.model}) in relation to a baseline measured in the same run:
 * the report divides this method's median by the median of {@link #value()}, a {@code @Benchmark} method of the
 * same class with the same {@code @Param} values, and gives the ratio's 95% bootstrap interval (as it does for
 * the per-call paths over C). For time-per-operation modes the ratio is time over time; for throughput modes
 * it is the baseline's throughput over this one's, so a ratio above 1 always means "slower than the baseline".
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface RatioTo {
    /** The baseline benchmark method, in the same class. */
    String value();

    /** A target: this method's ratio to the baseline at most this (0: none); reported, never enforced. */
    double atMost() default 0;
}
