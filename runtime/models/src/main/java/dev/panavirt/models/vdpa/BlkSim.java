package dev.panavirt.models.vdpa;

import java.io.IOException;

/**
 * {@code vdpa_sim_blk}'s worker: one request per chain (a 16-byte header {type, ioprio, sector} in the
 * readable part, data, and the status byte as the last writable byte), served against a {@link BlkBackend}
 * (by default the sparse {@link BlkStore}). Data moves through one 64 KiB bounce buffer, piece by piece, so a
 * request allocates nothing whatever lengths the driver states; the RAM store allocates only when a write
 * first touches a 64 KiB chunk of the disk. Used length = bytes written into the chain including the status.
 *
 * <p>A read-only backend answers OUT, DISCARD and WRITE_ZEROES with IOERR (virtio 1.2 section 5.2.6.2: a
 * device offering {@code VIRTIO_BLK_F_RO} fails writes). A backend's {@link IOException} is IOERR.
 */
final class BlkSim {
    static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
    static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final long MAX_IO_SECTORS = 4096L * 32;          // upstream's SIZE_MAX * SEG_MAX, compared as sectors
    static final long MAX_DWZ_SECTORS = 0xFFFF_FFFFL;

    final BlkBackend store;
    private final long capacity;
    private final byte[] id = new byte[BlkBackend.ID_BYTES];
    private final VdpaSim sim;
    private final byte[] hdr = new byte[16];
    private final byte[] one = new byte[1];
    private final byte[] bounce = new byte[BlkBackend.MAX_TRANSFER];
    /** Backend failures (reported to the driver as IOERR). */
    long ioErrors;

    BlkSim(VdpaSim sim, BlkBackend store) {
        this.sim = sim;
        this.store = store;
        this.capacity = store.capacity();
        byte[] given = store.id();
        System.arraycopy(given, 0, id, 0, Math.min(given.length, id.length));
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
            if (store.readOnly() || !inRange(sector, toPull >>> 9, MAX_IO_SECTORS, toPull)
                    || !pullToStore(mem, vq, sector << 9, toPull)) {
                status = S_IOERR;
            }
        } else if (type == T_GET_ID) {
            int n = vq.push(mem, id, 0, (int) Math.min(id.length, toPush));
            if (n < 0) {
                status = S_IOERR;
            } else {
                pushed += n;
            }
        } else if (type == T_DISCARD || type == T_WRITE_ZEROES) {
            status = discardOrZero(mem, vq, type, toPull);
        } else if (type == T_FLUSH) {
            status = flush();
        } else {
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
        if (!inRange(sector, count, MAX_DWZ_SECTORS, count << 9) || store.readOnly()) {
            return S_IOERR;
        }
        if (type == T_WRITE_ZEROES) {
            try {
                store.zero(sector << 9, count << 9);
            } catch (IOException e) {
                ioErrors++;
                return S_IOERR;
            }
        }
        return S_OK;
    }

    private int flush() {
        try {
            store.flush();
            return S_OK;
        } catch (IOException e) {
            ioErrors++;
            return S_IOERR;
        }
    }

    /**
     * {@code vdpasim_blk_check_range}, plus the model's own check that the bytes moved stay on the disk (a
     * length that is not a whole number of sectors could pass upstream's sector test at the end of the disk).
     */
    private boolean inRange(long start, long sectors, long max, long bytes) {
        if (Long.compareUnsigned(start, capacity) >= 0) {
            return false;
        }
        if (Long.compareUnsigned(sectors, max) > 0 || sectors > capacity - start) {
            return false;
        }
        return bytes <= (capacity - start) << 9;
    }

    /** Moves {@code length} disk bytes from {@code offset} into the chain: the bytes pushed, -1 on a fault. */
    private long pushFromStore(DeviceMemory mem, Vring vq, long offset, long length) {
        long done = 0;
        while (done < length) {
            long at = offset + done;
            int n = piece(at, length - done);
            try {
                store.read(at, bounce, 0, n);
            } catch (IOException e) {
                ioErrors++;
                return -1;
            }
            int w = vq.push(mem, bounce, 0, n);
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

    /** Moves {@code length} bytes of the chain to disk byte {@code offset}: false on a fault or a failed write. */
    private boolean pullToStore(DeviceMemory mem, Vring vq, long offset, long length) {
        long done = 0;
        while (done < length) {
            long at = offset + done;
            int n = piece(at, length - done);
            int r = vq.pull(mem, bounce, 0, n);
            if (r < 0) {
                return false;
            }
            try {
                store.write(at, bounce, 0, r);
            } catch (IOException e) {
                ioErrors++;
                return false;
            }
            done += r;
            if (r < n) {
                break;
            }
        }
        return true;
    }

    /** The next piece of a transfer at {@code at}: up to the next multiple of the bounce buffer's size. */
    private static int piece(long at, long left) {
        int in = (int) (at & (BlkBackend.MAX_TRANSFER - 1));
        return (int) Math.min(BlkBackend.MAX_TRANSFER - in, left);
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
