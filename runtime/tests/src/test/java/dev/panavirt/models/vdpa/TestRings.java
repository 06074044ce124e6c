package dev.panavirt.models.vdpa;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.HostMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A test-local split-virtqueue driver side over one native segment: the segment's byte {@code o} is IOVA
 * {@code iova + o} and user address {@code segment.address() + o}. Builds descriptor tables and available
 * rings by hand and reads the used ring back. Also a {@link HostMemory} over the same segment, for driving
 * the model without the adapter.
 */
public final class TestRings implements HostMemory {
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    public final MemorySegment mem;
    public final long iova;
    public long accesses;

    public TestRings(MemorySegment mem, long iova) {
        this.mem = mem;
        this.iova = iova;
    }

    /** One queue's rings at segment offset {@code off}. */
    public final class Q {
        public final int num;
        public final long desc, avail, used;               // segment offsets
        public int availIdx;
        public int seen;

        Q(long off, int num) {
            this.num = num;
            this.desc = off;
            this.avail = off + 16L * num;
            this.used = (avail + 6 + 2L * num + 3) & ~3L;
        }

        public long descIova() {
            return iova + desc;
        }

        public long availIova() {
            return iova + avail;
        }

        public long usedIova() {
            return iova + used;
        }

        /** Descriptor {@code i} = {addr, len, flags, next}; {@code addr} is an IOVA. */
        public Q desc(int i, long addr, int len, int flags, int next) {
            descAt(desc + 16L * i, addr, len, flags, next);
            return this;
        }

        /** Makes {@code head} available and publishes the index. */
        public Q post(int head) {
            mem.set(U16, avail + 4 + 2L * (availIdx % num), (short) head);
            availIdx = (availIdx + 1) & 0xffff;
            mem.set(U16, avail + 2, (short) availIdx);
            return this;
        }

        public Q availFlags(int flags) {
            mem.set(U16, avail, (short) flags);
            return this;
        }

        /** Sets the published avail index directly (abuse). */
        public Q availIdx(int idx) {
            availIdx = idx & 0xffff;
            mem.set(U16, avail + 2, (short) idx);
            return this;
        }

        public Q availSlot(int slot, int head) {
            mem.set(U16, avail + 4 + 2L * slot, (short) head);
            return this;
        }

        public int usedIdx() {
            return Short.toUnsignedInt(mem.get(U16, used + 2));
        }

        public int usedId(int k) {
            return mem.get(U32, used + 4 + 8L * (k % num));
        }

        public int usedLen(int k) {
            return mem.get(U32, used + 8 + 8L * (k % num));
        }
    }

    public Q queue(long off, int num) {
        return new Q(off, num);
    }

    public void descAt(long off, long addr, int len, int flags, int next) {
        mem.set(U64, off, addr);
        mem.set(U32, off + 8, len);
        mem.set(U16, off + 12, (short) flags);
        mem.set(U16, off + 14, (short) next);
    }

    public long iovaOf(long off) {
        return iova + off;
    }

    public long uaddr() {
        return mem.address();
    }

    public void put(long off, byte[] b) {
        MemorySegment.copy(b, 0, mem, ValueLayout.JAVA_BYTE, off, b.length);
    }

    public byte[] get(long off, int len) {
        byte[] b = new byte[len];
        MemorySegment.copy(mem, ValueLayout.JAVA_BYTE, off, b, 0, len);
        return b;
    }

    @Override
    public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
        MemorySegment.copy(mem, ValueLayout.JAVA_BYTE, at(vaddr, length), dst, offset, length);
    }

    @Override
    public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
        MemorySegment.copy(src, offset, mem, ValueLayout.JAVA_BYTE, at(vaddr, length), length);
    }

    @Override
    public boolean backed(long vaddr, long size) {
        long off = vaddr - mem.address();
        return off >= 0 && size >= 0 && off <= mem.byteSize() - size;
    }

    private long at(long vaddr, int length) throws ErrnoException {
        if (!backed(vaddr, length)) {
            throw new ErrnoException("copy_user", Errno.EFAULT, "0x" + Long.toHexString(vaddr));
        }
        accesses++;
        return vaddr - mem.address();
    }
}
