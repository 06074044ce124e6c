package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bench.support.Fixtures;
import dev.panavirt.bench.support.JnaLibc;
import dev.panavirt.bench.support.JnrLibc;
import dev.panavirt.bench.support.RawFfm;
import dev.panavirt.bindings.kvm.x86_64.kvm_dirty_log;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * {@code KVM_GET_DIRTY_LOG} of a 1 GiB slot with dirty logging on (262144 pages, a 32 KiB bitmap). No
 * vCPU runs, so the log is clean: this is the fixed cost of harvesting a slot that size.
 */
@Operation(value = "KVM_GET_DIRTY_LOG (1 GiB)", order = 60,
        note = "1 GiB slot with KVM_MEM_LOG_DIRTY_PAGES, clean log, 32 KiB bitmap; every path reuses one bitmap "
                + "(panavirt: Vm.getDirtyLog(slot, segment))")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class GetDirtyLog {
    static final int N = 100;
    static final long REQUEST = kvm_h.KVM_GET_DIRTY_LOG();
    static final int SLOT = 1;
    static final long SLOT_SIZE = 1L << 30;
    static final long BITMAP_BYTES = SLOT_SIZE / 4096 / 8;
    static final long SLOT_OFFSET = kvm_dirty_log.slot$offset();
    static final long BITMAP_OFFSET = kvm_dirty_log.dirty_bitmap$offset();
    static final int STRUCT_SIZE = (int) kvm_dirty_log.sizeof();

    /** The FFM and C paths' memory: an automatic arena, whose segments cost no session acquire per downcall. */
    private final Arena arena = Arena.ofAuto();
    private Kvm kvm;
    private Vm vm;
    private int fd;
    private MemorySegment capture;
    private MemorySegment log;
    private MemorySegment panavirtBitmap;
    private com.sun.jna.Memory jnaLog;
    private com.sun.jna.Memory jnaBitmap;
    private jnr.ffi.Pointer jnrLog;
    private jnr.ffi.Pointer jnrBitmap;

    @Setup
    public void setup(BenchmarkParams params) throws ErrnoException {
        init(Fixtures.path(params));
    }

    /** Sets up the VM and what {@code path} needs ({@code "all"}: every path, for the smoke test). */
    public void init(String path) throws ErrnoException {
        kvm = Kvm.open();
        vm = kvm.createVm();
        vm.addMemory(SLOT, 0, SLOT_SIZE, (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES());
        fd = vm.rawFd();
        capture = Libc.newCapture(arena);
        log = kvm_dirty_log.allocate(arena);
        panavirtBitmap = arena.allocate(vm.dirtyBitmapBytes(SLOT), 8);
        kvm_dirty_log.slot(log, SLOT);
        kvm_dirty_log.dirty_bitmap(log, arena.allocate(BITMAP_BYTES, 64));
        if (Fixtures.wants(path, "jna")) {
            jnaBitmap = new com.sun.jna.Memory(BITMAP_BYTES);
            jnaLog = new com.sun.jna.Memory(STRUCT_SIZE);
            jnaLog.clear();
            jnaLog.setInt(SLOT_OFFSET, SLOT);
            jnaLog.setPointer(BITMAP_OFFSET, jnaBitmap);
        }
        if (Fixtures.wants(path, "jnr")) {
            jnrBitmap = jnr.ffi.Memory.allocateDirect(JnrLibc.RUNTIME, (int) BITMAP_BYTES);
            jnrLog = jnr.ffi.Memory.allocateDirect(JnrLibc.RUNTIME, STRUCT_SIZE, true);
            jnrLog.putInt(SLOT_OFFSET, SLOT);
            jnrLog.putPointer(BITMAP_OFFSET, jnrBitmap);
        }
    }

    @TearDown
    public void tearDown() {
        vm.close();
        kvm.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return CHarness.ioctlLoop(fd, REQUEST, log, N);
    }

    @Benchmark
    public MemorySegment panavirt() throws ErrnoException {
        vm.getDirtyLog(SLOT, panavirtBitmap);
        return panavirtBitmap;
    }

    @Benchmark
    public int ffmErrno() {
        return Fixtures.check(Libc.ioctl(capture, fd, REQUEST, log), "KVM_GET_DIRTY_LOG");
    }

    @Benchmark
    public int ffm() {
        return Fixtures.check(RawFfm.ioctl(fd, REQUEST, log), "KVM_GET_DIRTY_LOG");
    }

    @Benchmark
    public int jna() {
        return JnaLibc.ioctl(fd, REQUEST, jnaLog);
    }

    @Benchmark
    public int jnr() {
        return Fixtures.checkJnr(JnrLibc.C.ioctl(fd, REQUEST, jnrLog), "KVM_GET_DIRTY_LOG");
    }
}
