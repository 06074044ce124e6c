package dev.panavirt.replay;

import dev.panavirt.base.ErrnoException;

/**
 * What a scripted device session drives: one device, a software model or a kernel device. Each operation
 * returns its result or throws {@link ErrnoException} carrying the errno the kernel would return, so a
 * script's expectations read the same against either.
 *
 * <p>A device that has no such operation throws {@link UnsupportedOperationException} (the session
 * reports the line as unsupported for that device).
 */
public interface SessionTarget {

    /** A short name for reports, e.g. {@code "its-model"}. */
    String name();

    /** A guest register read: MMIO offset within the device frame (ITS), or IOCSR address (EIOINTC). */
    long read(long address, int width) throws ErrnoException;

    /** A guest register write of {@code width} bytes (1, 2, 4 or 8). */
    void write(long address, int width, long value) throws ErrnoException;

    /** Writes guest-physical memory (command queues, tables). */
    void memWrite(long gpa, byte[] data);

    /** Reads guest-physical memory. */
    byte[] memRead(long gpa, int length);

    /** {@code KVM_GET_DEVICE_ATTR} of a {@code size}-byte (4 or 8) value. */
    default long getAttr(int group, long attr, int size) throws ErrnoException {
        throw new UnsupportedOperationException("attr-get");
    }

