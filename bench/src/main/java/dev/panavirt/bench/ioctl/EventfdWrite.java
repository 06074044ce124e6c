package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.fd.EventFd;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;

/**
 * An 8-byte eventfd write of 1 ({@link #eventfd}): to an irqfd, which KVM turns into an interrupt on GSI 5
 * of the in-kernel irqchip, or to a plain eventfd (no KVM), the floor under irqfd and ioeventfd signalling.
 */
@Operation(value = "irqfd signal", param = "eventfd=irqfd", order = 70,
        note = "8-byte write of 1 to an eventfd registered with KVM_IRQFD for GSI 5 of the in-kernel irqchip "
                + "(the kernel injects from a work item)")
@Operation(value = "eventfd write", param = "eventfd=plain", order = 80,
        note = "8-byte write of 1 to a plain eventfd nobody reads (no KVM involved)")
public class EventfdWrite extends PerCall {
    static final int N = 1000;
    static final int GSI = 5;

    /** {@code irqfd} (registered with {@code KVM_IRQFD}) or {@code plain}. */
    @Param({"irqfd", "plain"})
    public String eventfd;

    private EventFd event;

    @Override
    protected void build(Fixture fixture) throws ErrnoException {
        Vm vm = switch (eventfd) {
            case "irqfd" -> fixture.own(fixture.own(Kvm.open()).createVm());
            case "plain" -> null;
            default -> throw new IllegalArgumentException("eventfd " + eventfd);
        };
        event = fixture.own(EventFd.create(0));
        if (vm != null) {
            vm.createIrqchip();
            vm.registerIrqfd(event, GSI, null);
        }
        fixture.target(event.rawFd(), "write(eventfd)")
                .buffer(fixture.allocate(8).copyFrom(0, MemorySegment.ofArray(new long[] {1})));
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return Call.cWrite(f, N);
    }

    @Benchmark
    public void panavirt() throws ErrnoException {
        event.signal(1);
    }

    @Benchmark
    public long ffmErrno() {
        return Call.ffmErrnoWrite(f);
    }

    @Benchmark
    public long ffm() {
        return Call.ffmWrite(f);
    }

    @Benchmark
    public long jna() {
        return Call.jnaWrite(f);
    }

    @Benchmark
    public long jnr() {
        return Call.jnrWrite(f);
    }

    @Benchmark
    public long jnrPosix() {
        return Call.jnrPosixWrite(f);
    }
}
