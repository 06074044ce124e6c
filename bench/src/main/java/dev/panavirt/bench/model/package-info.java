/**
 * Model throughput benchmarks (reserved; the model issues add them as they land).
 *
 * <p>Convention: one class per model, named after it with a {@code Throughput} suffix (for example
 * {@code ItsThroughput}, {@code EiointcThroughput}, {@code VdpaNetLoopback}, {@code VfioType1}),
 * annotated {@code @Operation("ITS commands")} and {@code @BenchmarkMode(Mode.Throughput)} with
 * {@code @OutputTimeUnit(TimeUnit.SECONDS)}; each {@code @Benchmark} method is one workload and counts
 * one model operation (a command, an update, a packet, a bitmap page) per invocation, or uses
 * {@code @OperationsPerInvocation}. Use the same {@code @Fork(jvmArgsAppend = ...)} as the ioctl
 * benchmarks ({@code BenchJvm}; the runner passes {@code BenchJvm.all()} to every fork anyway).
 * {@code bench/run} picks them up by package and reports them in a separate table of operations per
 * second with allocation per operation; no runner change is needed.
 *
 * <p>A model operation judged against a baseline measured in the same run (for example the type1 model's
 * GET_BITMAP against copying its bitmap, {@code VfioType1}) may use {@code Mode.AverageTime} in nanoseconds
 * instead, with the baseline as another {@code @Benchmark} method of the class and {@code @RatioTo} on the
 * methods the report divides by it.
 */
package dev.panavirt.bench.model;
