package dev.panavirt.models.vfio;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;

/** Process memory for the model tests: {@code size} bytes at {@code base}; everything else faults. */
final class HeapMemory implements HostMemory {
    final long base;
    final byte[] bytes;

    HeapMemory(long base, int size) {
        this.base = base;
        this.bytes = new byte[size];
    }

    @Override
    public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
        System.arraycopy(bytes, at(vaddr, length), dst, offset, length);
    }

    @Override
    public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
        System.arraycopy(src, offset, bytes, at(vaddr, length), length);
    }

    @Override
    public boolean backed(long vaddr, long size) {
        long off = vaddr - base;
        return off >= 0 && size >= 0 && off <= bytes.length - size;
    }

    private int at(long vaddr, int length) throws ErrnoException {
        if (!backed(vaddr, length)) {
            throw new ErrnoException("copy_user", Errno.EFAULT, "0x" + Long.toHexString(vaddr));
        }
        return (int) (vaddr - base);
    }
}
