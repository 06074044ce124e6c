package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.RatioTo;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bench.support.CHarness;
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
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What {@code Linker.Option.critical(false)} saves, each against the same downcall without it in the same run:
 * the Java-to-C transition alone ({@code pv_nop}, a C function with {@code ioctl}'s arguments that returns at once,
 * so no system call blurs the difference), and {@code KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY)} on {@code /dev/kvm}
 * through panavirt's {@code Libc.ioctl} and {@code Libc.ioctlCritical}. Both handles capture errno, as panavirt's do.
 * The per-call table has the same ioctl's ratio to C with and without the option (the "FFM + errno" and
 * "FFM + errno, critical" columns of {@link CheckExtension}); this class isolates the option's own effect.
 */
@Operation(value = "critical downcall", order = 12,
        note = "pv_nop: an errno-capturing downcall of a C function that returns at once, plain and critical; "
                + "KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY) on /dev/kvm through Libc.ioctl and Libc.ioctlCritical")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class CriticalDowncall {
    static final long REQUEST = kvm_h.KVM_CHECK_EXTENSION();
    static final long CAP = Cap.USER_MEMORY.number();

    private Kvm kvm;
    private int fd;
    private final MemorySegment capture = Libc.newCapture(Arena.ofAuto());

    /** Opens {@code /dev/kvm}. */
    @Setup
    public void setup() throws ErrnoException {
        kvm = Kvm.open();
        fd = kvm.rawFd();
    }

    /** Closes it. */
    @TearDown
    public void tearDown() {
        kvm.close();
    }

    @Benchmark
    public int nopPlain() {
        return CHarness.nop(capture, fd, REQUEST, CAP);
    }

    @Benchmark
    @RatioTo("nopPlain")
    public int nopCritical() {
        return CHarness.nopCritical(capture, fd, REQUEST, CAP);
    }

    @Benchmark
    public int checkExtensionPlain() {
        return check(Libc.ioctl(capture, fd, REQUEST, CAP));
    }

    @Benchmark
    @RatioTo("checkExtensionPlain")
    public int checkExtensionCritical() {
        return check(Libc.ioctlCritical(capture, fd, REQUEST, CAP));
    }

    private static int check(int rc) {
        if (rc != 1) {
            throw new IllegalStateException("KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY) answered " + rc + ", wanted 1");
        }
        return rc;
    }
}
