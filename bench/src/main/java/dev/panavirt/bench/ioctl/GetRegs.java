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
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.X86Vcpu;
import dev.panavirt.sys.Libc;
import dev.panavirt.testkit.TestGuest;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/** {@code KVM_GET_REGS} on a stopped real-mode vCPU. */
@Operation(value = "KVM_GET_REGS", order = 20,
        note = "into a 144-byte kvm_regs buffer that each path allocated once")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class GetRegs {
    static final int N = 1000;
    static final long REQUEST = kvm_h.KVM_GET_REGS();
    static final int SIZE = (int) kvm_regs.sizeof();

    /** The FFM and C paths' memory: an automatic arena, whose segments cost no session acquire per downcall. */
    private final Arena arena = Arena.ofAuto();
    private TestGuest guest;
    private Vcpu vcpu;
    private int fd;
    private MemorySegment capture;
    /** panavirt's own buffer (the vCPU's), for the panavirt path. */
    private MemorySegment regs;
    /** A kvm_regs the FFM and C paths use. */
    private MemorySegment buf;
    private com.sun.jna.Memory jnaBuf;
    private jnr.ffi.Pointer jnrBuf;

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
        regs = X86Vcpu.of(vcpu).getRegs();
        buf = arena.allocate(SIZE, 16).copyFrom(regs);
        byte[] bytes = buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        if (Fixtures.wants(path, "jna")) {
            jnaBuf = new com.sun.jna.Memory(SIZE);
            jnaBuf.write(0, bytes, 0, SIZE);
        }
        if (Fixtures.wants(path, "jnr")) {
            jnrBuf = jnr.ffi.Memory.allocateDirect(JnrLibc.RUNTIME, SIZE);
            jnrBuf.put(0, bytes, 0, SIZE);
        }
    }

    @TearDown
    public void tearDown() {
        guest.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return CHarness.ioctlLoop(fd, REQUEST, buf, N);
    }

    @Benchmark
    public MemorySegment panavirt() throws ErrnoException {
        return X86Vcpu.of(vcpu).getRegs();
    }

    @Benchmark
    public int ffmErrno() {
        return Fixtures.check(Libc.ioctl(capture, fd, REQUEST, buf), "KVM_GET_REGS");
    }

    @Benchmark
    public int ffm() {
        return Fixtures.check(RawFfm.ioctl(fd, REQUEST, buf), "KVM_GET_REGS");
    }

    @Benchmark
    public int jna() {
        return JnaLibc.ioctl(fd, REQUEST, jnaBuf);
    }

    @Benchmark
    public int jnr() {
        return Fixtures.checkJnr(JnrLibc.C.ioctl(fd, REQUEST, jnrBuf), "KVM_GET_REGS");
    }
}
