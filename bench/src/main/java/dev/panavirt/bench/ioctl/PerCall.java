package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bench.support.Fixture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The base of the per-call benchmarks: one operation (per {@code @Param} value) a class, one
 * {@code @Benchmark} method per path named after {@link dev.panavirt.bench.Via}, JMH's settings for all of
 * them, and the {@link Fixture} each fork builds for the one path it runs and closes at the end.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public abstract class PerCall {
    /** This fork's fixture, set up by {@link #init(String)}. */
    protected Fixture f;

    /** JMH's setup: the fixture for the path this fork runs. */
    @Setup
    public void setup(BenchmarkParams params) throws ErrnoException {
        init(Fixture.path(params));
    }

    /**
     * Sets up the operation and what {@code path} needs ({@code "all"}: every path, for the smoke test); the
     * {@code @Param} fields must be set first.
     */
    public void init(String path) throws ErrnoException {
        f = new Fixture(path);
        build(f);
    }

    /** Creates the operation's VM, vCPU or file descriptor in {@code fixture}, with the call's target and buffer. */
    protected abstract void build(Fixture fixture) throws ErrnoException;

    /** Closes the fixture. */
    @TearDown
    public void tearDown() {
        f.close();
    }
}
