package dev.panavirt.vhost;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import java.lang.foreign.MemorySegment;

/**
 * A vDPA device as its userspace driver sees it through vhost-vdpa: the virtio status byte, feature
 * negotiation, config space, virtqueues with kick and call eventfds, and the IOTLB that translates the
 * device's addresses. {@code VhostVdpa} serves it from {@code /dev/vhost-vdpa-N} (drivers/vhost/vdpa.c,
 * drivers/vhost/vhost.c); the vDPA model serves it in Java with vdpa_sim's net and blk behaviour and the
 * kernel's checks and errnos, so a driver written against this interface runs unchanged on either.
 *
 * <p>Rules the kernel enforces and the model follows: device-level calls (device id, status, config,
 * features, counts, IOVA range, suspend/resume) need no ownership; per-virtqueue calls and IOTLB messages
 * need {@link #setOwner()} first (EPERM, or EFAULT for an IOTLB write); a virtqueue index at or above
 * {@link #vqsCount()} is ENOBUFS; status bits are only ever added, except by a reset to 0 (EINVAL);
 * {@link #setFeatures} after {@code FEATURES_OK} is EBUSY; ring addresses and bases cannot change while the
 * device runs ({@code DRIVER_OK} and not suspended: EINVAL). An ioctl the running kernel lacks fails with
 * ENOTTY or EOPNOTSUPP, reported as "not supported by this kernel".
 *
 * <p>Memory the device reaches is named by IOVA: map it with {@link #iotlbUpdate}. With vdpa_sim's default
 * {@code use_va}, only file-backed {@code MAP_SHARED} memory (e.g. a memfd mapping) is entered into the IOTLB;
 * other memory is skipped silently by the kernel, so drivers allocate their rings and buffers there.
 */
public interface VdpaDevice extends AutoCloseable {

    /** IOTLB permissions ({@code VHOST_ACCESS_RO}, {@code _WO}, {@code _RW}). */
    int READ = 1, WRITE = 2, READ_WRITE = 3;

    /** {@code VHOST_VDPA_GET_DEVICE_ID}: the virtio device id (1 net, 2 block). */
    int deviceId() throws ErrnoException;

    /** {@code VHOST_VDPA_GET_STATUS}: the virtio status byte. */
    int status() throws ErrnoException;

    /** {@code VHOST_VDPA_SET_STATUS}: 0 resets the device; otherwise bits may only be added (EINVAL). */
    void setStatus(int status) throws ErrnoException;

    /** {@code VHOST_GET_FEATURES}: the features the device offers. */
    long features() throws ErrnoException;

    /** {@code VHOST_SET_FEATURES}: EBUSY after {@code FEATURES_OK}; EINVAL when the device refuses them. */
    void setFeatures(long features) throws ErrnoException;

    /** {@code VHOST_GET_BACKEND_FEATURES}: {@code VHOST_BACKEND_F_*} bits the device and kernel offer. */
    long backendFeatures() throws ErrnoException;

    /** {@code VHOST_SET_BACKEND_FEATURES}: EOPNOTSUPP for a bit not offered. */
    void setBackendFeatures(long features) throws ErrnoException;

    /** {@code VHOST_VDPA_GET_CONFIG_SIZE}. */
    int configSize() throws ErrnoException;

    /** {@code VHOST_VDPA_GET_CONFIG} of {@code dst.byteSize()} bytes at {@code offset}. */
    void readConfig(int offset, MemorySegment dst) throws ErrnoException;

    /** {@code VHOST_VDPA_SET_CONFIG} of {@code src} at {@code offset}. */
    void writeConfig(int offset, MemorySegment src) throws ErrnoException;

    /** {@code VHOST_VDPA_GET_VRING_NUM}: the largest virtqueue size the device takes. */
    int vringNumMax() throws ErrnoException;

    /** {@code VHOST_VDPA_GET_VQS_COUNT}. */
    int vqsCount() throws ErrnoException;

    /** {@code VHOST_VDPA_GET_GROUP_NUM}: virtqueue groups. */
    int groupCount() throws ErrnoException;