    /** {@code KVM_SET_DEVICE_ATTR} with a {@code size}-byte (4 or 8) value. */
    default void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        throw new UnsupportedOperationException("attr-set");
    }

    /** {@code KVM_HAS_DEVICE_ATTR}. */
    default boolean hasAttr(int group, long attr) throws ErrnoException {
        throw new UnsupportedOperationException("attr-has");
    }

    /** {@code KVM_GET_ONE_REG} on vCPU {@code vcpu}: the little-endian value bytes (size from the id). */
    default byte[] getOneReg(int vcpu, long regId) throws ErrnoException {
        throw new UnsupportedOperationException("reg-get");
    }

    /** {@code KVM_SET_ONE_REG} on vCPU {@code vcpu} with little-endian value bytes. */
    default void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException {
        throw new UnsupportedOperationException("reg-set");
    }

    /** Raises ({@code level} true) or lowers an input line of the device. */
    default void setIrq(int line, boolean level) throws ErrnoException {
        throw new UnsupportedOperationException("irq");
    }

    /** The vCPU is scheduled in ({@code kvm_arch_vcpu_load}). */
    default void vcpuLoad(int vcpu) throws ErrnoException {
        throw new UnsupportedOperationException("vcpu-load");
    }

    /** The vCPU is scheduled out ({@code kvm_arch_vcpu_put}). */
    default void vcpuPut(int vcpu) throws ErrnoException {
        throw new UnsupportedOperationException("vcpu-put");
    }

    /** {@code KVM_SIGNAL_MSI}-style injection: returns the kernel's return value (1 delivered, 0 blocked). */
    default int signalMsi(long address, int data, int devid) throws ErrnoException {
        throw new UnsupportedOperationException("msi");
    }

    /** {@code KVM_SIGNAL_MSI} without {@code KVM_MSI_VALID_DEVID} in its flags. */
    default int signalMsiWithoutDevid(long address, int data) throws ErrnoException {
        throw new UnsupportedOperationException("msi without a device id");
    }

    /**
     * A guest register read as the guest's general-purpose register holds it once the access completes (for
     * example LoongArch's IOCSR loads, which sign-extend narrow values), where {@link #read} reports the bytes read.
     */
    default long readAsGpr(long address, int width) throws ErrnoException {
        throw new UnsupportedOperationException("read-gpr");
    }

    /** {@code KVM_GET_REG_LIST} on vCPU {@code vcpu} with room for {@code n} ids (E2BIG when too few). */
    default long[] regList(int vcpu, int n) throws ErrnoException {
        throw new UnsupportedOperationException("reg-list");
    }

    /** KVM's reset of vCPU {@code vcpu} (what a guest's reset request makes the kernel do). */
    default void vcpuReset(int vcpu) throws ErrnoException {
        throw new UnsupportedOperationException("vcpu-reset");
    }

    /**
     * The guest on vCPU {@code vcpu} executes an instruction that changes vector state: true when it ran, false when
     * it trapped because the unit is off.
     */
    default boolean guestVectorInstruction(int vcpu) throws ErrnoException {
        throw new UnsupportedOperationException("vector-exec");
    }

    /** A further {@code KVM_CREATE_DEVICE} of the session's device type on the session's VM. */
    default void createDevice() throws ErrnoException {
        throw new UnsupportedOperationException("create-device");
    }

    /**
     * The value of a symbolic name scripts may use in place of a number (register offsets, attribute
     * groups, uapi constants), if this device knows it.
     */
    default java.util.OptionalLong symbol(String name) {
        return java.util.OptionalLong.empty();
    }

    /** {@code VFIO_CHECK_EXTENSION} on an IOMMU container: 1 or 0. */
    default int checkExtension(int extension) throws ErrnoException {
        throw new UnsupportedOperationException("ext");
    }

    /**
     * {@code VFIO_IOMMU_GET_INFO} in a stable text form: page sizes, IOVA ranges, migration capability and
     * available DMA mappings.
     */
    default String iommuInfo() throws ErrnoException {
        throw new UnsupportedOperationException("iommu-info");
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA} of {@code size} bytes of the target's host buffer, starting {@code buffer}
     * bytes into it ({@link #memWrite} and {@link #memRead} reach that buffer too), at {@code iova}.
     *
     * @param access 1 read, 2 write, 3 both ({@code VFIO_DMA_MAP_FLAG_READ}/{@code _WRITE})
     */
    default void dmaMap(long iova, long size, long buffer, int access) throws ErrnoException {
        throw new UnsupportedOperationException("dma-map");
    }

    /** {@code VFIO_IOMMU_UNMAP_DMA}: returns the bytes unmapped. */
    default long dmaUnmap(long iova, long size) throws ErrnoException {
        throw new UnsupportedOperationException("dma-unmap");
    }

    /** {@code VFIO_IOMMU_UNMAP_DMA} with {@code VFIO_DMA_UNMAP_FLAG_ALL}: returns the bytes unmapped. */
    default long dmaUnmapAll() throws ErrnoException {
        throw new UnsupportedOperationException("dma-unmap-all");
    }

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA} with {@code VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP} into {@code bitmap} (whose
     * length is the bitmap size the kernel checks): returns the bytes unmapped.
     */
    default long dmaUnmapDirty(long iova, long size, long pageSize, byte[] bitmap) throws ErrnoException {
        throw new UnsupportedOperationException("dma-unmap-dirty");
    }

    /** {@code VFIO_IOMMU_DIRTY_PAGES} with {@code START} ({@code on}) or {@code STOP}. */
    default void dirtyTracking(boolean on) throws ErrnoException {
        throw new UnsupportedOperationException(on ? "dirty-start" : "dirty-stop");
    }

    /** {@code VFIO_IOMMU_DIRTY_PAGES} with {@code GET_BITMAP} into {@code bitmap}. */
    default void dirtyBitmap(long iova, long size, long pageSize, byte[] bitmap) throws ErrnoException {
        throw new UnsupportedOperationException("dirty-get");
    }

    /** A read of {@code width} bytes of a device region (a VFIO region: BAR, config space). */
    default long regionRead(int region, long offset, int width) throws ErrnoException {
        throw new UnsupportedOperationException("region-read");
    }

    /** A write of {@code width} bytes to a device region. */
    default void regionWrite(int region, long offset, int width, long value) throws ErrnoException {
        throw new UnsupportedOperationException("region-write");
    }

    // --- vhost-vdpa (drivers/vhost/vdpa.c): device-level ioctls ---------------------------------------------

    /** {@code VHOST_VDPA_GET_DEVICE_ID}: the virtio device id. */
    default int vdpaDeviceId() throws ErrnoException {
        throw new UnsupportedOperationException("vdpa-id");
    }

    /** {@code VHOST_VDPA_GET_STATUS}: the virtio status byte. */
    default int deviceStatus() throws ErrnoException {
        throw new UnsupportedOperationException("status");
    }

    /** {@code VHOST_VDPA_SET_STATUS}. */
    default void setDeviceStatus(int status) throws ErrnoException {
        throw new UnsupportedOperationException("set-status");
    }

    /** {@code VHOST_GET_FEATURES}: the features the device offers. */
    default long features() throws ErrnoException {
        throw new UnsupportedOperationException("features");
    }

    /** {@code VHOST_SET_FEATURES}. */
    default void setFeatures(long features) throws ErrnoException {
        throw new UnsupportedOperationException("set-features");
    }

    /** {@code VHOST_GET_BACKEND_FEATURES}. */
    default long backendFeatures() throws ErrnoException {
        throw new UnsupportedOperationException("backend-features");
    }

    /** {@code VHOST_SET_BACKEND_FEATURES}. */
    default void setBackendFeatures(long features) throws ErrnoException {
        throw new UnsupportedOperationException("set-backend-features");
    }

    /** {@code VHOST_VDPA_GET_CONFIG_SIZE}. */
    default int configSize() throws ErrnoException {
        throw new UnsupportedOperationException("config-size");
    }

    /** {@code VHOST_VDPA_GET_CONFIG} of {@code length} bytes at {@code offset}. */
    default byte[] configRead(int offset, int length) throws ErrnoException {
        throw new UnsupportedOperationException("config-read");
    }

    /** {@code VHOST_VDPA_SET_CONFIG} of {@code data} at {@code offset}. */
    default void configWrite(int offset, byte[] data) throws ErrnoException {
        throw new UnsupportedOperationException("config-write");
    }

    /** {@code VHOST_VDPA_GET_VQS_COUNT}. */
    default int virtqueueCount() throws ErrnoException {
        throw new UnsupportedOperationException("vq-count");
    }

    /** {@code VHOST_VDPA_GET_GROUP_NUM}. */
    default int groupCount() throws ErrnoException {
        throw new UnsupportedOperationException("group-count");
    }

    /** {@code VHOST_VDPA_GET_AS_NUM}. */
    default int addressSpaceCount() throws ErrnoException {
        throw new UnsupportedOperationException("as-count");
    }

    /** {@code VHOST_VDPA_GET_VRING_NUM}: the largest virtqueue size. */
    default int vringNumMax() throws ErrnoException {
        throw new UnsupportedOperationException("vring-num-max");
    }

    /** {@code VHOST_VDPA_GET_IOVA_RANGE}: {first, last}, last inclusive. */
    default long[] iovaRange() throws ErrnoException {
        throw new UnsupportedOperationException("iova-range");
    }

    /** {@code VHOST_VDPA_SUSPEND}. */
    default void suspend() throws ErrnoException {
        throw new UnsupportedOperationException("suspend");
    }

    /** {@code VHOST_VDPA_RESUME}. */
    default void resume() throws ErrnoException {
        throw new UnsupportedOperationException("resume");
    }

    // --- vhost-vdpa: ownership and per-virtqueue ioctls ---------------------------------------------------------

    /** {@code VHOST_SET_OWNER}. */
    default void setOwner() throws ErrnoException {
        throw new UnsupportedOperationException("set-owner");
    }

    /** {@code VHOST_SET_VRING_NUM}. */
    default void setVringNum(int index, int num) throws ErrnoException {
        throw new UnsupportedOperationException("vring-num");
    }

    /** {@code VHOST_SET_VRING_ADDR} with the IOVAs of the descriptor table, available and used rings. */
    default void setVringAddr(int index, long desc, long avail, long used) throws ErrnoException {
        throw new UnsupportedOperationException("vring-addr");
    }

    /** {@code VHOST_SET_VRING_BASE}. */
    default void setVringBase(int index, int base) throws ErrnoException {
        throw new UnsupportedOperationException("vring-base");
    }

    /** {@code VHOST_GET_VRING_BASE}. */
    default int vringBase(int index) throws ErrnoException {
        throw new UnsupportedOperationException("get-vring-base");
    }

    /** {@code VHOST_VDPA_SET_VRING_ENABLE}. */
    default void setVringEnable(int index, boolean enable) throws ErrnoException {
        throw new UnsupportedOperationException("vring-enable");
    }

    /** {@code VHOST_VDPA_GET_VRING_GROUP}. */
    default int vringGroup(int index) throws ErrnoException {
        throw new UnsupportedOperationException("vring-group");
    }

    /** {@code VHOST_VDPA_GET_VRING_DESC_GROUP}. */
    default int vringDescGroup(int index) throws ErrnoException {
        throw new UnsupportedOperationException("vring-desc-group");
    }

    /** {@code VHOST_VDPA_GET_VRING_SIZE}. */
    default int vringSize(int index) throws ErrnoException {
        throw new UnsupportedOperationException("vring-size");
    }

    /** {@code VHOST_VDPA_SET_GROUP_ASID}. */
    default void setGroupAsid(int group, int asid) throws ErrnoException {
        throw new UnsupportedOperationException("group-asid");
    }

    // --- vhost-vdpa: the IOTLB (messages written to the device) --------------------------------------------------

    /**
     * An IOTLB {@code UPDATE}: {@code size} bytes of the target's host buffer, starting {@code buffer} bytes into
     * it, at {@code iova} in address space {@code asid}.
     *
     * @param perm 1 read, 2 write, 3 both ({@code VHOST_ACCESS_RO}/{@code _WO}/{@code _RW})
     */
    default void iotlbUpdate(int asid, long iova, long size, long buffer, int perm) throws ErrnoException {
        throw new UnsupportedOperationException("iotlb-update");
    }

    /** An IOTLB {@code INVALIDATE}. */
    default void iotlbInvalidate(int asid, long iova, long size) throws ErrnoException {
        throw new UnsupportedOperationException("iotlb-invalidate");
    }

    /** An IOTLB {@code BATCH_BEGIN}. */
    default void iotlbBatchBegin(int asid) throws ErrnoException {
        throw new UnsupportedOperationException("iotlb-batch-begin");
    }

    /** An IOTLB {@code BATCH_END}. */
    default void iotlbBatchEnd(int asid) throws ErrnoException {
        throw new UnsupportedOperationException("iotlb-batch-end");
    }

    /**
     * One write(2) of the first {@code length} bytes (0 to 72) of a {@code vhost_msg} ({@code kind} 1) or
     * {@code vhost_msg_v2} ({@code kind} 2, or any other number) whose {@code vhost_iotlb_msg} carries
     * {@code type}, {@code iova}, {@code size}, the host buffer's address plus {@code buffer}, and {@code perm}.
     *
     * @return the byte count the write answered
     */
    default long iotlbRaw(int length, int kind, int asid, int type, long iova, long size, long buffer, int perm)
            throws ErrnoException {
        throw new UnsupportedOperationException("iotlb-raw");
    }

    // --- vhost-vdpa: kicks and calls -----------------------------------------------------------------------------

    /** {@code VHOST_SET_VRING_KICK} and {@code VHOST_SET_VRING_CALL} of queue {@code index} with the session's eventfds. */
    default void bindEventfds(int index) throws ErrnoException {
        throw new UnsupportedOperationException("bind-eventfds");
    }

    /** Signals queue {@code index}'s kick eventfd. */
    default void kick(int index) throws ErrnoException {
        throw new UnsupportedOperationException("kick");
    }

    /** Waits up to {@code millis} for queue {@code index}'s call eventfd, and clears it: whether it was signalled. */
    default boolean waitCall(int index, int millis) throws ErrnoException {
        throw new UnsupportedOperationException("wait-call");
    }

    /**
     * A line of observable state the device wants compared between runs (for example pending LPIs per
     * vCPU, or which vCPU pins are asserted), in a stable text form.
     */
    String state();
}
