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
import dev.panavirt.kvm.Cap;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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

/** {@code KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY)} on the system fd: the bare syscall path, no VM. */
@Operation(value = "KVM_CHECK_EXTENSION", order = 10, panavirtMaxRatioToC = 1.10,
        note = "KVM_CAP_USER_MEMORY on /dev/kvm; the kernel answers from a switch, so this is the bare ioctl path")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class CheckExtension {
    static final int N = 1000;
    static final long REQUEST = kvm_h.KVM_CHECK_EXTENSION();
    static final Cap CAP = Cap.USER_MEMORY;
    static final long CAP_NUMBER = CAP.number();

    /** The FFM and C paths' memory: an automatic arena, whose segments cost no session acquire per downcall. */
    private final Arena arena = Arena.ofAuto();
    private Kvm kvm;
    private int fd;
    private MemorySegment capture;

    @Setup
    public void setup() throws ErrnoException {
        kvm = Kvm.open();
        fd = kvm.rawFd();
        capture = Libc.newCapture(arena);
    }

    @TearDown
    public void tearDown() {
        kvm.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return CHarness.ioctlLoop(fd, REQUEST, CAP_NUMBER, N);
    }

    @Benchmark
    public int panavirt() throws ErrnoException {
        return kvm.checkExtension(CAP);
    }

    @Benchmark
    public int ffmErrno() {
        return Fixtures.check(Libc.ioctl(capture, fd, REQUEST, CAP_NUMBER), "KVM_CHECK_EXTENSION");
    }

    @Benchmark
    public int ffm() {
        return Fixtures.check(RawFfm.ioctl(fd, REQUEST, CAP_NUMBER), "KVM_CHECK_EXTENSION");
    }

    @Benchmark
    public int jna() {
        return JnaLibc.ioctl(fd, REQUEST, CAP_NUMBER);
    }

    @Benchmark
    public int jnr() {
        return Fixtures.checkJnr(JnrLibc.C.ioctl(fd, REQUEST, CAP_NUMBER), "KVM_CHECK_EXTENSION");
    }
}
