package dev.panavirt.models.vdpa;

import java.io.IOException;

/**
 * Where the block simulator's sectors live. The default is {@link #ram()}, vdpa_sim_blk's own 128 MiB
 * zero-filled disk; a VMM gives the device a file instead ({@code dev.panavirt.vhost.FileBlkBackend}).
 *
 * <p>The simulator calls these methods from the thread serving the queue, one request at a time, with offsets
 * and lengths it has already checked against {@link #capacity()}; a transfer is at most
 * {@link #MAX_TRANSFER} bytes and never crosses a multiple of it. An {@link IOException} becomes the request's
 * {@code VIRTIO_BLK_S_IOERR}. Implementations should allocate nothing per call on their steady path.
 */
public interface BlkBackend extends AutoCloseable {
    /** The largest single {@link #read}/{@link #write}: the simulator's bounce buffer. */
    int MAX_TRANSFER = 1 << 16;
    /** Bytes in a sector. */
    int SECTOR = 512;
    /** Bytes of a virtio-blk id ({@code VIRTIO_BLK_ID_BYTES}). */
    int ID_BYTES = 20;

    /** Capacity in 512-byte sectors. */
    long capacity();

    /** Whether writes are refused: the device then offers {@code VIRTIO_BLK_F_RO} and answers them with IOERR. */
    boolean readOnly();

    /** The {@code GET_ID} answer: at most {@link #ID_BYTES} bytes, NUL-padded by the device when shorter. */
    byte[] id();

    /** Copies {@code len} bytes at byte {@code offset} of the disk into {@code dst[off..]}. */
    void read(long offset, byte[] dst, int off, int len) throws IOException;

    /** Copies {@code len} bytes of {@code src[off..]} to byte {@code offset} of the disk. */
    void write(long offset, byte[] src, int off, int len) throws IOException;

    /** {@code VIRTIO_BLK_T_FLUSH}: every completed write reaches stable storage before this returns. */
    void flush() throws IOException;

    /** {@code VIRTIO_BLK_T_WRITE_ZEROES}: {@code [offset, offset + length)} reads as zeros afterwards. */
    void zero(long offset, long length) throws IOException;

    /** Releases what the backend holds (the file); the device is closed with it. */
    @Override
    void close();

    /** vdpa_sim_blk's disk: {@link VdpaSim#BLK_CAPACITY} zero-filled sectors in memory, id "vdpa_blk_sim". */
    static BlkBackend ram() {
        return new BlkStore(VdpaSim.BLK_CAPACITY << 9);
    }
}
