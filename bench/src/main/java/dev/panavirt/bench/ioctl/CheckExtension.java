package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Cap;
import dev.panavirt.kvm.Kvm;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/** {@code KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY)} on the system fd: the bare syscall path, no VM. */
@Operation(value = "KVM_CHECK_EXTENSION", order = 10, panavirtMaxRatioToC = 1.10,
        note = "KVM_CAP_USER_MEMORY on /dev/kvm; the kernel answers from a switch, so this is the bare ioctl path")
public class CheckExtension extends PerCall {
    static final int N = 1000;
    static final long REQUEST = kvm_h.KVM_CHECK_EXTENSION();
    static final Cap CAP = Cap.USER_MEMORY;
    static final long CAP_NUMBER = CAP.number();

    private Kvm kvm;

    @Override
    protected void build(Fixture fixture) throws ErrnoException {
        kvm = fixture.own(Kvm.open());
        fixture.target(kvm.rawFd(), "KVM_CHECK_EXTENSION");
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return Call.c(f, REQUEST, CAP_NUMBER, N);
    }

    @Benchmark
    public int panavirt() throws ErrnoException {
        return kvm.checkExtension(CAP);
    }

    @Benchmark
    public int ffmErrno() {
        return Call.ffmErrno(f, REQUEST, CAP_NUMBER);
    }

    @Benchmark
    public int ffmCritical() {
        return Call.ffmCritical(f, REQUEST, CAP_NUMBER);
    }

    @Benchmark
    public int ffm() {
        return Call.ffm(f, REQUEST, CAP_NUMBER);
    }

    @Benchmark
    public int jna() {
        return Call.jna(f, REQUEST, CAP_NUMBER);
    }

    @Benchmark
    public int jnr() {
        return Call.jnr(f, REQUEST, CAP_NUMBER);
    }

    @Benchmark
    public int jnrPosix() {
        return Call.jnrPosix(f, REQUEST, CAP_NUMBER);
    }
}
