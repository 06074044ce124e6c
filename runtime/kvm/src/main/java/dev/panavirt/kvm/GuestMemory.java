package dev.panavirt.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Optional;

/**
 * Guest-physical memory of a {@link Vm}: reads and writes by guest-physical address, bounds-checked
 * against the slots the VM owns. An access that is not wholly inside one region throws
 * {@link IndexOutOfBoundsException} naming the address; nothing outside the mappings is touched. Once the VM
 * has closed there are no regions ({@link #isMapped} is false everywhere) and accesses throw
 * {@link IllegalStateException}.
 */
public final class GuestMemory {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private volatile MemoryRegion[] regions = new MemoryRegion[0];
    private volatile boolean closed;

    GuestMemory() {}

    /** The VM closed: no regions from now on, and every access says so. */
    synchronized void close() {
        closed = true;
        regions = new MemoryRegion[0];
    }

    synchronized void add(MemoryRegion r) {
        if (closed) {
            throw new IllegalStateException("the VM is closed");
        }
        MemoryRegion[] old = regions;
        MemoryRegion[] next = java.util.Arrays.copyOf(old, old.length + 1);
        next[old.length] = r;
        regions = next;
    }

    synchronized Optional<MemoryRegion> remove(int slot) {
        MemoryRegion[] old = regions;
        for (int i = 0; i < old.length; i++) {
            if (old[i].slot() == slot) {
                MemoryRegion[] next = new MemoryRegion[old.length - 1];
                System.arraycopy(old, 0, next, 0, i);
                System.arraycopy(old, i + 1, next, i, old.length - i - 1);
                regions = next;
                return Optional.of(old[i]);
            }
        }
        return Optional.empty();
    }

    /** The regions, in the order they were added. */
    public List<MemoryRegion> regions() {
        return List.of(regions);
    }

    /** The region holding slot {@code slot}, if the VM owns one. */
    public Optional<MemoryRegion> region(int slot) {
        for (MemoryRegion r : regions) {
            if (r.slot() == slot) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** The region of {@code slot}, or null; allocates nothing. */
    MemoryRegion regionOrNull(int slot) {
        for (MemoryRegion r : regions) {
            if (r.slot() == slot) {
                return r;
            }
        }
        return null;
    }

    /** Whether {@code [gpa, gpa + length)} is backed by one region. */
    public boolean isMapped(long gpa, long length) {
        return find(gpa, length) != null;
    }

    private MemoryRegion find(long gpa, long length) {
        for (MemoryRegion r : regions) {
            if (r.contains(gpa, length)) {
                return r;
            }
        }
        return null;
    }

    /**
     * The host view of {@code [gpa, gpa + length)}.
     *
     * @throws IndexOutOfBoundsException when the range is not inside one region
     */
    public MemorySegment slice(long gpa, long length) {
        MemoryRegion r = find(gpa, length);
        if (r == null) {
            if (closed) {
                throw new IllegalStateException("guest memory is gone: the VM is closed");
            }
            throw new IndexOutOfBoundsException("guest-physical range 0x" + Long.toHexString(gpa) + "+" + length
                    + " is not inside one memory region");
        }
        return r.memory().asSlice(gpa - r.guestPhysAddr(), length);
    }

    /**
     * Takes the host page behind guest-physical page {@code gpa} away and gives it back ({@code mprotect} to
     * PROT_NONE, then READ|WRITE; contents kept): the kernel's MMU notifiers make KVM drop its mapping of the
     * page, so the guest's next access faults it in again. QEMU's pc-testdev flush port does the same
     * (hw/misc/pc-testdev.c, {@code test_flush_page}).
     *
     * @throws IndexOutOfBoundsException when the page is not RAM
     * @throws dev.panavirt.base.ErrnoException when {@code mprotect} fails
     */
    public void flushPage(long gpa) throws dev.panavirt.base.ErrnoException {
        MemorySegment page = slice(gpa & ~0xfffL, 4096);
        String what = "guest page 0x" + Long.toHexString(gpa & ~0xfffL);
        dev.panavirt.sys.Mmap.protect(page, dev.panavirt.sys.Libc.PROT_NONE, what);
        dev.panavirt.sys.Mmap.protect(page, dev.panavirt.sys.Libc.PROT_READ | dev.panavirt.sys.Libc.PROT_WRITE, what);
    }

    /** Copies {@code bytes} to guest-physical {@code gpa}. */
    public void write(long gpa, byte[] bytes) {
        MemorySegment.copy(bytes, 0, slice(gpa, bytes.length), ValueLayout.JAVA_BYTE, 0, bytes.length);
    }

    /** Reads {@code length} bytes at guest-physical {@code gpa}. */
    public byte[] read(long gpa, int length) {
        return slice(gpa, length).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Little-endian 64-bit read. */
    public long readLong(long gpa) {
        return slice(gpa, 8).get(LONG, 0);
    }

    /** Little-endian 64-bit write. */
    public void writeLong(long gpa, long value) {
        slice(gpa, 8).set(LONG, 0, value);
    }

    /** Little-endian 32-bit read. */
    public int readInt(long gpa) {
        return slice(gpa, 4).get(INT, 0);
    }

    /** Little-endian 32-bit write. */
    public void writeInt(long gpa, int value) {
        slice(gpa, 4).set(INT, 0, value);
    }

    /** Little-endian 16-bit write. */
    public void writeShort(long gpa, short value) {
        slice(gpa, 2).set(SHORT, 0, value);
    }

    /** Byte read. */
    public byte readByte(long gpa) {
        return slice(gpa, 1).get(ValueLayout.JAVA_BYTE, 0);
    }

    /**
     * Reads a NUL-terminated string of at most {@code max} bytes at {@code gpa} (UTF-8), stopping at the
     * end of the region if no NUL comes first. Guest-supplied pointers go through here safely.
     */
    public String readCString(long gpa, int max) {
        MemoryRegion r = find(gpa, 1);
        if (r == null) {
            if (closed) {
                throw new IllegalStateException("guest memory is gone: the VM is closed");
            }
            throw new IndexOutOfBoundsException("guest-physical address 0x" + Long.toHexString(gpa) + " is not mapped");
        }
        long avail = Math.min(max, r.size() - (gpa - r.guestPhysAddr()));
        MemorySegment s = r.memory().asSlice(gpa - r.guestPhysAddr(), avail);
        int n = 0;
        while (n < avail && s.get(ValueLayout.JAVA_BYTE, n) != 0) {
            n++;
        }
        return new String(s.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8);
    }
}
