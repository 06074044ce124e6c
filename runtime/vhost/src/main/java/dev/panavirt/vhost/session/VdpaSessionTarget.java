package dev.panavirt.vhost.session;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.fd.SharedMemory;
import dev.panavirt.replay.SessionTarget;
import dev.panavirt.sys.Libc;
import dev.panavirt.vhost.IovaRange;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VdpaDevice;
import dev.panavirt.vhost.VhostVdpa;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * A session script's view of a vDPA device through vhost-vdpa: the device-level, per-virtqueue and IOTLB operations
 * go to the {@link VdpaDevice}; {@code mem-*} reach a host buffer that {@code iotlb-update} maps slices of (by
 * offset), so a script names memory the same way on the kernel and on the model. The buffer is a memfd mapped
 * shared ({@link SharedMemory}): with vdpa_sim's default {@code use_va} the kernel enters only file-backed shared
 * memory into the IOTLB. {@code bind-eventfds Q} gives queue Q a kick and a call eventfd of the session's own;
 * {@code kick Q} signals the one, {@code wait-call Q MS} waits for the other. The same class serves kernel and
 * model: only {@code iotlb-raw} needs to know which it has (the write of raw bytes is no part of
 * {@link VdpaDevice}).
 *
 * <p>Symbols: the virtio status bits ({@code ACKNOWLEDGE}, {@code DRIVER}, {@code FEATURES_OK},
 * {@code DRIVER_OK}, {@code NEEDS_RESET}, {@code FAILED}), the IOTLB message kinds ({@code VHOST_IOTLB_MSG},
 * {@code VHOST_IOTLB_MSG_V2}) and types ({@code VHOST_IOTLB_MISS} ... {@code VHOST_IOTLB_BATCH_END}), and the
 * virtio device ids ({@code VIRTIO_ID_NET}, {@code VIRTIO_ID_BLOCK}).
 */
public final class VdpaSessionTarget implements SessionTarget, AutoCloseable {
    /** The host buffer's size unless asked otherwise: 1 MiB. */
    public static final long DEFAULT_BUFFER = 1L << 20;

    private static final Map<String, Long> SYMBOLS = Map.ofEntries(
            Map.entry("ACKNOWLEDGE", 1L), Map.entry("DRIVER", 2L), Map.entry("DRIVER_OK", 4L),
            Map.entry("FEATURES_OK", 8L), Map.entry("NEEDS_RESET", 0x40L), Map.entry("FAILED", 0x80L),
            Map.entry("VHOST_IOTLB_MSG", 1L), Map.entry("VHOST_IOTLB_MSG_V2", 2L),
            Map.entry("VHOST_IOTLB_MISS", 1L), Map.entry("VHOST_IOTLB_UPDATE", 2L),
            Map.entry("VHOST_IOTLB_INVALIDATE", 3L), Map.entry("VHOST_IOTLB_ACCESS_FAIL", 4L),
            Map.entry("VHOST_IOTLB_BATCH_BEGIN", 5L), Map.entry("VHOST_IOTLB_BATCH_END", 6L),
            Map.entry("VIRTIO_ID_NET", 1L), Map.entry("VIRTIO_ID_BLOCK", 2L));

    /** {@code sizeof(struct vhost_msg_v2)}. */
    private static final int MSG_SIZE = 72;

    private final String name;
    private final VdpaDevice device;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;
    private final Map<Integer, EventFd[]> eventfds = new TreeMap<>();

