package dev.panavirt.vhost.driver;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.virtio.virtio_blk_config;
import dev.panavirt.bindings.virtio.virtio_blk_outhdr;
import dev.panavirt.bindings.virtio.virtio_h;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A virtio-blk driver over a vDPA device (virtio 1.2 spec section 5.2): capacity and limits from config space,
 * and synchronous requests on queue 0, one at a time: read and write sectors, flush, get the device id.
 *
 * <p>A request is a chain of the 16-byte {@code virtio_blk_outhdr} (device-readable), the data split into
 * segments of at most {@code size_max} bytes and at most {@code seg_max} of them (readable for writes, writable
 * for reads), and the status byte (writable); transfers larger than one request are split. With
 * {@code VIRTIO_F_INDIRECT_DESC} negotiated the chain goes in an indirect table. Data passes through a
 * preallocated bounce buffer in the driver's {@link IovaMemory}; requests allocate nothing.
 */
public final class VirtioBlkDriver implements AutoCloseable {
    /** Bytes of a sector, the unit of the request header's sector field. */
    public static final int SECTOR = 512;
    /** Request status values {@code VIRTIO_BLK_S_OK}, {@code _IOERR}, {@code _UNSUPP}. */
    public static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    /** Base of the driver's IOVA region. */
    public static final long IOVA_BASE = 0x10_0000;
    /** Largest data segment when the device states no {@code size_max}. */
    private static final int DEFAULT_SEGMENT = 65536;

    private final VdpaDevice device;
    private final VirtioDriverSetup setup;
    private final IovaMemory memory;
    private final SplitVirtqueue queue;
    private final MemorySegment header;
    private final MemorySegment status;
    private final MemorySegment data;
    private final long capacity;
    private final int sizeMax;
    private final int segMax;
    private final int blkSize;
    private final int segment;
    private final int segments;
    private int timeoutMillis = 10_000;
    private long requests;
    private boolean closed;

    private VirtioBlkDriver(VdpaDevice device, VirtioDriverSetup setup, IovaMemory memory, SplitVirtqueue queue,
            MemorySegment header, MemorySegment status, MemorySegment data, long capacity, int sizeMax, int segMax,
            int blkSize, int segment, int segments) {
        this.device = device;
        this.setup = setup;
        this.memory = memory;
        this.queue = queue;
        this.header = header;
        this.status = status;
        this.data = data;
        this.capacity = capacity;
        this.sizeMax = sizeMax;
        this.segMax = segMax;
        this.blkSize = blkSize;
        this.segment = segment;
        this.segments = segments;
    }

