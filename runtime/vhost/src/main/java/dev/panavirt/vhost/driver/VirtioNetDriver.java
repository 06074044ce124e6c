package dev.panavirt.vhost.driver;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.virtio.virtio_h;
import dev.panavirt.bindings.virtio.virtio_net_config;
import dev.panavirt.bindings.virtio.virtio_net_hdr_v1;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;

/**
 * A virtio-net driver over a vDPA device (virtio 1.2 spec section 5.1): the MAC address from config space, frames
 * sent on the transmit queue (1) behind a 12-byte {@code virtio_net_hdr_v1} with no offloads, and receive buffers
 * posted on the receive queue (0) and reposted as frames are taken. No control queue, one queue pair.
 *
 * <p>Every frame travels as a chain of two buffers, the header and the frame (any layout: {@code VERSION_1}),
 * through an indirect table when {@code VIRTIO_F_INDIRECT_DESC} was negotiated. Buffers are preallocated (one per
 * chain the rings can hold, {@value #BUFFER_SIZE} bytes each, header included) in the driver's {@link IovaMemory};
 * sending and receiving allocate nothing.
 */
public final class VirtioNetDriver implements AutoCloseable {
    /** The receive and transmit virtqueues' indexes. */
    public static final int RX = 0, TX = 1;
    /** Bytes of {@code virtio_net_hdr_v1} (with {@code VERSION_1}). */
    public static final int HEADER_SIZE = (int) virtio_net_hdr_v1.sizeof();
    /** The header of every frame sent: no offloads, no checksum, one buffer (virtio 1.2 spec 5.1.6). */
    private static final MemorySegment ZERO_HEADER = Arena.global().allocate(HEADER_SIZE);
    /** Bytes of one buffer, header and frame. */
    public static final int BUFFER_SIZE = 2048;
    /** The largest frame {@link #send} takes. */
    public static final int MAX_FRAME = BUFFER_SIZE - HEADER_SIZE;
    /** Base of the driver's IOVA region. */
    public static final long IOVA_BASE = 0x10_0000;

    private final VdpaDevice device;
    private final VirtioDriverSetup setup;
    private final IovaMemory memory;
    private final SplitVirtqueue rx;
    private final SplitVirtqueue tx;
    private final MemorySegment rxBuffers;
    private final MemorySegment txBuffers;
    private final int[] rxBufferOfHead;
    private final int[] txBufferOfHead;
    private final int[] txFree;
    private int txFreeCount;
    private final byte[] mac = new byte[6];
    private long framesSent, framesReceived, bytesSent, bytesReceived;
    private boolean closed;

    private VirtioNetDriver(VdpaDevice device, VirtioDriverSetup setup, IovaMemory memory, SplitVirtqueue rx,
            SplitVirtqueue tx, MemorySegment rxBuffers, MemorySegment txBuffers, int buffers) {
        this.device = device;
        this.setup = setup;
        this.memory = memory;
        this.rx = rx;
        this.tx = tx;
        this.rxBuffers = rxBuffers;
        this.txBuffers = txBuffers;
        this.rxBufferOfHead = new int[rx.size()];
        this.txBufferOfHead = new int[tx.size()];
        this.txFree = new int[buffers];
        for (int i = 0; i < buffers; i++) {
            txFree[i] = buffers - 1 - i;
        }
        this.txFreeCount = buffers;
    }

