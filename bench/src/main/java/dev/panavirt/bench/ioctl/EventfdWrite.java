package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bench.support.Fixtures;
import dev.panavirt.bench.support.JnaLibc;
import dev.panavirt.bench.support.JnrLibc;
import dev.panavirt.bench.support.RawFfm;
import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/** A plain eventfd write (no KVM): the floor under irqfd and ioeventfd signalling. */
@Operation(value = "eventfd write", order = 80,
        note = "8-byte write of 1 to a plain eventfd nobody reads (no KVM involved)")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class EventfdWrite {
    static final int N = 1000;
    static final int GSI = 5;

    /** The FFM and C paths' memory: an automatic arena, whose segments cost no session acquire per downcall. */
    private final Arena arena = Arena.ofAuto();
    private EventFd event;
    private int fd;
    private MemorySegment capture;
    private MemorySegment one;
    private com.sun.jna.Memory jnaOne;
    private jnr.ffi.Pointer jnrOne;

    @Setup
    public void setup(BenchmarkParams params) throws ErrnoException {
        init(Fixtures.path(params));
    }

    /** Sets up the VM and what {@code path} needs ({@code "all"}: every path, for the smoke test). */
    public void init(String path) throws ErrnoException {
        event = EventFd.create(0);
        fd = event.rawFd();
        capture = Libc.newCapture(arena);
        one = arena.allocate(8, 8).fill((byte) 0);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        if (Fixtures.wants(path, "jna")) {
            jnaOne = new com.sun.jna.Memory(8);
            jnaOne.setLong(0, 1L);
        }
        if (Fixtures.wants(path, "jnr")) {
            jnrOne = jnr.ffi.Memory.allocateDirect(JnrLibc.RUNTIME, 8);
            jnrOne.putLong(0, 1L);
        }
    }

    @TearDown
    public void tearDown() {
        event.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return CHarness.writeLoop(fd, one, 8, N);
    }

    @Benchmark
    public void panavirt() throws ErrnoException {
        event.signal(1);
    }

    @Benchmark
    public long ffmErrno() {
        return Fixtures.check(Libc.write(capture, fd, one, 8), "write(eventfd)");
    }

    @Benchmark
    public long ffm() {
        return Fixtures.check(RawFfm.write(fd, one, 8), "write(eventfd)");
    }

    @Benchmark
    public long jna() {
        return JnaLibc.write(fd, jnaOne, 8);
    }

    @Benchmark
    public long jnr() {
        return Fixtures.checkJnr(JnrLibc.C.write(fd, jnrOne, 8), "write(eventfd)");
    }
}
