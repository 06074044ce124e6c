package dev.panavirt.vhost.driver;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.SharedMemory;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One region of driver memory the device reaches by IOVA: a memfd-backed {@code MAP_SHARED} mapping (the only
 * kind vdpa_sim's {@code use_va} IOTLB takes, drivers/vhost/vdpa.c {@code vhost_vdpa_va_map}) entered into the
 * device's IOTLB at a base IOVA, with a bump allocator that hands out aligned slices for rings and buffers, and
 * the translation between a slice and its IOVA.
 *
 * <p>Allocation is for setup: slices are never freed one by one; drivers allocate their rings and buffer pools
 * once and reuse them. {@link #iova} allocates nothing, so the steady paths translate the segments they already
 * hold; {@link #slice} makes a new segment view and is for setup and checks.
 */
public final class IovaMemory implements AutoCloseable {
    private final VdpaDevice device;
    private final int asid;
    private final Arena arena;
    private final MemorySegment memory;
    private final long baseIova;
    private long next;
    private boolean closed;

    private IovaMemory(VdpaDevice device, int asid, Arena arena, MemorySegment memory, long baseIova) {
        if (baseIova < 0 || baseIova + memory.byteSize() < baseIova) {
            throw new IllegalArgumentException("IOVA range 0x" + Long.toHexString(baseIova) + " + "
                    + memory.byteSize() + " overflows");
        }
        this.device = device;
        this.asid = asid;
        this.arena = arena;
        this.memory = memory;
        this.baseIova = baseIova;
    }

    /**
     * Maps {@code size} bytes (rounded up to pages) of new shared memory read-write at {@code baseIova} in the
     * device's address space {@code asid} ({@link VdpaDevice#iotlbUpdate}); the device must have an owner.
     *
     * @throws ErrnoException from the memfd, the mmap or the IOTLB update (EFAULT for any IOTLB refusal)
     */
    public static IovaMemory map(VdpaDevice device, int asid, long baseIova, long size, String name)
            throws ErrnoException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment memory = SharedMemory.map(arena, size, name);
            IovaMemory m = new IovaMemory(device, asid, arena, memory, baseIova);
            device.iotlbUpdate(asid, baseIova, memory, VdpaDevice.READ_WRITE);
            return m;
        } catch (ErrnoException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Memory the caller already has, named by IOVA but mapped into no device: for a device that reads the same
     * memory directly (a test's device side, a model in the same process). {@link #close} leaves it alone.
     */
    public static IovaMemory unmapped(MemorySegment memory, long baseIova) {
        return new IovaMemory(null, 0, null, memory, baseIova);
    }

    /**
     * The next {@code size} bytes aligned to {@code align} (a power of two), zero-filled.
     *
     * @throws IllegalStateException when the region is exhausted
     */
    public MemorySegment allocate(long size, long align) {
        if (size <= 0 || align <= 0 || Long.bitCount(align) != 1) {
            throw new IllegalArgumentException("allocate " + size + " bytes aligned to " + align);
        }
        // Align the IOVA and the address alike: the base IOVA and the mapping are both page aligned.
        long start = (next + align - 1) & -align;
        if (start + size > memory.byteSize() || start + size < start) {
            throw new IllegalStateException("IOVA memory exhausted: " + size + " bytes aligned to " + align + " at "
                    + start + " of " + memory.byteSize());
        }
        next = start + size;
        MemorySegment slice = memory.asSlice(start, size);
        slice.fill((byte) 0);
        return slice;
    }

    /** Bytes not yet allocated (before alignment). */
    public long remaining() {
        return memory.byteSize() - next;
    }

    /** The IOVA of byte {@code offset} of {@code segment}, which must lie within this region. */
    public long iova(MemorySegment segment, long offset) {
        long off = segment.address() + offset - memory.address();
        if (offset < 0 || offset > segment.byteSize() || off < 0 || off > memory.byteSize()
                || segment.address() < memory.address()
                || segment.address() + segment.byteSize() > memory.address() + memory.byteSize()) {
            throw new IllegalArgumentException("segment at 0x" + Long.toHexString(segment.address()) + " ("
                    + segment.byteSize() + " bytes) + " + offset + " is not inside IOVA memory 0x"
                    + Long.toHexString(memory.address()) + " (" + memory.byteSize() + " bytes)");
        }
        return baseIova + off;
    }

    /** The IOVA of {@code segment}'s first byte. */
    public long iova(MemorySegment segment) {
        return iova(segment, 0);
    }

    /** Whether {@code [iova, iova + length)} lies within this region. */
    public boolean contains(long iova, long length) {
        long off = iova - baseIova;
        return iova >= baseIova && length >= 0 && off <= memory.byteSize() && length <= memory.byteSize() - off;
    }

    /**
     * The bytes at {@code [iova, iova + length)}.
     *
     * @throws IllegalArgumentException when they are not all inside this region
     */
    public MemorySegment slice(long iova, long length) {
        if (!contains(iova, length)) {
            throw new IllegalArgumentException("IOVA 0x" + Long.toHexString(iova) + " + " + length
                    + " is outside [0x" + Long.toHexString(baseIova) + ", 0x" + Long.toHexString(baseIova
                    + memory.byteSize()) + ")");
        }
        return memory.asSlice(iova - baseIova, length);
    }

    /** The first IOVA of the region. */
    public long baseIova() {
        return baseIova;
    }

    /** The whole region. */
    public MemorySegment memory() {
        return memory;
    }

    /**
     * Removes the region from the IOTLB (errors ignored: the device may already be gone, which drops every
     * mapping) and unmaps the memory; idempotent. Unmapped regions are left to their owner.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (device != null) {
            try {
                device.iotlbInvalidate(asid, baseIova, memory.byteSize());
            } catch (ErrnoException | RuntimeException ignored) {
                // The device was closed or reset first; its mappings went with it.
            }
            arena.close();
        }
    }
}
