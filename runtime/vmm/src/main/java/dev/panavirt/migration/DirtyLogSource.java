package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.kvm.Vm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Dirty pages from the per-slot dirty log with manual protection ({@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}):
 * {@code KVM_GET_DIRTY_LOG} reads each slot's bitmap, {@code KVM_CLEAR_DIRTY_LOG} re-protects exactly the
 * pages it reported, before they are copied. The fallback where the VM has no dirty ring: on x86 the two
 * exclude each other (virt/kvm/kvm_main.c, {@code kvm_get_dirty_log_protect} answers ENXIO once a ring is on).
 * The bitmaps are allocated once, at construction; a harvest allocates nothing.
 */
public final class DirtyLogSource implements DirtySource {
    private final Vm vm;
    private final List<MemoryRegion> ram;
    private final MemorySegment[] bitmaps;
    private final Arena arena = Arena.ofShared();

    /** Tracks {@code ram} (regions of {@code vm}). */
    public DirtyLogSource(Vm vm, List<MemoryRegion> ram) {
        this.vm = vm;
        this.ram = List.copyOf(ram);
        this.bitmaps = new MemorySegment[ram.size()];
        for (int i = 0; i < bitmaps.length; i++) {
            bitmaps[i] = arena.allocate(vm.dirtyBitmapBytes(ram.get(i).slot()), 8);
        }
    }

    @Override
    public String name() {
        return "dirty-log";
    }

    /**
     * Enables manual protection (pages start clean) and {@code KVM_MEM_LOG_DIRTY_PAGES} on every tracked slot,
     * then clears what was logged before.
     */
    @Override
    public void start() throws ErrnoException {
        vm.enableManualDirtyLogProtect(false);
        int log = (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES();
        for (MemoryRegion r : ram) {
            int flags = vm.memory().region(r.slot()).orElseThrow().flags();
            if ((flags & log) == 0) {
                vm.setMemoryFlags(r.slot(), flags | log);
            }
        }
        harvest(null);
    }

    @Override
    public long harvest(DirtyPages into) throws ErrnoException {
        long n = 0;
        for (int i = 0; i < bitmaps.length; i++) {
            MemoryRegion r = ram.get(i);
            MemorySegment bitmap = bitmaps[i];
            vm.getDirtyLog(r.slot(), bitmap);
            long words = bitmap.byteSize() / 8;
            boolean any = false;
            for (long w = 0; w < words; w++) {
                long word = bitmap.getAtIndex(ValueLayout.JAVA_LONG, w);
                if (word != 0) {
                    any = true;
                    n += Long.bitCount(word);
                    if (into != null) {
                        into.orBitmapWord(r.guestPhysAddr() + w * 64 * DirtyPages.PAGE_SIZE, word);
                    }
                }
            }
            if (any) {
                vm.clearDirtyLog(r.slot(), 0, (int) r.pages(), bitmap);
            }
        }
        return n;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
