package dev.panavirt.testsupport;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.HostMemory;

/**
 * Process memory for model tests and fuzz targets: {@code bytes.length} bytes at {@code base}; anything else
 * faults with EFAULT, as {@code copy_from_user} would. An optional check sees every access first (a fuzz
 * target asserts there that the model touches only memory some device table maps).
 */
public final class HeapHostMemory implements HostMemory {
    /** Sees an access before it happens; throws (e.g. an AssertionError) to refuse it. */
    @FunctionalInterface
    public interface AccessCheck {
        /** Called with the access's first address and length. */
        void check(long vaddr, int length);
    }

    /** The first address. */
    public final long base;
    /** The memory itself, for tests to fill and inspect. */
    public final byte[] bytes;
    private final AccessCheck check;

    /** {@code size} bytes at {@code base}, every access allowed. */
    public HeapHostMemory(long base, int size) {
        this(base, size, (vaddr, length) -> { });
    }

    /** {@code size} bytes at {@code base}, every access shown to {@code check} first. */
    public HeapHostMemory(long base, int size, AccessCheck check) {
        this.base = base;
        this.bytes = new byte[size];
        this.check = check;
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
        check.check(vaddr, length);
        if (!backed(vaddr, length)) {
            throw new ErrnoException("copy_user", Errno.EFAULT, "0x" + Long.toHexString(vaddr));
        }
        return (int) (vaddr - base);
    }
}
