package dev.panavirt.base;


import java.util.ArrayList;
import java.util.List;

/**
 * Guest-physical memory on the Java heap, for tests, replayed sessions and fuzzing: a set of slots
 * (page-aligned ranges, like KVM memory slots) whose 4 KiB pages are allocated on first write. Reading a
 * page that was never written returns zeros; touching an address outside every slot fails with
 * {@code EFAULT}. A slot can be removed again to make the model see a fault on memory it used before.
 *
 * <p>Successful accesses to pages that already exist do not allocate. Not thread-safe on its own; the ITS
 * model serialises its accesses, and callers that write concurrently must do the same.
 */
public final class HeapGuestRam implements GuestRam {

    private static final int PAGE_SHIFT = 12;
    private static final int PAGE_MASK = (int) PAGE_SIZE - 1;

    private long[] slotBase = new long[0];
    private long[] slotEnd = new long[0];
    private final LongMap<byte[]> pages = new LongMap<>(64);

    /** Memory with no slots; add them with {@link #map}. */
    public HeapGuestRam() {
    }

    /** Memory with one slot {@code [base, base + size)}. */
    public HeapGuestRam(long base, long size) {
        map(base, size);
    }

    /**
     * Adds a slot.
     *
     * @param base first address, 4 KiB aligned
     * @param size length in bytes, a non-zero multiple of 4 KiB
     * @return this memory
     * @throws IllegalArgumentException if the range is unaligned, wraps, or overlaps a slot
     */
    public HeapGuestRam map(long base, long size) {
        if (((base | size) & PAGE_MASK) != 0 || size <= 0 || Long.compareUnsigned(base + size, base) <= 0) {
            throw new IllegalArgumentException("slot 0x" + Long.toHexString(base) + "+0x" + Long.toHexString(size)
                    + " must be page-aligned, non-empty and not wrap");
        }
        long end = base + size;
        for (int i = 0; i < slotBase.length; i++) {
            if (Long.compareUnsigned(base, slotEnd[i] - 1) <= 0 && Long.compareUnsigned(slotBase[i], end - 1) <= 0) {
                throw new IllegalArgumentException("slot 0x" + Long.toHexString(base) + " overlaps slot 0x"
                        + Long.toHexString(slotBase[i]));
            }
        }
        int n = slotBase.length;
        slotBase = java.util.Arrays.copyOf(slotBase, n + 1);
        slotEnd = java.util.Arrays.copyOf(slotEnd, n + 1);
        slotBase[n] = base;
        slotEnd[n] = end;
        return this;
    }

    /**
     * Removes the slot starting at {@code base} and forgets its contents.
     *
     * @return whether such a slot existed
     */
    public boolean unmap(long base) {
        for (int i = 0; i < slotBase.length; i++) {
            if (slotBase[i] == base) {
                for (long p = slotBase[i]; p != slotEnd[i]; p += PAGE_SIZE) {
                    pages.remove(p >>> PAGE_SHIFT);
                }
                int n = slotBase.length;
                long[] b = new long[n - 1];
                long[] e = new long[n - 1];
                System.arraycopy(slotBase, 0, b, 0, i);
                System.arraycopy(slotBase, i + 1, b, i, n - i - 1);
                System.arraycopy(slotEnd, 0, e, 0, i);
                System.arraycopy(slotEnd, i + 1, e, i, n - i - 1);
                slotBase = b;
                slotEnd = e;
                return true;
            }
        }
        return false;
    }

    /**
     * Forgets the contents of every slot, so all of memory reads as zeros again as right after {@link #map};
     * the slots stay. Lets a test or fuzz rig reuse one memory between runs instead of allocating another.
     */
    public void clear() {
        pages.clear();
    }

    /** The slots as {@code [base, size]} pairs, in the order they were added. */
    public List<long[]> slots() {
        List<long[]> out = new ArrayList<>();
        for (int i = 0; i < slotBase.length; i++) {
            out.add(new long[] {slotBase[i], slotEnd[i] - slotBase[i]});
        }
        return out;
    }