    /**
     * Sets the device up ({@link VirtioDriverSetup}) with {@code VIRTIO_NET_F_MAC} and the ring features asked
     * for, maps the driver's memory, attaches both queues, posts every receive buffer and sets {@code DRIVER_OK}.
     *
     * @param queueSize queue size of both queues (a power of two, at most {@link VdpaDevice#vringNumMax})
     * @param wanted    extra features wanted where offered, e.g. {@code 1L << SplitVirtqueue.F_EVENT_IDX}
     */
    public static VirtioNetDriver open(VdpaDevice device, int queueSize, long wanted) throws ErrnoException {
        if (device.deviceId() != 1) {
            throw new IllegalArgumentException("not a virtio-net device: device id " + device.deviceId());
        }
        VirtioDriverSetup setup = VirtioDriverSetup.begin(device, wanted | (1L << virtio_h.VIRTIO_NET_F_MAC()), 0);
        boolean indirect = setup.has(SplitVirtqueue.F_INDIRECT_DESC);
        // Two descriptors per chain, or one with indirect tables: as many buffers as chains fit.
        int buffers = indirect ? queueSize : Math.max(1, queueSize / 2);
        long bytes = 2L * buffers * BUFFER_SIZE + 2 * SplitVirtqueue.memoryBytes(queueSize, indirect ? 2 : 0) + 4096;
        IovaMemory memory = IovaMemory.map(device, 0, IOVA_BASE, bytes, "virtio-net");
        SplitVirtqueue rx = null, tx = null;
        try {
            rx = new SplitVirtqueue(memory, RX, queueSize, setup.features(), 2);
            tx = new SplitVirtqueue(memory, TX, queueSize, setup.features(), 2);
            MemorySegment rxBuffers = memory.allocate((long) buffers * BUFFER_SIZE, 64);
            MemorySegment txBuffers = memory.allocate((long) buffers * BUFFER_SIZE, 64);
            rx.attach(device);
            tx.attach(device);
            VirtioNetDriver d = new VirtioNetDriver(device, setup, memory, rx, tx, rxBuffers, txBuffers, buffers);
            if (setup.has(virtio_h.VIRTIO_NET_F_MAC())) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment m = a.allocate(6);
                    device.readConfig((int) virtio_net_config.mac$offset(), m);
                    MemorySegment.copy(m, ValueLayout.JAVA_BYTE, 0, d.mac, 0, 6);
                }
            }
            for (int i = 0; i < buffers; i++) {
                d.post(i);
            }
            setup.driverOk(rx, tx);
            rx.kick();
            return d;
        } catch (ErrnoException | RuntimeException e) {
            try {
                device.setStatus(0);
            } catch (ErrnoException ignored) {
                // reported by the original failure
            }
            if (rx != null) {
                rx.close();
            }
            if (tx != null) {
                tx.close();
            }
            memory.close();
            throw e;
        }
    }

    /** The MAC address from config space (zeros when the device offers none). */
    public byte[] mac() {
        return mac.clone();
    }

    /** The MAC address as {@code 52:54:00:12:34:56}. */
    public String macString() {
        return HexFormat.ofDelimiter(":").formatHex(mac);
    }

    /** The negotiated features. */
    public long features() {
        return setup.features();
    }

    /** The receive queue. */
    public SplitVirtqueue rxQueue() {
        return rx;
    }

    /** The transmit queue. */
    public SplitVirtqueue txQueue() {
        return tx;
    }

    /**
     * Sends one frame (destination MAC first): copies it behind a zeroed header into a free transmit buffer and
     * kicks. Completed transmissions are reclaimed first.
     *
     * @return false when every transmit buffer is still in flight
     */
    public boolean send(MemorySegment frame) throws ErrnoException {
        long length = frame.byteSize();
        if (length < 1 || length > MAX_FRAME) {
            throw new IllegalArgumentException("frame of " + length + " bytes (1.." + MAX_FRAME + ")");
        }
        reclaimTx();
        if (txFreeCount == 0) {
            return false;
        }
        int buffer = txFree[txFreeCount - 1];
        long offset = (long) buffer * BUFFER_SIZE;
        // A copy from a zero segment, not asSlice(...).fill(): the slice is an object that escape analysis drops
        // only while fill() inlines, which it stopped doing once many segment kinds had passed through it.
        MemorySegment.copy(ZERO_HEADER, 0, txBuffers, offset, HEADER_SIZE);
        MemorySegment.copy(frame, 0, txBuffers, offset + HEADER_SIZE, length);
        int head = tx.chain().out(txBuffers, offset, HEADER_SIZE).out(txBuffers, offset + HEADER_SIZE, length)
                .indirect().add();
        if (head < 0) {
            return false;
        }
        txFreeCount--;
        txBufferOfHead[head] = buffer;
        tx.kick();
        framesSent++;
        bytesSent += length;
        return true;
    }

    /** Takes back the transmit buffers the device has used; returns how many. */
    public int reclaimTx() {
        int n = 0;
        for (int head; (head = tx.poll()) >= 0; n++) {
            txFree[txFreeCount++] = txBufferOfHead[head];
        }
        return n;
    }

    /** Waits up to {@code timeoutMillis} until every transmit buffer is back; returns whether they are. */
    public boolean awaitTxDone(int timeoutMillis) throws ErrnoException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (tx.inFlight() > 0) {
            int left = (int) ((deadline - System.nanoTime()) / 1_000_000L);
            int head = tx.await(Math.max(left, 0));
            if (head < 0) {
                return false;
            }
            txFree[txFreeCount++] = txBufferOfHead[head];
        }
        return true;
    }

    /**
     * Receives one frame into {@code dst} (header stripped), waiting up to {@code timeoutMillis}; the buffer goes
     * back to the device.
     *
     * @return the frame's length, or -1 when none arrived in time
     * @throws VirtqueueException when the device returned fewer bytes than a header
     */
    public int receive(MemorySegment dst, int timeoutMillis) throws ErrnoException {
        int head = rx.await(timeoutMillis);
        if (head < 0) {
            return -1;
        }
        int buffer = rxBufferOfHead[head];
        int length = rx.usedLength();
        try {
            if (length < HEADER_SIZE) {
                throw new VirtqueueException("receive buffer " + buffer + " came back with " + length
                        + " bytes, less than the " + HEADER_SIZE + "-byte header");
            }
            int frame = length - HEADER_SIZE;
            if (frame > dst.byteSize()) {
                throw new IllegalArgumentException("frame of " + frame + " bytes does not fit " + dst.byteSize());
            }
            MemorySegment.copy(rxBuffers, (long) buffer * BUFFER_SIZE + HEADER_SIZE, dst, 0, frame);
            framesReceived++;
            bytesReceived += frame;
            return frame;
        } finally {
            post(buffer);
            rx.kick();
        }
    }

    private void post(int buffer) {
        long offset = (long) buffer * BUFFER_SIZE;
        int head = rx.chain().in(rxBuffers, offset, HEADER_SIZE).in(rxBuffers, offset + HEADER_SIZE,
                BUFFER_SIZE - HEADER_SIZE).indirect().add();
        if (head < 0) {
            throw new IllegalStateException("no room for receive buffer " + buffer);
        }
        rxBufferOfHead[head] = buffer;
    }

    /** Frames sent. */
    public long framesSent() {
        return framesSent;
    }

    /** Frames received. */
    public long framesReceived() {
        return framesReceived;
    }

    /** Frame bytes sent (headers not counted). */
    public long bytesSent() {
        return bytesSent;
    }

    /** Frame bytes received (headers not counted). */
    public long bytesReceived() {
        return bytesReceived;
    }

    /**
     * Resets the device (it stops using the rings and buffers), drops the driver's mappings and memory and closes
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
        rx.close();
        tx.close();
    }
}
