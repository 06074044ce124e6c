package dev.panavirt.models.vdpa;

/**
 * The block simulator's 128 MiB zero-filled backing store, held sparsely: 64 KiB chunks allocated on their
 * first write, so a device costs 16 KiB of chunk references until data is written. Reads of a chunk never
 * written see zeros.
 */
final class BlkStore {
    static final int CHUNK_SHIFT = 16;
    static final int CHUNK = 1 << CHUNK_SHIFT;
    static final byte[] ZEROS = new byte[CHUNK];

    final long bytes;
    private final byte[][] chunks;

    BlkStore(long bytes) {
        this.bytes = bytes;
        this.chunks = new byte[(int) ((bytes + CHUNK - 1) >>> CHUNK_SHIFT)][];
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
    void zero(long offset, long length) {
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
