package dev.panavirt.fd;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * File-backed shared memory: a {@code memfd_create} file mapped {@code MAP_SHARED}. Some kernel consumers take
 * only such memory: vhost-vdpa devices that work on user virtual addresses (vdpa_sim's default {@code use_va})
 * enter only file-backed shared mappings into their IOTLB and skip anonymous memory silently
 * (drivers/vhost/vdpa.c, {@code vhost_vdpa_va_map}); a memfd can also be handed to another process.
 */
public final class SharedMemory {
    private SharedMemory() {
    }

    /**
     * Maps {@code size} bytes of a new memfd, zero-filled; the mapping goes when {@code arena} closes (the file
     * with it: the descriptor is closed before this returns).
     *
     * @param size bytes, rounded up to whole pages
     * @param name the memfd's name (shown in /proc/PID/maps as {@code /memfd:NAME})
     * @throws ErrnoException from memfd_create(2), ftruncate(2) or mmap(2), named as such
     */
    public static MemorySegment map(Arena arena, long size, String name) throws ErrnoException {
        if (size <= 0) {
            throw new IllegalArgumentException("shared memory size must be positive: " + size);
        }
        long length = Mmap.pageAlign(size);
        int raw;
        try (Arena a = Arena.ofConfined()) {
            raw = Libc.memfdCreate(Scratch.capture(), a.allocateFrom(name), Libc.MFD_CLOEXEC);
        }
        if (raw < 0) {
            throw new ErrnoException("memfd_create", -raw, name);
        }
        try (Fd memfd = Fd.adopt(raw, "memfd " + name)) {
            int rc = Libc.ftruncate(Scratch.capture(), memfd.raw(), length);
            if (rc < 0) {
                throw new ErrnoException("ftruncate", -rc, length + " bytes for memfd " + name);
            }
            // The mapping keeps the file alive after the descriptor closes.
            return Mmap.map(arena, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, memfd, 0,
                    "memfd " + name);
        }
    }
}
