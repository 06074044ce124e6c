package dev.panavirt.models.vdpa;

/**
 * The simulator's side of one split virtqueue ({@code struct vdpasim_virtqueue} with its {@code vringh}):
 * the addresses and size the driver programmed, the ring snapshot taken when the queue became ready, the
 * available and used indexes, and the descriptor chain being served with a read cursor (over the readable
 * part) and a write cursor (over the writable part).
 *
 * <p>Chains are walked as {@code __vringh_iov} walks them (readable before writable, {@code -ELOOP} for a
 * loop, {@code -EINVAL} for a bad index, a nested indirect table or an indirect length that is not a multiple
 * of 16), with bounds of the model's own so that no chain can make it loop or allocate: at most {@code num}
 * descriptors from the ring (indirect ones included; the kernel does not count those, so a ring descriptor
 * that is indirect and names itself as next never ends there), an indirect table of at most {@code num}
 * entries, and at most {@link #MAX_SEGMENTS} segments per chain. Descriptor addresses are IOVAs, translated
 * only when data moves, as {@code vringh_getdesc_iotlb} does. Nothing here allocates.
 */
final class Vring {
    static final int QUEUE_MAX = 256;
    static final int MAX_SEGMENTS = 2 * QUEUE_MAX;
    static final int F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
    static final int EFAULT = 14, EINVAL = 22, EPROTO = 71, ELOOP = 40;

    final int index;
    // Programmed by the driver (vdpasim_set_vq_num / _address / _state).
    int num;
    long descAddr, driverAddr, deviceAddr;
    boolean ready;
    int asid;
    VdpaSim.Callback callback;

    // The vringh snapshot taken at ready.
    private long desc, avail, used;
    private int ringNum;
    int lastAvail;
    int usedIdx;

    // The chain being served.
    private final long[] segAddr = new long[MAX_SEGMENTS];
    private final long[] segLen = new long[MAX_SEGMENTS];
    int segments;
    int readable;                                     // segments [0, readable) are readable, the rest writable
    int head;
    /** Whether the last {@link #next} took a head off the available ring (so it must be completed). */
    boolean consumed;
    private int rSeg;
    private long rOff;
    private int wSeg;
    private long wOff;

    private final byte[] d = new byte[16];

    Vring(int index) {
        this.index = index;
    }

    /** {@code vdpasim_vq_reset}: not ready, addresses 0, callback dropped, indexes 0; the size is kept. */
    void reset() {
        ready = false;
        descAddr = driverAddr = deviceAddr = 0;
        callback = null;
        desc = avail = used = 0;
        ringNum = QUEUE_MAX;
        lastAvail = 0;
        usedIdx = 0;
        asid = 0;
    }

    /** {@code vdpasim_set_vq_ready}: on 0 → 1 the ring is taken from the programmed values, used = avail. */
    void setReady(boolean r) {
        boolean old = ready;
        ready = r;
        if (r && !old) {
            desc = descAddr;
            avail = driverAddr;
            used = deviceAddr;
            ringNum = num;
            usedIdx = lastAvail;
        }
    }

    /** Whether the ring can be served (a queue whose size was never set has none: the model serves nothing). */
    boolean usable() {
        return ready && ringNum > 0;
    }

    /**
     * Takes the next available chain: 1 with the chain in the segment arrays, 0 when the ring is empty, or a
     * negative errno. {@link #consumed} tells whether a head was taken even though the chain was refused.
     */
    int next(DeviceMemory mem, boolean allowRead, boolean allowWrite) {
        consumed = false;
        segments = readable = 0;
        rSeg = wSeg = 0;
        rOff = wOff = 0;
        int availIdx = mem.read16(asid, avail + 2);
        if (availIdx < 0) {
            return -EFAULT;
        }
        if (availIdx == lastAvail) {
            return 0;
        }
        int slot = lastAvail & (ringNum - 1);
        int h = mem.read16(asid, avail + 4 + 2L * slot);
        if (h < 0) {
            return -EFAULT;
        }
        if (h >= ringNum) {
            return -EINVAL;                                 // not consumed: the queue stays stuck here
        }
        lastAvail = (lastAvail + 1) & 0xffff;
        head = h;
        consumed = true;
        return walk(mem, h, allowRead, allowWrite);
    }

