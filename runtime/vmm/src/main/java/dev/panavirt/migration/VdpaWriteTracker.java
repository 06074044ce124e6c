package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.models.vfio.HostMemory;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The guest pages the vDPA model writes (used rings, device-writable buffers), as a {@link DirtySource}: the model
 * reaches memory only through the {@link HostMemory} it was built with, so this wraps that memory and marks, after
 * each write lands, the guest page behind every written byte. KVM's dirty log never sees these writes (they come
 * from the host, not a vCPU); the kernel's vhost logs them itself for the same reason ({@code drivers/vhost/vhost.c},
 * {@code log_write} and {@code vhost_log_write}, called on used-ring and buffer writes when
 * {@code VHOST_F_LOG_ALL} is on). Marking after the write means a harvest that clears a page before the write
 * lands still sees it in the next harvest.
 *
 * <p>Writes outside the guest RAM given at creation are passed through unmarked. Thread-safe; a write or a harvest
 * allocates nothing.
 */
public final class VdpaWriteTracker implements HostMemory, DirtySource {
    private final HostMemory memory;
    private final MemoryRegion[] regions;
    private final AtomicLongArray[] bits;
    private volatile boolean tracking;

    /**
     * @param memory  the memory the vDPA model writes through (process addresses)
     * @param regions the guest RAM, whose {@link MemoryRegion#memory()} segments give the process address of each page
     */
    public VdpaWriteTracker(HostMemory memory, List<MemoryRegion> regions) {
        this.memory = Objects.requireNonNull(memory);
        this.regions = regions.toArray(MemoryRegion[]::new);
        this.bits = new AtomicLongArray[this.regions.length];
        for (int i = 0; i < this.regions.length; i++) {
            long pages = (this.regions[i].size() + DirtyPages.PAGE_SIZE - 1) / DirtyPages.PAGE_SIZE;
            bits[i] = new AtomicLongArray((int) ((pages + 63) >>> 6));
        }
    }

    @Override
    public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
        memory.read(vaddr, dst, offset, length);
    }

    @Override
    public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
        memory.write(vaddr, src, offset, length);
        if (tracking && length > 0) {
            mark(vaddr, length);
        }
    }

    @Override
    public boolean backed(long vaddr, long size) {
        return memory.backed(vaddr, size);
    }

    private void mark(long vaddr, long length) {
        for (int i = 0; i < regions.length; i++) {
            long base = regions[i].memory().address();
            long from = Math.max(vaddr, base), to = Math.min(vaddr + length, base + regions[i].size());
            for (long page = (from - base) / DirtyPages.PAGE_SIZE; from < to && page * DirtyPages.PAGE_SIZE < to - base;
                    page++) {
                long bit = 1L << page;
                int word = (int) (page >>> 6);
                long old;
                do {
                    old = bits[i].get(word);
                } while ((old & bit) == 0 && !bits[i].compareAndSet(word, old, old | bit));
            }
        }
    }

    @Override
    public String name() {
        return "vdpa-writes";
    }

    @Override
    public void start() {
        tracking = true;
    }

    @Override
    public long harvest(DirtyPages into) {
        long n = 0;
        for (int i = 0; i < regions.length; i++) {
            AtomicLongArray b = bits[i];
            for (int w = 0; w < b.length(); w++) {
                if (b.get(w) != 0) {
                    long word = b.getAndSet(w, 0);
                    n += Long.bitCount(word);
                    into.orBitmapWord(regions[i].guestPhysAddr() + (long) w * 64 * DirtyPages.PAGE_SIZE, word);
                }
            }
        }
        return n;
    }

    @Override
    public void close() {
        tracking = false;
    }
}
