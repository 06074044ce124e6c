package dev.panavirt.bench.ioctl;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.bindings.kvm.x86_64.kvm_dirty_log;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/**
 * {@code KVM_GET_DIRTY_LOG} of a 1 GiB slot with dirty logging on (262144 pages, a 32 KiB bitmap). No
 * vCPU runs, so the log is clean: this is the fixed cost of harvesting a slot that size.
 */
@Operation(value = "KVM_GET_DIRTY_LOG (1 GiB)", order = 60,
        note = "1 GiB slot with KVM_MEM_LOG_DIRTY_PAGES, clean log, 32 KiB bitmap; every path reuses one bitmap "
                + "(panavirt: Vm.getDirtyLog(slot, segment))")
public class GetDirtyLog extends PerCall {
    static final int N = 100;
    static final long REQUEST = kvm_h.KVM_GET_DIRTY_LOG();
    static final int SLOT = 1;
    static final long SLOT_SIZE = 1L << 30;
    static final long BITMAP_BYTES = SLOT_SIZE / 4096 / 8;

    private Vm vm;
    private MemorySegment panavirtBitmap;

    @Override
    protected void build(Fixture fixture) throws ErrnoException {
        vm = fixture.own(fixture.own(Kvm.open()).createVm());
        vm.addMemory(SLOT, 0, SLOT_SIZE, (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES());
        panavirtBitmap = Arena.ofAuto().allocate(vm.dirtyBitmapBytes(SLOT), 8);
        fixture.target(vm.rawFd(), "KVM_GET_DIRTY_LOG").buffer(fixture.allocate(kvm_dirty_log.sizeof())
                .copyFrom(kvm_dirty_log.slot$offset(), MemorySegment.ofArray(new int[] {SLOT}))
                .putAddress(kvm_dirty_log.dirty_bitmap$offset(), fixture.allocate(BITMAP_BYTES)));
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public long c() {
        return Call.c(f, REQUEST, N);
    }

    @Benchmark
    public MemorySegment panavirt() throws ErrnoException {
        vm.getDirtyLog(SLOT, panavirtBitmap);
        return panavirtBitmap;
    }

    @Benchmark
    public int ffmErrno() {
        return Call.ffmErrno(f, REQUEST);
    }

    @Benchmark
    public int ffm() {
        return Call.ffm(f, REQUEST);
    }

    @Benchmark
    public int jna() {
        return Call.jna(f, REQUEST);
    }

    @Benchmark
    public int jnr() {
        return Call.jnr(f, REQUEST);
    }
}