    /**
     * @param name        for reports, e.g. {@code vdpa-net-kernel}
     * @param device      the device; {@link #close()} closes it
     * @param bufferBytes the host buffer's size, a multiple of 4096
     */
    public VdpaSessionTarget(String name, VdpaDevice device, long bufferBytes) throws ErrnoException {
        if (bufferBytes <= 0 || (bufferBytes & 0xfff) != 0) {
            throw new IllegalArgumentException("buffer bytes must be a positive multiple of 4096: " + bufferBytes);
        }
        this.name = name;
        this.device = device;
        try {
            this.buffer = SharedMemory.map(arena, bufferBytes, "panavirt-session-" + name);
        } catch (ErrnoException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The device the session drives. */
    public VdpaDevice device() {
        return device;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public OptionalLong symbol(String symbol) {
        Long v = SYMBOLS.get(symbol);
        return v == null ? OptionalLong.empty() : OptionalLong.of(v);
    }

    // --- memory ----------------------------------------------------------------------------------------------

    @Override
    public void memWrite(long offset, byte[] data) {
        MemorySegment.copy(data, 0, slice(offset, data.length), ValueLayout.JAVA_BYTE, 0, data.length);
    }

    @Override
    public byte[] memRead(long offset, int length) {
        return slice(offset, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private MemorySegment slice(long offset, long size) {
        if (offset < 0 || size < 0 || offset > buffer.byteSize() || size > buffer.byteSize() - offset) {
            throw new IllegalArgumentException("buffer slice 0x" + Long.toHexString(offset) + "+0x"
                    + Long.toHexString(size) + " is outside the 0x" + Long.toHexString(buffer.byteSize())
                    + "-byte host buffer");
        }
        return buffer.asSlice(offset, size);
    }

    // --- device level ----------------------------------------------------------------------------------------

    @Override
    public int vdpaDeviceId() throws ErrnoException {
        return device.deviceId();
    }

    @Override
    public int deviceStatus() throws ErrnoException {
        return device.status();
    }

    @Override
    public void setDeviceStatus(int status) throws ErrnoException {
        device.setStatus(status);
    }

    @Override
    public long features() throws ErrnoException {
        return device.features();
    }

    @Override
    public void setFeatures(long features) throws ErrnoException {
        device.setFeatures(features);
    }

    @Override
    public long backendFeatures() throws ErrnoException {
        return device.backendFeatures();
    }

    @Override
    public void setBackendFeatures(long features) throws ErrnoException {
        device.setBackendFeatures(features);
    }

    @Override
    public int configSize() throws ErrnoException {
        return device.configSize();
    }

    @Override
    public byte[] configRead(int offset, int length) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dst = a.allocate(Math.max(1, length), 8).asSlice(0, length);
            device.readConfig(offset, dst);
            return dst.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Override
    public void configWrite(int offset, byte[] data) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(Math.max(1, data.length), 8).asSlice(0, data.length);
            MemorySegment.copy(data, 0, src, ValueLayout.JAVA_BYTE, 0, data.length);
            device.writeConfig(offset, src);
        }
    }

    @Override
    public int virtqueueCount() throws ErrnoException {
        return device.vqsCount();
    }

    @Override
    public int groupCount() throws ErrnoException {
        return device.groupCount();
    }

    @Override
    public int addressSpaceCount() throws ErrnoException {
        return device.addressSpaceCount();
    }

    @Override
    public int vringNumMax() throws ErrnoException {
        return device.vringNumMax();
    }

    @Override
    public long[] iovaRange() throws ErrnoException {
        IovaRange r = device.iovaRange();
        return new long[] {r.first(), r.last()};
    }

    @Override
    public void suspend() throws ErrnoException {
        device.suspend();
    }

    @Override
    public void resume() throws ErrnoException {
        device.resume();
    }

    // --- ownership and virtqueues ------------------------------------------------------------------------------

    @Override
    public void setOwner() throws ErrnoException {
        device.setOwner();
    }

    @Override
    public void setVringNum(int index, int num) throws ErrnoException {
        device.setVringNum(index, num);
    }

    @Override
    public void setVringAddr(int index, long desc, long avail, long used) throws ErrnoException {
        device.setVringAddr(index, desc, avail, used);
    }

    @Override
    public void setVringBase(int index, int base) throws ErrnoException {
        device.setVringBase(index, base);
    }

    @Override
    public int vringBase(int index) throws ErrnoException {
        return device.vringBase(index);
    }

    @Override
    public void setVringEnable(int index, boolean enable) throws ErrnoException {
        device.setVringEnable(index, enable);
    }

    @Override
    public int vringGroup(int index) throws ErrnoException {
        return device.vringGroup(index);
    }

    @Override
    public int vringDescGroup(int index) throws ErrnoException {
        return device.vringDescGroup(index);
    }

    @Override
    public int vringSize(int index) throws ErrnoException {
        return device.vringSize(index);
    }

    @Override
    public void setGroupAsid(int group, int asid) throws ErrnoException {
        device.setGroupAsid(group, asid);
    }

    // --- IOTLB -------------------------------------------------------------------------------------------------

    @Override
    public void iotlbUpdate(int asid, long iova, long size, long offset, int perm) throws ErrnoException {
        device.iotlbUpdate(asid, iova, slice(offset, size), perm);
    }

    @Override
    public void iotlbInvalidate(int asid, long iova, long size) throws ErrnoException {
        device.iotlbInvalidate(asid, iova, size);
    }

    @Override
    public void iotlbBatchBegin(int asid) throws ErrnoException {
        device.iotlbBatchBegin(asid);
    }

    @Override
    public void iotlbBatchEnd(int asid) throws ErrnoException {
        device.iotlbBatchEnd(asid);
    }

    @Override
    public long iotlbRaw(int length, int kind, int asid, int type, long iova, long size, long offset, int perm)
            throws ErrnoException {
        if (length < 0 || length > MSG_SIZE) {
            throw new IllegalArgumentException("an IOTLB message has at most " + MSG_SIZE + " bytes: " + length);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(MSG_SIZE, 8);
            m.set(ValueLayout.JAVA_INT, 0, kind);
            m.set(ValueLayout.JAVA_INT, 4, asid);
            m.set(ValueLayout.JAVA_LONG, 8, iova);
            m.set(ValueLayout.JAVA_LONG, 16, size);
            m.set(ValueLayout.JAVA_LONG, 24, buffer.address() + offset);
            m.set(ValueLayout.JAVA_BYTE, 32, (byte) perm);
            m.set(ValueLayout.JAVA_BYTE, 33, (byte) type);
            MemorySegment message = m.asSlice(0, length);
            if (device instanceof VhostVdpa kernel) {
                return kernel.writeIotlb(message);
            } else if (device instanceof ModelVdpa model) {
                return model.writeIotlb(message, buffer);
            }
            throw new UnsupportedOperationException("iotlb-raw on " + device.getClass().getSimpleName());
        }
    }

    // --- kicks and calls ---------------------------------------------------------------------------------------

    @Override
    public void bindEventfds(int index) throws ErrnoException {
        EventFd[] fds = eventfds.get(index);
        boolean created = fds == null;
        if (created) {
            fds = new EventFd[] {EventFd.create(Libc.EFD_NONBLOCK), EventFd.create(Libc.EFD_NONBLOCK)};
        }
        try {
            device.setVringKick(index, fds[0]);
            device.setVringCall(index, fds[1]);
        } catch (ErrnoException | RuntimeException e) {
            if (created) {
                fds[0].close();
                fds[1].close();
            }
            throw e;
        }
        if (created) {
            eventfds.put(index, fds);
        }
    }

    private EventFd[] bound(int index) {
        EventFd[] fds = eventfds.get(index);
        if (fds == null) {
            throw new IllegalArgumentException("queue " + index + " has no eventfds: bind-eventfds " + index + " first");
        }
        return fds;
    }

    @Override
    public void kick(int index) throws ErrnoException {
        bound(index)[0].signal(1);
    }

    @Override
    public boolean waitCall(int index, int millis) throws ErrnoException {
        return bound(index)[1].await(millis) != 0;
    }

    // --- not a KVM device --------------------------------------------------------------------------------------

    @Override
    public long read(long address, int width) {
        throw new UnsupportedOperationException("read");
    }

    @Override
    public void write(long address, int width, long value) {
        throw new UnsupportedOperationException("write");
    }

    /** The status byte and the negotiation state: {@code status 0xS}. */
    @Override
    public String state() {
        try {
            return "status 0x" + Integer.toHexString(device.status());
        } catch (ErrnoException e) {
            return "status " + e.errnoName();
        }
    }

    /**
     * Closes the device (its release resets it and drops every mapping), then the eventfds, then frees the host
     * buffer (last, so the device can no longer reach it).
     */
    @Override
    public void close() {
        try {
            device.close();
        } finally {
            for (EventFd[] fds : eventfds.values()) {
                fds[0].close();
                fds[1].close();
            }
            eventfds.clear();
            arena.close();
        }
    }
}