    /** {@code VHOST_VDPA_GET_AS_NUM}: address spaces. */
    int addressSpaceCount() throws ErrnoException;

    /** {@code VHOST_VDPA_GET_IOVA_RANGE}. */
    IovaRange iovaRange() throws ErrnoException;

    /** {@code VHOST_VDPA_SET_CONFIG_CALL}: {@code null} unbinds. */
    void setConfigCall(EventFd call) throws ErrnoException;

    /** {@code VHOST_VDPA_SUSPEND}: a no-op (0) without {@code DRIVER_OK}. */
    void suspend() throws ErrnoException;

    /** {@code VHOST_VDPA_RESUME}: a no-op (0) without {@code DRIVER_OK}. */
    void resume() throws ErrnoException;

    /** {@code VHOST_SET_OWNER}: EBUSY the second time. */
    void setOwner() throws ErrnoException;

    /** {@code VHOST_SET_VRING_NUM}: a power of two from 1 to 32768 (EINVAL otherwise). */
    void setVringNum(int index, int num) throws ErrnoException;

    /**
     * {@code VHOST_SET_VRING_ADDR}: the IOVAs of the descriptor table, available (driver) ring and used (device)
     * ring.
     */
    void setVringAddr(int index, long desc, long avail, long used) throws ErrnoException;

    /** {@code VHOST_SET_VRING_BASE}: the next available index the device will read. */
    void setVringBase(int index, int base) throws ErrnoException;

    /** {@code VHOST_GET_VRING_BASE}. */
    int vringBase(int index) throws ErrnoException;

    /** {@code VHOST_SET_VRING_KICK}: the eventfd the driver signals after adding buffers; {@code null} unbinds. */
    void setVringKick(int index, EventFd kick) throws ErrnoException;

    /** {@code VHOST_SET_VRING_CALL}: the eventfd the device signals after using buffers; {@code null} unbinds. */
    void setVringCall(int index, EventFd call) throws ErrnoException;

    /** {@code VHOST_VDPA_SET_VRING_ENABLE}. */
    void setVringEnable(int index, boolean enable) throws ErrnoException;

    /** {@code VHOST_VDPA_GET_VRING_GROUP}. */
    int vringGroup(int index) throws ErrnoException;

    /** {@code VHOST_VDPA_GET_VRING_DESC_GROUP}. */
    int vringDescGroup(int index) throws ErrnoException;

    /** {@code VHOST_VDPA_GET_VRING_SIZE}. */
    int vringSize(int index) throws ErrnoException;

    /** {@code VHOST_VDPA_SET_GROUP_ASID}: the group's virtqueues translate through address space {@code asid}. */
    void setGroupAsid(int group, int asid) throws ErrnoException;

    /**
     * An IOTLB {@code UPDATE} message ({@code vhost_msg_v2} written to the fd): {@code memory} becomes reachable
     * by the device at {@code iova} in address space {@code asid}.
     *
     * @param perm {@link #READ}, {@link #WRITE} or {@link #READ_WRITE}
     * @throws ErrnoException EFAULT for any refusal (overlap, outside the IOVA range, not owner, ...), as the
     *         kernel reports every IOTLB handler error
     */
    void iotlbUpdate(int asid, long iova, MemorySegment memory, int perm) throws ErrnoException;

    /** An IOTLB {@code INVALIDATE} message: removes every entry intersecting {@code [iova, iova + size)}. */
    void iotlbInvalidate(int asid, long iova, long size) throws ErrnoException;

    /** An IOTLB {@code BATCH_BEGIN} message (needs {@code VHOST_BACKEND_F_IOTLB_BATCH}). */
    void iotlbBatchBegin(int asid) throws ErrnoException;

    /** An IOTLB {@code BATCH_END} message: the device takes the batched table at once. */
    void iotlbBatchEnd(int asid) throws ErrnoException;

    /** Resets the device, drops the mappings and releases it; idempotent. */
    @Override
    void close();
}
