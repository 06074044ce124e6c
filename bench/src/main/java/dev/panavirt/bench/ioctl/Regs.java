package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.X86Vcpu;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;

/**
 * {@code KVM_GET_REGS} or {@code KVM_SET_REGS} ({@link #direction}) on a stopped real-mode vCPU, with a
 * 144-byte {@code kvm_regs} each path allocated once and filled with the vCPU's valid state.
 */
@Operation(value = "KVM_GET_REGS", param = "direction=get", order = 20,
        note = "into a 144-byte kvm_regs buffer that each path allocated once")
@Operation(value = "KVM_SET_REGS", param = "direction=set", order = 30,
        note = "from a 144-byte kvm_regs buffer that each path allocated and filled once")
public class Regs extends PerCall {
    static final int N = 1000;

    /** {@code get} ({@code KVM_GET_REGS}) or {@code set} ({@code KVM_SET_REGS}). */
    @Param({"get", "set"})
    public String direction;

    private Vcpu vcpu;
    private boolean get;
    private long request;
    /** panavirt's own buffer (the vCPU's), for the panavirt path. */
    private MemorySegment regs;

    @Override
    protected void build(Fixture fixture) throws ErrnoException {
        get = switch (direction) {
            case "get" -> true;
            case "set" -> false;
            default -> throw new IllegalArgumentException("direction " + direction);
        };
        request = get ? kvm_h.KVM_GET_REGS() : kvm_h.KVM_SET_REGS();
        vcpu = fixture.guest(Fixture.PIO_LOOP).vcpu(0);
        regs = X86Vcpu.of(vcpu).getRegs();
        fixture.target(vcpu.rawFd(), get ? "KVM_GET_REGS" : "KVM_SET_REGS")
                .buffer(fixture.allocate(kvm_regs.sizeof()).copyFrom(0, regs));
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return Call.c(f, request, N);
    }

    @Benchmark
    public MemorySegment panavirt() throws ErrnoException {
        if (get) {
            return X86Vcpu.of(vcpu).getRegs();
        }
        X86Vcpu.of(vcpu).setRegs(regs);
        return regs;
    }

    @Benchmark
    public int ffmErrno() {
        return Call.ffmErrno(f, request);
    }

    @Benchmark
    public int ffm() {
        return Call.ffm(f, request);
    }

    @Benchmark
    public int jna() {
        return Call.jna(f, request);
    }

    @Benchmark
    public int jnr() {
        return Call.jnr(f, request);
    }
}
