package dev.panavirt.vhost;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.models.vdpa.BlkBackend;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.models.vfio.HostMemory;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link VdpaDevice} served by the vDPA model ({@link VdpaSim}: vhost-vdpa in front of vdpa_sim's net or
 * block device), with the kernel's checks and errnos, on any host.
 *
 * <p><b>Memory.</b> The model reaches process memory only inside the segments given to {@link #iotlbUpdate}
 * (bounds-checked; any other user address, or a segment whose arena was closed, faults as unbacked memory
 * does, and the device sees an error). Segments no IOTLB entry refers to any more are forgotten after
 * {@link #iotlbInvalidate}. The caller keeps each segment alive while it is mapped. Unlike the kernel, which
 * silently skips memory that is not a shared file mapping ({@code use_va}), every native segment is entered.
 *
 * <p><b>Kicks and calls.</b> The first {@link #setVringKick} starts one daemon worker thread that waits in
 * {@code poll(2)} on the kick eventfds (and an internal wake-up eventfd, signalled when the set changes or on
 * {@link #close}); a signalled kick is read and becomes {@link VdpaSim#kick} on that thread, followed by any
 * pending passes, so a driver that only writes kick eventfds is served. Used buffers signal the call eventfd
 * given to {@link #setVringCall} from the model's callback on the serving thread. Tests wanting
 * determinism may instead call {@code model().kick(vq)} and see the rings updated when it returns. As in the
 * kernel, a reset (status 0) drops the device's call bindings; set them again after a reset.
 */
public final class ModelVdpa implements VdpaDevice {

    private final VdpaSim sim;
    private final SegmentMemory memory;
    private final BlkBackend disk;                   // closed with the device; null for net
    private final EventFd[] kicks;
    private final EventFd[] calls;
    private final VdpaSim.Callback caller = this::signalCall;
    private volatile EventFd configCall;
    private EventFd wake;
    private Thread worker;
    private volatile boolean closed;
    private volatile long lostSignals;

    private ModelVdpa(VdpaSim sim, SegmentMemory memory, BlkBackend disk) {
        this.sim = sim;
        this.memory = memory;
        this.disk = disk;
        this.kicks = new EventFd[sim.vqsCount()];
        this.calls = new EventFd[sim.vqsCount()];
    }

    /** A vdpa_sim_net device with {@code mac} (6 bytes), MTU 1500, and {@code options}. */
    public static ModelVdpa net(byte[] mac, VdpaSim.Options options) {
        SegmentMemory m = new SegmentMemory();
        return new ModelVdpa(VdpaSim.net(mac.clone(), options, m), m, null);
    }

    /** A vdpa_sim_net device with {@code mac} (6 bytes), MTU 1500, and vdpa_sim's default options. */
    public static ModelVdpa net(byte[] mac) {
        return net(mac, VdpaSim.Options.defaults());
    }

    /** A vdpa_sim_blk device (128 MiB, zero-filled) with {@code options}. */
    public static ModelVdpa blk(VdpaSim.Options options) {
        return blk(BlkBackend.ram(), options);
    }

    /**
     * A virtio-blk device whose disk is {@code file} ({@link FileBlkBackend}: capacity = size / 512, writes reach
     * the file, FLUSH is {@code fdatasync}, read-only offers {@code VIRTIO_BLK_F_RO}), with vdpa_sim_blk's
     * queue, features and limits otherwise. Closing the device closes the file.
     *
     * @throws IllegalArgumentException when {@code file} is not a regular file, is empty or is not whole sectors
     * @throws IOException      when it cannot be opened as asked
     */
    public static ModelVdpa blk(Path file, boolean readOnly) throws IOException {
        return blk(FileBlkBackend.open(file, readOnly), VdpaSim.Options.defaults());
    }

    /** A vdpa_sim_blk device over {@code disk}, which the device owns from now on (closed with it). */
    public static ModelVdpa blk(BlkBackend disk, VdpaSim.Options options) {
        SegmentMemory m = new SegmentMemory();
        try {
            return new ModelVdpa(VdpaSim.blk(options, m, disk), m, disk);
        } catch (RuntimeException e) {
            disk.close();
            throw e;
        }
    }

    /** The model behind this device, for what the interface does not say (direct kicks, tables, counters). */
    public VdpaSim model() {
        return sim;
    }

    /** Call and config-call signals that failed (the eventfd was closed under the device). */
    public long lostSignals() {
        return lostSignals;
    }

    @Override
    public int deviceId() {
        open();
        return sim.deviceId();
    }

    @Override
    public int status() {
        open();
        return sim.status();
    }

    @Override
    public void setStatus(int status) throws ErrnoException {
        open();
        sim.setStatus(status);
    }

    @Override
    public long features() {
        open();
        return sim.features();
    }

    @Override
    public void setFeatures(long features) throws ErrnoException {
        open();
        sim.setFeatures(features);
    }

    @Override
    public long backendFeatures() {
        open();
        return sim.backendFeatures();
    }

    @Override
    public void setBackendFeatures(long features) throws ErrnoException {
        open();
        sim.setBackendFeatures(features);
    }

    @Override
    public int configSize() {
        open();
        return sim.configSize();
    }

    @Override
    public void readConfig(int offset, MemorySegment dst) throws ErrnoException {
        open();
        byte[] b = new byte[length("VHOST_VDPA_GET_CONFIG", dst)];
        sim.getConfig(offset, b, b.length);
        MemorySegment.copy(b, 0, dst, ValueLayout.JAVA_BYTE, 0, b.length);
    }

    @Override
    public void writeConfig(int offset, MemorySegment src) throws ErrnoException {
        open();
        byte[] b = new byte[length("VHOST_VDPA_SET_CONFIG", src)];
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, b, 0, b.length);
        sim.setConfig(offset, b, b.length);
    }

    @Override
    public int vringNumMax() {
        open();
        return sim.vringNumMax();
    }

    @Override
    public int vqsCount() {
        open();
        return sim.vqsCount();
    }

    @Override
    public int groupCount() {
        open();
        return sim.groupCount();
    }

    @Override
    public int addressSpaceCount() {
        open();
        return sim.addressSpaceCount();
    }

    @Override
    public IovaRange iovaRange() {
        open();
        return new IovaRange(sim.iovaFirst(), sim.iovaLast());
    }

    /** Stored; vdpa_sim raises no config interrupts, so it is never signalled. */
    @Override
    public void setConfigCall(EventFd call) {
        open();
        configCall = call;
    }

    @Override
    public void suspend() {
        open();
        sim.suspend();
    }

    @Override
    public void resume() {
        open();
        sim.resume();
    }

    @Override
    public void setOwner() throws ErrnoException {
        open();
        sim.setOwner();
    }

    @Override
    public void setVringNum(int index, int num) throws ErrnoException {
        open();
        sim.setVringNum(index, num);
    }

    @Override
    public void setVringAddr(int index, long desc, long avail, long used) throws ErrnoException {
        open();
        sim.setVringAddr(index, 0, desc, avail, used, 0);
    }

    @Override
    public void setVringBase(int index, int base) throws ErrnoException {
        open();
        sim.setVringBase(index, base);
    }

    @Override
    public int vringBase(int index) throws ErrnoException {
        open();
        return sim.vringBase(index);
    }

    @Override
    public void setVringKick(int index, EventFd kick) throws ErrnoException {
        open();
        sim.setVringKick(index);
        synchronized (this) {
            kicks[index] = kick;
            if (kick != null && worker == null) {
                wake = EventFd.create(Libc.EFD_NONBLOCK);
                worker = Thread.ofPlatform().daemon().name("vdpa-model-kicks").start(this::watchKicks);
            }
        }
        wakeWorker();
    }

    @Override
    public void setVringCall(int index, EventFd call) throws ErrnoException {
        open();
        synchronized (this) {
            sim.setVringCall(index, call == null ? null : caller);
            calls[index] = call;
        }
    }

    @Override
    public void setVringEnable(int index, boolean enable) throws ErrnoException {
        open();
        sim.setVringEnable(index, enable);
    }

    @Override
    public int vringGroup(int index) throws ErrnoException {
        open();
        return sim.vringGroup(index);
    }

    @Override
    public int vringDescGroup(int index) throws ErrnoException {
        open();
        return sim.vringDescGroup(index);
    }

    @Override
    public int vringSize(int index) throws ErrnoException {
        open();
        return sim.vringSize(index);
    }

    @Override
    public void setGroupAsid(int group, int asid) throws ErrnoException {
        open();
        sim.setGroupAsid(group, asid);
    }

    @Override
    public void iotlbUpdate(int asid, long iova, MemorySegment segment, int perm) throws ErrnoException {
        open();
        if (!segment.isNative()) {
            throw new IllegalArgumentException("IOTLB memory is a native segment");
        }
        memory.add(segment);
        try {
            sim.iotlb(asid, VdpaSim.IOTLB_UPDATE, iova, segment.byteSize(), segment.address(), perm);
        } catch (ErrnoException | RuntimeException e) {
            prune();
            throw e;
        }
    }

    @Override
    public void iotlbInvalidate(int asid, long iova, long size) throws ErrnoException {
        open();
        try {
            sim.iotlb(asid, VdpaSim.IOTLB_INVALIDATE, iova, size, 0, 0);
        } finally {
            prune();
        }
    }

    @Override
    public void iotlbBatchBegin(int asid) throws ErrnoException {
        open();
        sim.iotlb(asid, VdpaSim.IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
    }

    @Override
    public void iotlbBatchEnd(int asid) throws ErrnoException {
        open();
        sim.iotlb(asid, VdpaSim.IOTLB_BATCH_END, 0, 0, 0, 0);
    }

    /**
     * The model's {@link VhostVdpa#writeIotlb}: {@code message} as one write(2) of its bytes (the kernel's length
     * and kind rules, as the profile has them). An {@code UPDATE} in it may name memory inside
     * {@code reachable} only (the model reaches no other process memory).
     *
     * @return the byte count the write answers (72 for a processed message)
     */
    public long writeIotlb(MemorySegment message, MemorySegment reachable) throws ErrnoException {
        open();
        if (!reachable.isNative()) {
            throw new IllegalArgumentException("IOTLB memory is a native segment");
        }
        byte[] bytes = message.toArray(ValueLayout.JAVA_BYTE);
        memory.add(reachable);
        try {
            return sim.write(bytes, bytes.length);
        } finally {
            prune();
        }
    }

    /** Stops the kick worker, resets and releases the device, forgets the segments, closes the disk; idempotent. */
    @Override
    public void close() {
        Thread w;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            w = worker;
        }
        if (w != null) {
            wakeWorker();
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            wake.close();
        }
        sim.release();
        memory.clear();
        if (disk != null) {
            disk.close();
        }
        synchronized (this) {
            java.util.Arrays.fill(kicks, null);
            java.util.Arrays.fill(calls, null);
        }
        configCall = null;
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("the vDPA device is closed");
        }
    }

    private static int length(String op, MemorySegment s) throws ErrnoException {
        if (s.byteSize() > Integer.MAX_VALUE) {
            throw new ErrnoException(op, Errno.EINVAL, s.byteSize() + " bytes");
        }
        return (int) s.byteSize();
    }

    /** Keeps the segments some vhost IOTLB entry still points into. */
    private void prune() {
        List<VdpaSim.Mapping> live = new ArrayList<>();
        for (int as = 0; as < sim.addressSpaceCount(); as++) {
            live.addAll(sim.mappings(as));
        }
        memory.retain(live);
    }

    private void signalCall(int vq) {
        EventFd c = calls[vq];
        if (c == null) {
            return;
        }
        try {
            c.signal(1);
        } catch (ErrnoException | IllegalStateException e) {
            lostSignals++;
        }
    }

    private void wakeWorker() {
        EventFd w;
        synchronized (this) {
            w = wake;
        }
        if (w != null) {
            try {
                w.signal(1);
            } catch (ErrnoException e) {
                throw new AssertionError("eventfd write cannot fail here", e);
            }
        }
    }

    /** The worker: poll the wake-up eventfd and every bound kick eventfd; serve what was kicked. */
    private void watchKicks() {
        int n = kicks.length;
        EventFd[] watched = new EventFd[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(8L * (n + 1), 8);
            MemorySegment capture = Scratch.capture();
            while (!closed) {
                int count = 0;
                fds.set(ValueLayout.JAVA_INT, 0, wake.rawFd());
                fds.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                fds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                synchronized (this) {
                    for (int i = 0; i < n; i++) {
                        watched[i] = kicks[i];
                        int fd = -1;
                        if (kicks[i] != null) {
                            try {
                                fd = kicks[i].rawFd();
                            } catch (IllegalStateException closedFd) {
                                watched[i] = null;
                            }
                        }
                        long at = 8L * (i + 1);
                        fds.set(ValueLayout.JAVA_INT, at, fd);       // poll ignores negative fds
                        fds.set(ValueLayout.JAVA_SHORT, at + 4, Libc.POLLIN);
                        fds.set(ValueLayout.JAVA_SHORT, at + 6, (short) 0);
                        count++;
                    }
                }
                int rc = Libc.poll(capture, fds, count + 1, 1000);
                if (rc < 0) {
                    if (rc == -Errno.EINTR) {
                        continue;
                    }
                    return;
                }
                if (rc == 0) {
                    continue;
                }
                if ((fds.get(ValueLayout.JAVA_SHORT, 6) & Libc.POLLIN) != 0) {
                    readQuietly(wake);
                }
                for (int i = 0; i < n; i++) {
                    short revents = fds.get(ValueLayout.JAVA_SHORT, 8L * (i + 1) + 6);
                    if (watched[i] != null && (revents & Libc.POLLIN) != 0 && readQuietly(watched[i])) {
                        sim.kick(i);
                        while (sim.runPendingWork() && !closed) {
                            Thread.onSpinWait();
                        }
                    } else if (revents != 0 && (revents & Libc.POLLIN) == 0) {
                        synchronized (this) {                        // closed under us (POLLNVAL): forget it
                            if (kicks[i] == watched[i]) {
                                kicks[i] = null;
                            }
                        }
                    }
                }
            }
        }
    }

    private static boolean readQuietly(EventFd fd) {
        try {
            fd.read();
            return true;
        } catch (ErrnoException | IllegalStateException e) {
            return false;
        }
    }

    /** Process memory = the segments entered into the IOTLB; any other address faults. */
    private static final class SegmentMemory implements HostMemory {
        private final List<MemorySegment> segments = new ArrayList<>();

        synchronized void add(MemorySegment s) {
            segments.add(s);
        }

        synchronized void clear() {
            segments.clear();
        }

        void retain(List<VdpaSim.Mapping> live) {
            synchronized (this) {
                segments.removeIf(s -> live.stream().noneMatch(m -> {
                    long off = m.uaddr() - s.address();
                    return off >= 0 && off < s.byteSize();
                }));
            }
        }

        private MemorySegment find(long vaddr, long length) {
            for (int i = 0, n = segments.size(); i < n; i++) {
                MemorySegment s = segments.get(i);
                long off = vaddr - s.address();
                if (off >= 0 && length >= 0 && off <= s.byteSize() - length) {
                    return s;
                }
            }
            return null;
        }

        @Override
        public synchronized void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
            MemorySegment s = find(vaddr, length);
            try {
                if (s != null) {
                    MemorySegment.copy(s, ValueLayout.JAVA_BYTE, vaddr - s.address(), dst, offset, length);
                    return;
                }
            } catch (IllegalStateException released) {
                // the segment's arena was closed while mapped: unbacked memory
            }
            throw new ErrnoException("copy_from_user", Errno.EFAULT, length + " bytes at 0x"
                    + Long.toHexString(vaddr) + " outside every mapped segment");
        }

        @Override
        public synchronized void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
            MemorySegment s = find(vaddr, length);
            try {
                if (s != null) {
                    MemorySegment.copy(src, offset, s, ValueLayout.JAVA_BYTE, vaddr - s.address(), length);
                    return;
                }
            } catch (IllegalStateException released) {
                // as read
            }
            throw new ErrnoException("copy_to_user", Errno.EFAULT, length + " bytes at 0x"
                    + Long.toHexString(vaddr) + " outside every mapped segment");
        }

        @Override
        public synchronized boolean backed(long vaddr, long size) {
            return find(vaddr, size) != null;
        }
    }
}
