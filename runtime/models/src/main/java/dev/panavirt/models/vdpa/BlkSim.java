package dev.panavirt.models.vdpa;

/**
 * {@code vdpa_sim_blk}'s worker: one request per chain (a 16-byte header {type, ioprio, sector} in the
 * readable part, data, and the status byte as the last writable byte), served against the sparse
 * {@link BlkStore}. Used length = bytes written into the chain including the status. Allocates only when a
 * write first touches a 64 KiB chunk of the disk.
 */
final class BlkSim {
    static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
    static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final long MAX_IO_SECTORS = 4096L * 32;          // upstream's SIZE_MAX * SEG_MAX, compared as sectors
    static final long MAX_DWZ_SECTORS = 0xFFFF_FFFFL;
    static final byte[] ID = new byte[20];

    static {
        byte[] s = "vdpa_blk_sim".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, ID, 0, s.length);
    }

    final BlkStore store = new BlkStore(VdpaSim.BLK_CAPACITY << 9);
    private final VdpaSim sim;
    private final byte[] hdr = new byte[16];
    private final byte[] one = new byte[1];

    BlkSim(VdpaSim sim) {
        this.sim = sim;
    }

    void work() {
        DeviceMemory mem = sim.dma;
        Vring vq = sim.vqs[0];
        if (!vq.usable()) {
            return;
        }
        for (int budget = VdpaSim.QUEUE_MAX; ; budget--) {
            if (budget == 0) {
                sim.pendingWork = true;
                return;
            }
            if (!handle(mem, vq)) {
                return;
            }
            if (vq.needNotify(mem)) {
                vq.notifyDriver();
            }
        }
    }

    /** One request; false when the ring is empty or the request was refused (serving stops for this pass). */
    private boolean handle(DeviceMemory mem, Vring vq) {
        int r = vq.next(mem, true, true);
        if (r != 1) {
            if (r < 0 && vq.consumed) {
                refuse(mem, vq, 0);
            } else if (r < 0) {
                sim.deviceErrors++;
            }
            return false;
        }
        if (vq.readable < 1 || vq.writableSegments() < 1 || vq.lastWritableLength() < 1) {
            refuse(mem, vq, 0);
            return false;
        }
        long toPush = vq.writableLength() - 1;
        long toPull = vq.readableLength();
        if (vq.pull(mem, hdr, 0, 16) != 16) {
            refuse(mem, vq, 0);
            return false;
        }
        toPull -= 16;
        long type = Le.get32(hdr, 0) & 0xffff_ffffL;
        long sector = Le.get64(hdr, 8);
        long pushed = 0;
        int status = S_OK;
        if (type != T_IN && type != T_OUT && sector != 0) {
            status = S_IOERR;
        } else if (type == T_IN) {
            if (!inRange(sector, toPush >>> 9, MAX_IO_SECTORS, toPush)) {
                status = S_IOERR;
            } else {
                long n = pushFromStore(mem, vq, sector << 9, toPush);
                if (n < 0) {
                    status = S_IOERR;
                } else {
                    pushed += n;
                }
            }
        } else if (type == T_OUT) {
            if (!inRange(sector, toPull >>> 9, MAX_IO_SECTORS, toPull) || !pullToStore(mem, vq, sector << 9, toPull)) {
                status = S_IOERR;
            }
        } else if (type == T_GET_ID) {
            int n = vq.push(mem, ID, 0, (int) Math.min(ID.length, toPush));
            if (n < 0) {
                status = S_IOERR;
            } else {
                pushed += n;
            }
        } else if (type == T_DISCARD || type == T_WRITE_ZEROES) {
            status = discardOrZero(mem, vq, type, toPull);
        } else if (type != T_FLUSH) {
            status = S_IOERR;
        }
        vq.seekWritable(toPush);                           // the status is the last writable byte
        one[0] = (byte) status;
        if (vq.push(mem, one, 0, 1) != 1) {
            refuse(mem, vq, pushed);
            return false;
        }
        vq.complete(mem, vq.head, pushed + 1);
        return true;
    }

    private int discardOrZero(DeviceMemory mem, Vring vq, long type, long toPull) {
        if (toPull != 16 || vq.pull(mem, hdr, 0, 16) != 16) {
            return S_IOERR;
        }
        long sector = Le.get64(hdr, 0);
        long count = Le.get32(hdr, 8) & 0xffff_ffffL;
        int flags = Le.get32(hdr, 12);
        if (type == T_DISCARD && flags != 0 || type == T_WRITE_ZEROES && (flags & ~1) != 0) {
            return S_UNSUPP;
        }
        if (!inRange(sector, count, MAX_DWZ_SECTORS, count << 9)) {
            return S_IOERR;
        }
        if (type == T_WRITE_ZEROES) {
            store.zero(sector << 9, count << 9);
        }
        return S_OK;
    }

    /**
     * {@code vdpasim_blk_check_range}, plus the model's own check that the bytes moved stay on the disk (a
     * length that is not a whole number of sectors could pass upstream's sector test at the end of the disk).
     */
    private boolean inRange(long start, long sectors, long max, long bytes) {
        if (Long.compareUnsigned(start, VdpaSim.BLK_CAPACITY) >= 0) {
            return false;
        }
        if (Long.compareUnsigned(sectors, max) > 0 || sectors > VdpaSim.BLK_CAPACITY - start) {
            return false;
        }
        return bytes <= store.bytes - (start << 9);
    }

    private long pushFromStore(DeviceMemory mem, Vring vq, long offset, long length) {
        long done = 0;
        while (done < length) {
            long at = offset + done;
            int in = (int) (at & (BlkStore.CHUNK - 1));
            int n = (int) Math.min(BlkStore.CHUNK - in, length - done);
            int w = vq.push(mem, store.chunkForRead(at), in, n);
            if (w < 0) {
                return -1;
            }
            done += w;
            if (w < n) {
                break;
            }
        }
        return done;
    }

    private boolean pullToStore(DeviceMemory mem, Vring vq, long offset, long length) {
        long done = 0;
        while (done < length) {
            long at = offset + done;
            int in = (int) (at & (BlkStore.CHUNK - 1));
            int n = (int) Math.min(BlkStore.CHUNK - in, length - done);
            int r = vq.pull(mem, store.chunkForWrite(at), in, n);
            if (r < 0) {
                return false;
            }
            done += r;
            if (r < n) {
                break;
            }
        }
        return true;
    }

    /** A refused request: returned on the used ring with what was written so far (see {@link VdpaSim}). */
    private void refuse(DeviceMemory mem, Vring vq, long pushed) {
        sim.deviceErrors++;
        vq.complete(mem, vq.head, pushed);
        if (vq.needNotify(mem)) {
            vq.notifyDriver();
        }
    }
}
