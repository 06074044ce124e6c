package dev.panavirt.sys;

import dev.panavirt.base.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Memory mappings returned as segments whose lifetime is an {@link Arena}: closing it unmaps them. */
public final class Mmap {
    private Mmap() {}

    /** The page size the mappings are rounded to. */
    public static final long PAGE_SIZE = 4096;

    /**
     * Maps {@code length} bytes of {@code fd} at {@code offset} (or anonymous memory when {@code fd} is
     * {@code null}); the mapping is removed when {@code arena} closes.
     *
     * @param what names the mapping in error messages (e.g. {@code "kvm_run of vcpu 0"})
     */
    public static MemorySegment map(Arena arena, long length, int prot, int flags, Fd fd, long offset, String what)
            throws ErrnoException {
        if (length <= 0) {
            throw new IllegalArgumentException("mapping length must be positive: " + length);
        }
        int raw = fd == null ? -1 : fd.raw();
        long addr = Libc.mmap(Scratch.capture(), 0, length, prot, flags | (fd == null ? Libc.MAP_ANONYMOUS : 0),
                raw, offset);
        if (addr < 0 && addr > -4096) {
            throw new ErrnoException("mmap", (int) -addr, what + ", " + length + " bytes at offset " + offset);
        }
        return MemorySegment.ofAddress(addr).reinterpret(length, arena, s -> Libc.munmap(Scratch.capture(),
                s.address(), length));
    }

    /**
     * Changes the protection of the pages of {@code pages} (page-aligned, a whole number of pages).
     *
     * @param what names the pages in error messages
     * @throws ErrnoException EINVAL for an unaligned segment, ENOMEM for an address that is not mapped
     */
    public static void protect(MemorySegment pages, int prot, String what) throws ErrnoException {
        int rc = Libc.mprotect(Scratch.capture(), pages.address(), pages.byteSize(), prot);
        if (rc < 0) {
            throw new ErrnoException("mprotect", -rc, what + ", " + pages.byteSize() + " bytes, prot " + prot);
        }
    }

    /** Rounds {@code n} up to a whole number of pages. */
    public static long pageAlign(long n) {
        return (n + PAGE_SIZE - 1) & -PAGE_SIZE;
    }
}
