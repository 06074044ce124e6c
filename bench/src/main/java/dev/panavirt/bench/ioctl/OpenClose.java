package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Libc;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/**
 * A descriptor's life: {@code open("/dev/kvm", O_RDWR | O_CLOEXEC)} then {@code close}, as a VMM opens the system
 * fd (no ioctl). The C, FFM, JNA and jnr-ffi paths pass the path as NUL-terminated native memory made once;
 * panavirt's {@code Fd.open} and jnr-posix's {@code POSIX.open} take a Java string and convert it on every call, as
 * their users call them.
 */
@Operation(value = "open + close", order = 90,
        note = "open(\"/dev/kvm\", O_RDWR | O_CLOEXEC) then close: the system fd's life, no ioctl")
public class OpenClose extends PerCall {
    static final int N = 1000;
    static final String PATH = Kvm.DEVICE.toString();
    static final int FLAGS = Libc.O_RDWR | Libc.O_CLOEXEC;

    @Override
    protected void build(Fixture fixture) throws ErrnoException {
        byte[] path = (PATH + '\0').getBytes(StandardCharsets.US_ASCII);
        fixture.target(-1, "open + close " + PATH)
                .buffer(fixture.allocate(path.length).copyFrom(0, MemorySegment.ofArray(path)));
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return Call.cOpenClose(f, FLAGS, N);
    }

    @Benchmark
    public int panavirt() throws ErrnoException {
        try (Fd fd = Fd.open(PATH, Libc.O_RDWR)) {   // Fd.open adds O_CLOEXEC itself
            return fd.raw();
        }
    }

    @Benchmark
    public int ffmErrno() {
        return Call.ffmErrnoOpenClose(f, FLAGS);
    }

    @Benchmark
    public int ffm() {
        return Call.ffmOpenClose(f, FLAGS);
    }

    @Benchmark
    public int jna() {
        return Call.jnaOpenClose(f, FLAGS);
    }

    @Benchmark
    public int jnr() {
        return Call.jnrOpenClose(f, FLAGS);
    }

    @Benchmark
    public int jnrPosix() {
        return Call.jnrPosixOpenClose(f, PATH, FLAGS);
    }
}