    private int walk(DeviceMemory mem, int first, boolean allowRead, boolean allowWrite) {
        long table = desc;
        int max = ringNum;
        int upNext = -1;
        int count = 0;
        int indirectCount = 0;
        int i = first;
        boolean seenWrite = false;
        for (;;) {
            if (!mem.read(asid, table + 16L * i, d, 0, 16)) {
                return -EFAULT;
            }
            long a = Le.get64(d, 0);
            long len = Le.get32(d, 8) & 0xffff_ffffL;
            int flags = Le.get16(d, 12);
            int next = Le.get16(d, 14);
            if (upNext == -1 && ++count > ringNum) {
                return -ELOOP;
            }
            if ((flags & F_INDIRECT) != 0) {
                if (upNext != -1 || len % 16 != 0 || len / 16 > ringNum) {
                    return -EINVAL;
                }
                upNext = (flags & F_NEXT) != 0 ? next : -2;
                table = a;
                max = (int) (len / 16);
                i = 0;
                continue;
            }
            if (upNext != -1 && ++indirectCount > max) {
                return -ELOOP;
            }
            boolean w = (flags & F_WRITE) != 0;
            if (w) {
                if (!allowWrite) {
                    return -EPROTO;
                }
            } else {
                if (allowWrite && seenWrite) {
                    return -EINVAL;
                }
                if (!allowRead) {
                    return -EPROTO;
                }
            }
            if (segments == MAX_SEGMENTS) {
                return -ELOOP;
            }
            segAddr[segments] = a;
            segLen[segments] = len;
            segments++;
            if (w) {
                seenWrite = true;
            } else {
                readable++;
            }
            if ((flags & F_NEXT) != 0) {
                i = next;
            } else if (upNext > 0) {                        // as vringh: an indirect whose next is 0 ends the chain
                i = upNext;
                upNext = -1;
                table = desc;
                max = ringNum;
                indirectCount = 0;
            } else {
                return 1;
            }
            if (i >= max) {
                return -EINVAL;
            }
        }
    }

    long readableLength() {
        long n = 0;
        for (int s = 0; s < readable; s++) {
            n += segLen[s];
        }
        return n;
    }

    long writableLength() {
        long n = 0;
        for (int s = readable; s < segments; s++) {
            n += segLen[s];
        }
        return n;
    }

    int writableSegments() {
        return segments - readable;
    }

    long lastWritableLength() {
        return segLen[segments - 1];
    }

    /** Copies up to {@code len} readable bytes into {@code dst}: the count, or -1 on a fault. */
    int pull(DeviceMemory mem, byte[] dst, int off, int len) {
        int done = 0;
        while (done < len && rSeg < readable) {
            long left = segLen[rSeg] - rOff;
            if (left == 0) {
                rSeg++;
                rOff = 0;
                continue;
            }
            int n = (int) Math.min(left, len - done);
            if (!mem.read(asid, segAddr[rSeg] + rOff, dst, off + done, n)) {
                return -1;
            }
            rOff += n;
            done += n;
        }
        return done;
    }

    /** Copies up to {@code len} bytes of {@code src} into the writable part: the count, or -1 on a fault. */
    int push(DeviceMemory mem, byte[] src, int off, int len) {
        int done = 0;
        while (done < len && wSeg < segments - readable) {
            int s = readable + wSeg;
            long left = segLen[s] - wOff;
            if (left == 0) {
                wSeg++;
                wOff = 0;
                continue;
            }
            int n = (int) Math.min(left, len - done);
            if (!mem.write(asid, segAddr[s] + wOff, src, off + done, n)) {
                return -1;
            }
            wOff += n;
            done += n;
        }
        return done;
    }

    /** Puts the write cursor {@code pos} bytes into the writable part (at most at its end). */
    void seekWritable(long pos) {
        wSeg = 0;
        wOff = 0;
        skipWritable(pos);
    }

    /** Moves the write cursor {@code n} bytes on (at most to the end). */
    void skipWritable(long n) {
        while (n > 0 && wSeg < segments - readable) {
            long left = segLen[readable + wSeg] - wOff;
            if (left <= n) {
                n -= left;
                wSeg++;
                wOff = 0;
            } else {
                wOff += n;
                n = 0;
            }
        }
    }

    /** Puts {@code {head, len}} on the used ring and publishes it; false when the used ring cannot be written. */
    boolean complete(DeviceMemory mem, int id, long len) {
        int slot = usedIdx % ringNum;
        if (!mem.write32x2(asid, used + 4 + 8L * slot, id, (int) len)) {
            return false;
        }
        if (!mem.write16(asid, used + 2, usedIdx + 1)) {
            return false;
        }
        usedIdx = (usedIdx + 1) & 0xffff;
        return true;
    }

    /** Whether the driver wants a call ({@code VRING_AVAIL_F_NO_INTERRUPT} clear; no event index offered). */
    boolean needNotify(DeviceMemory mem) {
        int flags = mem.read16(asid, avail);
        return flags >= 0 && (flags & 1) == 0;
    }

    void notifyDriver() {
        VdpaSim.Callback cb = callback;
        if (cb != null) {
            cb.call(index);
        }
    }

    /** Completes and calls the driver if it asked for calls ({@code vdpasim_net_complete}). */
    void completeAndNotify(DeviceMemory mem, int id, long len) {
        complete(mem, id, len);
        if (needNotify(mem)) {
            notifyDriver();
        }
    }
}
