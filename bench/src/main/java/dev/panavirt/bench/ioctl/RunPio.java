package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bench.support.Fixtures;
import dev.panavirt.bench.support.JnaLibc;
import dev.panavirt.bench.support.JnrLibc;
import dev.panavirt.bench.support.RawFfm;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_run;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import dev.panavirt.sys.Libc;
import dev.panavirt.testkit.TestGuest;
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

/** A {@code KVM_RUN} round trip ending in {@code KVM_EXIT_IO}; every path checks the exit reason. */
@Operation(value = "KVM_RUN (PIO exit)", order = 40, panavirtMaxRatioToC = 1.05,
        note = "one KVM_RUN round trip: the real-mode guest loops on out 0x80, al, so every run returns KVM_EXIT_IO")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class RunPio {
    static final int N = 100;
    static final long REQUEST = kvm_h.KVM_RUN();
    static final int EXPECTED = kvm_h.KVM_EXIT_IO();
    static final long EXIT_REASON = kvm_run.exit_reason$offset();

    /** The FFM and C paths' memory: an automatic arena, whose segments cost no session acquire per downcall. */
    private final Arena arena = Arena.ofAuto();
    private TestGuest guest;
    private Vcpu vcpu;
    private int fd;
    private MemorySegment capture;
    private MemorySegment run;
    private MemorySegment exitReason;
    private com.sun.jna.Pointer jnaRun;
    private jnr.ffi.Pointer jnrRun;

    @Setup
    public void setup(BenchmarkParams params) throws ErrnoException {
        init(Fixtures.path(params));
    }

    /** Sets up the VM and what {@code path} needs ({@code "all"}: every path, for the smoke test). */
    public void init(String path) throws ErrnoException {
        guest = Fixtures.realMode(Fixtures.PIO_LOOP);
        vcpu = guest.vcpu(0);
        fd = vcpu.rawFd();
        capture = Libc.newCapture(arena);
        run = vcpu.kvmRun();
        exitReason = run.asSlice(EXIT_REASON, 4);
        if (Fixtures.wants(path, "jna")) {
            jnaRun = new com.sun.jna.Pointer(run.address());
        }
        if (Fixtures.wants(path, "jnr")) {
            jnrRun = jnr.ffi.Pointer.wrap(JnrLibc.RUNTIME, run.address());
        }
    }

    @TearDown
    public void tearDown() {
        guest.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return CHarness.runLoop(fd, REQUEST, exitReason, EXPECTED, N);
    }

    @Benchmark
    public VcpuExit panavirt() throws ErrnoException {
        VcpuExit exit = vcpu.run();
        if (!(exit instanceof VcpuExit.Io)) {
            throw new IllegalStateException("unexpected exit " + exit.reason());
        }
        return exit;
    }

    @Benchmark
    public int ffmErrno() {
        Fixtures.check(Libc.ioctl(capture, fd, REQUEST, 0L), "KVM_RUN");
        return Fixtures.expectExit(run.get(ValueLayout.JAVA_INT, EXIT_REASON), EXPECTED);
    }

    @Benchmark
    public int ffm() {
        Fixtures.check(RawFfm.ioctl(fd, REQUEST, 0L), "KVM_RUN");
        return Fixtures.expectExit(run.get(ValueLayout.JAVA_INT, EXIT_REASON), EXPECTED);
    }

    @Benchmark
    public int jna() {
        JnaLibc.ioctl(fd, REQUEST, 0L);
        return Fixtures.expectExit(jnaRun.getInt(EXIT_REASON), EXPECTED);
    }

    @Benchmark
    public int jnr() {
        Fixtures.checkJnr(JnrLibc.C.ioctl(fd, REQUEST, 0L), "KVM_RUN");
        return Fixtures.expectExit(jnrRun.getInt(EXIT_REASON), EXPECTED);
    }
}
