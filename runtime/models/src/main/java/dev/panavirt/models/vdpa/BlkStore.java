package dev.panavirt.models.vdpa;

/**
 * The block simulator's 128 MiB zero-filled backing store ({@link BlkBackend#ram()}), held sparsely: 64 KiB
 * chunks allocated on their first write, so a device costs 16 KiB of chunk references until data is written.
 * Reads of a chunk never written see zeros.
 */
final class BlkStore implements BlkBackend {
    static final int CHUNK_SHIFT = 16;
    static final int CHUNK = 1 << CHUNK_SHIFT;
    static final byte[] ZEROS = new byte[CHUNK];
    private static final byte[] ID = java.util.Arrays.copyOf(
            "vdpa_blk_sim".getBytes(java.nio.charset.StandardCharsets.US_ASCII), ID_BYTES);

    final long bytes;
    private final byte[][] chunks;

    BlkStore(long bytes) {
        this.bytes = bytes;
        this.chunks = new byte[(int) ((bytes + CHUNK - 1) >>> CHUNK_SHIFT)][];
    }

    @Override
    public long capacity() {
        return bytes >>> 9;
    }

    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public byte[] id() {
        return ID.clone();
    }

    @Override
    public void read(long offset, byte[] dst, int off, int len) {
        for (int done = 0; done < len; ) {
            long at = offset + done;
            int in = (int) (at & (CHUNK - 1));
            int n = Math.min(CHUNK - in, len - done);
            System.arraycopy(chunkForRead(at), in, dst, off + done, n);
            done += n;
        }
    }

    @Override
    public void write(long offset, byte[] src, int off, int len) {
        for (int done = 0; done < len; ) {
            long at = offset + done;
            int in = (int) (at & (CHUNK - 1));
            int n = Math.min(CHUNK - in, len - done);
            System.arraycopy(src, off + done, chunkForWrite(at), in, n);
            done += n;
        }
    }

    /** Nothing to do: the disk is memory. */
    @Override
    public void flush() {
    }

    /** Nothing to release: the chunks go with the device. */
    @Override
    public void close() {
    }

    /** The chunk holding byte {@code offset}, allocated if needed (for writes). */
    byte[] chunkForWrite(long offset) {
        int i = (int) (offset >>> CHUNK_SHIFT);
        byte[] c = chunks[i];
        if (c == null) {
            c = chunks[i] = new byte[CHUNK];
        }
        return c;
    }

    /** The chunk holding byte {@code offset}, or the shared zeros when it was never written (for reads). */
    byte[] chunkForRead(long offset) {
        byte[] c = chunks[(int) (offset >>> CHUNK_SHIFT)];
        return c == null ? ZEROS : c;
    }

    /** Zero-fills {@code [offset, offset + length)}; whole chunks are simply dropped. */
    @Override
    public void zero(long offset, long length) {
        long end = offset + length;
        while (offset < end) {
            int i = (int) (offset >>> CHUNK_SHIFT);
            int at = (int) (offset & (CHUNK - 1));
            int n = (int) Math.min(CHUNK - at, end - offset);
            if (chunks[i] != null) {
                if (n == CHUNK) {
                    chunks[i] = null;
                } else {
                    java.util.Arrays.fill(chunks[i], at, at + n, (byte) 0);
                }
            }
            offset += n;
        }
    }

    /** Chunks allocated so far. */
    int allocatedChunks() {
        int n = 0;
        for (byte[] c : chunks) {
            if (c != null) {
                n++;
            }
        }
        return n;
    }
}