    @Override
    public boolean isMapped(long gpa) {
        for (int i = 0; i < slotBase.length; i++) {
            if (Long.compareUnsigned(gpa, slotBase[i]) >= 0 && Long.compareUnsigned(gpa, slotEnd[i] - 1) <= 0) {
                return true;
            }
        }
        return false;
    }

    private boolean rangeMapped(long gpa, long length) {
        long last = gpa + length - 1;
        if (Long.compareUnsigned(last, gpa) < 0) {
            return false;
        }
        // Slots are page-aligned, so checking every page the range touches is enough.
        for (long p = gpa & ~(long) PAGE_MASK; ; p += PAGE_SIZE) {
            if (!isMapped(p)) {
                return false;
            }
            if (Long.compareUnsigned(p, last & ~(long) PAGE_MASK) >= 0) {
                return true;
            }
        }
    }

    /** The page holding {@code gpa}, or {@code null} if it was never written (reads as zeros). */
    private byte[] page(long gpa) {
        return pages.get(gpa >>> PAGE_SHIFT);
    }

    private byte[] pageForWrite(long gpa) {
        byte[] p = pages.get(gpa >>> PAGE_SHIFT);
        if (p == null) {
            p = new byte[(int) PAGE_SIZE];
            pages.put(gpa >>> PAGE_SHIFT, p);
        }
        return p;
    }

    private int get(long gpa) {
        byte[] p = page(gpa);
        return p == null ? 0 : p[(int) gpa & PAGE_MASK] & 0xFF;
    }

    private void set(long gpa, int value) {
        pageForWrite(gpa)[(int) gpa & PAGE_MASK] = (byte) value;
    }

    @Override
    public int readByte(long gpa) throws ErrnoException {
        if (!isMapped(gpa)) {
            throw GuestRam.fault("read", gpa, 1);
        }
        return get(gpa);
    }

    @Override
    public void writeByte(long gpa, int value) throws ErrnoException {
        if (!isMapped(gpa)) {
            throw GuestRam.fault("write", gpa, 1);
        }
        set(gpa, value);
    }

    @Override
    public long readLong(long gpa) throws ErrnoException {
        if (!rangeMapped(gpa, 8)) {
            throw GuestRam.fault("read", gpa, 8);
        }
        int off = (int) gpa & PAGE_MASK;
        if (off <= PAGE_SIZE - 8) {
            byte[] p = page(gpa);
            if (p == null) {
                return 0;
            }
            long v = 0;
            for (int i = 7; i >= 0; i--) {
                v = (v << 8) | (p[off + i] & 0xFFL);
            }
            return v;
        }
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | get(gpa + i);
        }
        return v;
    }

    @Override
    public void writeLong(long gpa, long value) throws ErrnoException {
        if (!rangeMapped(gpa, 8)) {
            throw GuestRam.fault("write", gpa, 8);
        }
        int off = (int) gpa & PAGE_MASK;
        if (off <= PAGE_SIZE - 8) {
            byte[] p = pageForWrite(gpa);
            long v = value;
            for (int i = 0; i < 8; i++) {
                p[off + i] = (byte) v;
                v >>>= 8;
            }
            return;
        }
        long v = value;
        for (int i = 0; i < 8; i++) {
            set(gpa + i, (int) v);
            v >>>= 8;
        }
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) throws ErrnoException {
        java.util.Objects.checkFromIndexSize(offset, length, dst.length);
        if (length == 0) {
            return;
        }
        if (!rangeMapped(gpa, length)) {
            throw GuestRam.fault("read", gpa, length);
        }
        for (int i = 0; i < length; i++) {
            dst[offset + i] = (byte) get(gpa + i);
        }
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) throws ErrnoException {
        java.util.Objects.checkFromIndexSize(offset, length, src.length);
        if (length == 0) {
            return;
        }
        if (!rangeMapped(gpa, length)) {
            throw GuestRam.fault("write", gpa, length);
        }
        for (int i = 0; i < length; i++) {
            set(gpa + i, src[offset + i]);
        }
    }
}
