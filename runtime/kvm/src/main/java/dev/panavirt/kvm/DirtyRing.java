package dev.panavirt.kvm;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_dirty_gfn;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A vCPU's dirty ring: KVM pushes one {@code kvm_dirty_gfn} (slot, page offset) per page the guest
 * dirties. {@link #harvest(PageSink)} collects the published entries and marks them for reset; then
 * {@link Vm#resetDirtyRings()} re-protects those pages so later writes are reported again.
 *
 * <p>The ring is a mapping of the vCPU fd that this class reads and writes directly: none of its methods
 * issues an ioctl, so none throws {@code ErrnoException}. The ioctl errors of the ring are those of
 * {@link Vm#enableDirtyRing(int)} (setting it up), {@link Vm#createVcpu(int)} (mapping it) and
 * {@link Vm#resetDirtyRings()} (resetting harvested entries).
 */
public final class DirtyRing {
    /** Receives one dirty page: the slot id and the page index within the slot. */
    @FunctionalInterface
    public interface PageSink {
        /**
         * Takes one dirty page.
         *
         * @param slot the slot id as KVM reports it ({@code as_id << 16 | slot})
         * @param pageOffset the page index within the slot
         */
        void page(int slot, long pageOffset);
    }

    private static final VarHandle FLAGS = ValueLayout.JAVA_INT.varHandle();
    private static final long ENTRY_SIZE = kvm_dirty_gfn.sizeof();
    private static final long FLAGS_OFFSET = kvm_dirty_gfn.flags$offset();
    private static final long SLOT_OFFSET = kvm_dirty_gfn.slot$offset();
    private static final long PAGE_OFFSET = kvm_dirty_gfn.offset$offset();
    private static final int DIRTY = (int) kvm_h.KVM_DIRTY_GFN_F_DIRTY();
    private static final int RESET = (int) kvm_h.KVM_DIRTY_GFN_F_RESET();

    private final MemorySegment ring;
    private final int entries;
    private long fetchIndex;

    DirtyRing(Arena arena, Fd vcpuFd, int vcpuId, int bytes) throws ErrnoException {
        // KVM_DIRTY_LOG_PAGE_OFFSET is per arch (64 in x86's asm/kvm.h, linux/kvm.h's default 0 elsewhere).
        long offset = (long) dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_DIRTY_LOG_PAGE_OFFSET() * Mmap.PAGE_SIZE;
        this.ring = Mmap.map(arena, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpuFd, offset,
                "dirty ring of vcpu " + vcpuId);
        this.entries = (int) (bytes / ENTRY_SIZE);
    }

    /** Ring capacity in entries. */
    public int capacity() {
        return entries;
    }

    /**
     * Hands every entry KVM has published since the last harvest to {@code sink} and marks it harvested.
     * Call {@link Vm#resetDirtyRings()} afterwards. Must not run concurrently with itself on one ring.
     *
     * @return the number of entries harvested
     * @throws IllegalStateException after the VM closed, which unmaps the ring
     */
    public int harvest(PageSink sink) {
        int n = 0;
        while (n < entries) {
            long at = (fetchIndex % entries) * ENTRY_SIZE;
            int flags = (int) FLAGS.getAcquire(ring, at + FLAGS_OFFSET);
            if ((flags & DIRTY) == 0) {
                break;
            }
            sink.page(ring.get(ValueLayout.JAVA_INT, at + SLOT_OFFSET), ring.get(ValueLayout.JAVA_LONG, at + PAGE_OFFSET));
            FLAGS.setRelease(ring, at + FLAGS_OFFSET, RESET);
            fetchIndex++;
            n++;
        }
        return n;
    }
}