    /**
     * Sets the device up ({@link VirtioDriverSetup}) with {@code SIZE_MAX}, {@code SEG_MAX}, {@code BLK_SIZE},
     * {@code FLUSH}, {@code RO} (each where offered) and the ring features asked for, reads the config, maps the
     * driver's memory, attaches queue 0 and sets {@code DRIVER_OK}.
     *
     * @param queueSize the queue size (a power of two, at most {@link VdpaDevice#vringNumMax})
     * @param wanted    extra features wanted where offered, e.g. {@code 1L << SplitVirtqueue.F_INDIRECT_DESC}
     */
    public static VirtioBlkDriver open(VdpaDevice device, int queueSize, long wanted) throws ErrnoException {
        if (device.deviceId() != 2) {
            throw new IllegalArgumentException("not a virtio-blk device: device id " + device.deviceId());
        }
        long blkFeatures = (1L << virtio_h.VIRTIO_BLK_F_SIZE_MAX()) | (1L << virtio_h.VIRTIO_BLK_F_SEG_MAX())
                | (1L << virtio_h.VIRTIO_BLK_F_BLK_SIZE()) | (1L << virtio_h.VIRTIO_BLK_F_FLUSH())
                | (1L << virtio_h.VIRTIO_BLK_F_RO());
        VirtioDriverSetup setup = VirtioDriverSetup.begin(device, wanted | blkFeatures, 0);
        long capacity;
        int sizeMax, segMax, blkSize;
        try (Arena a = Arena.ofConfined()) {
            int size = (int) Math.min(device.configSize(), virtio_blk_config.sizeof());
            MemorySegment cfg = a.allocate(virtio_blk_config.sizeof());
            device.readConfig(0, cfg.asSlice(0, size));
            capacity = virtio_blk_config.capacity(cfg);
            sizeMax = setup.has(virtio_h.VIRTIO_BLK_F_SIZE_MAX()) ? virtio_blk_config.size_max(cfg) : 0;
            segMax = setup.has(virtio_h.VIRTIO_BLK_F_SEG_MAX()) ? virtio_blk_config.seg_max(cfg) : 0;
            blkSize = setup.has(virtio_h.VIRTIO_BLK_F_BLK_SIZE()) ? virtio_blk_config.blk_size(cfg) : SECTOR;
        }
        // Segments: at most size_max bytes each (whole sectors), at most seg_max of them, and the chain (header,
        // segments, status) must fit the ring or an indirect table.
        int segment = sizeMax >= SECTOR ? Math.min(sizeMax, DEFAULT_SEGMENT) & ~(SECTOR - 1) : DEFAULT_SEGMENT;
        boolean indirect = setup.has(SplitVirtqueue.F_INDIRECT_DESC);
        int chainMax = indirect ? Math.max(queueSize, 3) : queueSize;
        int segments = Math.max(1, Math.min(segMax > 0 ? segMax : 1, Math.min(chainMax - 2, 128)));
        if (chainMax < 3) {
            throw new IllegalArgumentException("queue size " + queueSize + " cannot hold a 3-descriptor request");
        }
        long bytes = (long) segment * segments + SplitVirtqueue.memoryBytes(queueSize, indirect ? chainMax : 0) + 8192;
        IovaMemory memory = IovaMemory.map(device, 0, IOVA_BASE, bytes, "virtio-blk");
        SplitVirtqueue queue = null;
        try {
            queue = new SplitVirtqueue(memory, 0, queueSize, setup.features(), chainMax);
            MemorySegment header = memory.allocate(virtio_blk_outhdr.sizeof(), 16);
            MemorySegment status = memory.allocate(virtio_h.VIRTIO_BLK_ID_BYTES() + 1L, 16);
            MemorySegment data = memory.allocate((long) segment * segments, 4096);
            queue.attach(device);
            setup.driverOk(queue);
            return new VirtioBlkDriver(device, setup, memory, queue, header, status, data, capacity, sizeMax,
                    segMax, blkSize, segment, segments);
        } catch (ErrnoException | RuntimeException e) {
            try {
                device.setStatus(0);
            } catch (ErrnoException ignored) {
                // reported by the original failure
            }
            if (queue != null) {
                queue.close();
            }
            memory.close();
            throw e;
        }
    }

    /** Capacity in 512-byte sectors. */
    public long capacity() {
        return capacity;
    }

    /** {@code size_max}: the largest segment the device takes (0 when not negotiated). */
    public int sizeMax() {
        return sizeMax;
    }

    /** {@code seg_max}: the most segments in a request (0 when not negotiated). */
    public int segMax() {
        return segMax;
    }

    /** {@code blk_size}: the device's block size (512 when not negotiated). */
    public int blkSize() {
        return blkSize;
    }

    /** The most data bytes one request carries (segment size times segments). */
    public int maxTransfer() {
        return segment * segments;
    }

    /** Whether the device is read-only ({@code VIRTIO_BLK_F_RO} offered): it fails writes with IOERR. */
    public boolean readOnly() {
        return (features() & 1L << virtio_h.VIRTIO_BLK_F_RO()) != 0;
    }

    /** The negotiated features. */
    public long features() {
        return setup.features();
    }

    /** The virtqueue. */
    public SplitVirtqueue queue() {
        return queue;
    }

    /** Requests completed. */
    public long requests() {
        return requests;
    }

    /** How long a request may take (default 10 s). */
    public void timeoutMillis(int millis) {
        this.timeoutMillis = millis;
    }

    /**
     * Reads {@code dst.byteSize()} bytes (whole sectors) from {@code sector} on.
     *
     * @throws BlkException when the device answers other than OK
     */
    public void read(long sector, MemorySegment dst) throws ErrnoException {
        transfer(virtio_h.VIRTIO_BLK_T_IN(), sector, dst);
    }

    /**
     * Writes {@code src} (whole sectors) from {@code sector} on.
     *
     * @throws BlkException when the device answers other than OK
     */
    public void write(long sector, MemorySegment src) throws ErrnoException {
        transfer(virtio_h.VIRTIO_BLK_T_OUT(), sector, src);
    }

