package dev.panavirt.models.vdpa;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.HostMemory;

/**
 * The device's view of memory: an IOVA is translated through the simulator's table of the address space
 * (read needs {@code VHOST_ACCESS_RO}, write needs {@code _WO}, as {@code iotlb_translate} in
 * {@code drivers/vhost/vringh.c} checks), piece by piece across entries, and the user address is reached
 * through {@link HostMemory}. Every failure (no entry, wrong permission, a range that wraps, unbacked user
 * memory) is a {@code false} answer, never an exception, so the datapath turns it into a device error.
 * Allocates nothing.
 */
final class DeviceMemory {
    static final int RO = 1, WO = 2;

    private final HostMemory host;
    private final Iotlb[] tables;
    private final byte[] scratch = new byte[8];
    /** Accesses refused (translation, permission or host fault). */
    long faults;

    DeviceMemory(HostMemory host, Iotlb[] tables) {
        this.host = host;
        this.tables = tables;
    }

    boolean read(int asid, long iova, byte[] dst, int off, int len) {
        return access(asid, iova, dst, off, len, false);
    }

    boolean write(int asid, long iova, byte[] src, int off, int len) {
        return access(asid, iova, src, off, len, true);
    }

    /** A little-endian u16, or -1 when it cannot be read. */
    int read16(int asid, long iova) {
        if (!read(asid, iova, scratch, 0, 2)) {
            return -1;
        }
        return (scratch[0] & 0xff) | (scratch[1] & 0xff) << 8;
    }

    boolean write16(int asid, long iova, int value) {
        scratch[0] = (byte) value;
        scratch[1] = (byte) (value >>> 8);
        return write(asid, iova, scratch, 0, 2);
    }

    boolean write32x2(int asid, long iova, int a, int b) {
        Le.put32(scratch, 0, a);
        Le.put32(scratch, 4, b);
        return write(asid, iova, scratch, 0, 8);
    }

    private boolean access(int asid, long iova, byte[] buf, int off, int len, boolean write) {
        if (len <= 0) {
            return len == 0;
        }
        if (Long.compareUnsigned(iova + len - 1, iova) < 0) {
            faults++;
            return false;                                   // the range wraps past 2^64 − 1
        }
        Iotlb t = tables[asid];
        int done = 0;
        while (done < len) {
            long at = iova + done;
            int e = t.find(at);
            if (e < 0 || (t.perm(e) & (write ? WO : RO)) == 0) {
                faults++;
                return false;
            }
            long room = t.last(e) - at;                     // bytes left in the entry, minus one
            int n = Long.compareUnsigned(room, len - done - 1) >= 0 ? len - done : (int) (room + 1);
            long uaddr = t.addr(e) + (at - t.start(e));
            try {
                if (write) {
                    host.write(uaddr, buf, off + done, n);
                } else {
                    host.read(uaddr, buf, off + done, n);
                }
            } catch (ErrnoException ex) {
                faults++;
                return false;
            }
            done += n;
        }
        return true;
    }
}
