package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_run;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;

/**
 * A {@code KVM_RUN} round trip of a real-mode guest that leaves with the same exit every time, a PIO or an
 * MMIO one ({@link #exit}); every path checks the exit reason in the vCPU's {@code kvm_run}.
 */
@Operation(value = "KVM_RUN (PIO exit)", param = "exit=pio", order = 40, panavirtMaxRatioToC = 1.05,
        note = "one KVM_RUN round trip: the real-mode guest loops on out 0x80, al, so every run returns KVM_EXIT_IO")
@Operation(value = "KVM_RUN (MMIO exit)", param = "exit=mmio", order = 50, panavirtMaxRatioToC = 1.05,
        note = "one KVM_RUN round trip: the real-mode guest loops on a 1-byte store to unbacked 0xf000, so every "
                + "run returns KVM_EXIT_MMIO")
public class KvmRun extends PerCall {
    static final int N = 100;
    static final long REQUEST = kvm_h.KVM_RUN();
    static final long EXIT_REASON = kvm_run.exit_reason$offset();

    /** The guest's exit: {@code pio} ({@link Fixture#PIO_LOOP}) or {@code mmio} ({@link Fixture#MMIO_LOOP}). */
    @Param({"pio", "mmio"})
    public String exit;

    private Vcpu vcpu;
    private int expected;
    private Class<? extends VcpuExit> expectedType;
    private MemorySegment exitReason;

    @Override
    protected void build(Fixture fixture) throws ErrnoException {
        boolean pio = switch (exit) {
            case "pio" -> true;
            case "mmio" -> false;
            default -> throw new IllegalArgumentException("exit " + exit);
        };
        vcpu = fixture.guest(pio ? Fixture.PIO_LOOP : Fixture.MMIO_LOOP).vcpu(0);
        expected = pio ? kvm_h.KVM_EXIT_IO() : kvm_h.KVM_EXIT_MMIO();
        expectedType = pio ? VcpuExit.Io.class : VcpuExit.Mmio.class;
        exitReason = vcpu.kvmRun().asSlice(EXIT_REASON, 4);
        fixture.target(vcpu.rawFd(), "KVM_RUN").buffer(fixture.wrap(vcpu.kvmRun()));
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return CHarness.runLoop(f.fd(), REQUEST, exitReason, expected, N);
    }

    @Benchmark
    public VcpuExit panavirt() throws ErrnoException {
        VcpuExit e = vcpu.run();
        if (!expectedType.isInstance(e)) {
            throw new IllegalStateException("unexpected exit " + e.reason());
        }
        return e;
    }

    @Benchmark
    public int ffmErrno() {
        Call.ffmErrno(f, REQUEST, 0L);
        return Call.expectExit(f.segment().get(ValueLayout.JAVA_INT, EXIT_REASON), expected);
    }

    @Benchmark
    public int ffm() {
        Call.ffm(f, REQUEST, 0L);
        return Call.expectExit(f.segment().get(ValueLayout.JAVA_INT, EXIT_REASON), expected);
    }

    @Benchmark
    public int jna() {
        Call.jna(f, REQUEST, 0L);
        return Call.expectExit(f.jna().getInt(EXIT_REASON), expected);
    }

    @Benchmark
    public int jnr() {
        Call.jnr(f, REQUEST, 0L);
        return Call.expectExit(f.jnr().getInt(EXIT_REASON), expected);
    }
}