    private void transfer(int type, long sector, MemorySegment buf) throws ErrnoException {
        long length = buf.byteSize();
        if (length % SECTOR != 0) {
            throw new IllegalArgumentException("transfer of " + length + " bytes is not whole sectors");
        }
        if (sector < 0 || sector > capacity || length / SECTOR > capacity - sector) {
            throw new IllegalArgumentException("sectors " + sector + " + " + length / SECTOR
                    + " beyond the capacity " + capacity);
        }
        long done = 0;
        while (done < length) {
            int chunk = (int) Math.min(length - done, maxTransfer());
            if (type == virtio_h.VIRTIO_BLK_T_OUT()) {
                MemorySegment.copy(buf, done, data, 0, chunk);
            }
            request(type, sector + done / SECTOR, chunk, 0);
            if (type == virtio_h.VIRTIO_BLK_T_IN()) {
                MemorySegment.copy(data, 0, buf, done, chunk);
            }
            done += chunk;
        }
    }

    /** {@code VIRTIO_BLK_T_FLUSH}: the device's write cache reaches its medium. */
    public void flush() throws ErrnoException {
        request(virtio_h.VIRTIO_BLK_T_FLUSH(), 0, 0, 0);
    }

    /** {@code VIRTIO_BLK_T_GET_ID}: the device's id string (up to 20 bytes, NUL-padded). */
    public String id() throws ErrnoException {
        int n = virtio_h.VIRTIO_BLK_ID_BYTES();
        request(virtio_h.VIRTIO_BLK_T_GET_ID(), 0, 0, n);
        byte[] id = status.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        int end = 0;
        while (end < n && id[end] != 0) {
            end++;
        }
        return new String(id, 0, end, StandardCharsets.US_ASCII);
    }

    /**
     * One request: header, {@code dataBytes} of the bounce buffer (readable for OUT, writable otherwise), then
     * {@code idBytes} plus the status byte in the status area; waits for it and checks the status.
     */
    private void request(int type, long sector, int dataBytes, int idBytes) throws ErrnoException {
        virtio_blk_outhdr.type(header, type);
        virtio_blk_outhdr.ioprio(header, 0);
        virtio_blk_outhdr.sector(header, sector);
        status.fill((byte) 0xff);
        SplitVirtqueue.Chain c = queue.chain().out(header);
        boolean out = type == virtio_h.VIRTIO_BLK_T_OUT();
        for (int off = 0; off < dataBytes; off += segment) {
            int len = Math.min(segment, dataBytes - off);
            if (out) {
                c.out(data, off, len);
            } else {
                c.in(data, off, len);
            }
        }
        int head = c.in(status, 0, idBytes + 1L).indirect().add();
        if (head < 0) {
            throw new IllegalStateException("no free descriptors for a block request");
        }
        queue.kick();
        int used = queue.await(timeoutMillis);
        if (used < 0) {
            throw new BlkException("block request type " + type + " at sector " + sector + " got no answer in "
                    + timeoutMillis + " ms", -1);
        }
        if (used != head) {
            throw new VirtqueueException("the device completed head " + used + " while only " + head
                    + " was in flight");
        }
        requests++;
        int s = Byte.toUnsignedInt(status.get(ValueLayout.JAVA_BYTE, idBytes));
        if (s != S_OK) {
            throw new BlkException("block request type " + type + " at sector " + sector + " (" + dataBytes
                    + " bytes) failed: status " + (s == S_IOERR ? "IOERR" : s == S_UNSUPP ? "UNSUPP" : s), s);
        }
    }

    /**
     * Resets the device (it stops using the ring and buffers), drops the driver's mapping and memory and closes
     * the eventfds; the device itself stays open. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            device.setStatus(0);
        } catch (ErrnoException | RuntimeException ignored) {
            // a device already closed was reset by its close
        }
        memory.close();
        queue.close();
    }

    /** A block request the device answered with a status other than OK (or not at all: status -1). */
    public static final class BlkException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int status;

        BlkException(String message, int status) {
            super(message);
            this.status = status;
        }

        /** {@link #S_IOERR}, {@link #S_UNSUPP}, another value the device wrote, or -1 for a timeout. */
        public int status() {
            return status;
        }
    }
}
