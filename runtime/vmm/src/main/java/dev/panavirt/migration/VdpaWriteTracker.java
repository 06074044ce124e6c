package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.models.vfio.HostMemory;
import java.util.List;
import java.util.Objects;

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
    private final PageWriteBitmap written;
    private volatile boolean tracking;

    /**
     * @param memory  the memory the vDPA model writes through (process addresses)
     * @param regions the guest RAM, whose {@link MemoryRegion#memory()} segments give the process address of each page
     */
    public VdpaWriteTracker(HostMemory memory, List<MemoryRegion> regions) {
        this.memory = Objects.requireNonNull(memory);
        long[] vaddrs = new long[regions.size()], sizes = new long[regions.size()], gpas = new long[regions.size()];
        for (int i = 0; i < vaddrs.length; i++) {
            MemoryRegion r = regions.get(i);
            vaddrs[i] = r.memory().address();       // the model writes by process address
            sizes[i] = r.size();
            gpas[i] = r.guestPhysAddr();
        }
        written = new PageWriteBitmap(vaddrs, sizes, gpas);
    }

    @Override
    public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
        memory.read(vaddr, dst, offset, length);
    }

    @Override
    public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
        memory.write(vaddr, src, offset, length);
        if (tracking && length > 0) {
            written.mark(vaddr, length);
        }
    }

    @Override
    public boolean backed(long vaddr, long size) {
        return memory.backed(vaddr, size);
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
        return written.harvest(into);
    }

    @Override
    public void close() {
        tracking = false;
    }
}
