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
    long getAttr(int group, long attr, int size) throws ErrnoException;

    /** {@code KVM_SET_DEVICE_ATTR} with a {@code size}-byte (4 or 8) value. */
    void setAttr(int group, long attr, long value, int size) throws ErrnoException;

    /** {@code KVM_HAS_DEVICE_ATTR}. */
    boolean hasAttr(int group, long attr) throws ErrnoException;

    /** {@code KVM_GET_ONE_REG} on vCPU {@code vcpu}: the little-endian value bytes (size from the id). */
    byte[] getOneReg(int vcpu, long regId) throws ErrnoException;

    /** {@code KVM_SET_ONE_REG} on vCPU {@code vcpu} with little-endian value bytes. */
    void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException;

    /** Raises ({@code level} true) or lowers an input line of the device. */
    void setIrq(int line, boolean level) throws ErrnoException;

    /** The vCPU is scheduled in ({@code kvm_arch_vcpu_load}). */
    void vcpuLoad(int vcpu) throws ErrnoException;

    /** The vCPU is scheduled out ({@code kvm_arch_vcpu_put}). */
    void vcpuPut(int vcpu) throws ErrnoException;

    /** {@code KVM_SIGNAL_MSI}-style injection: returns the kernel's return value (1 delivered, 0 blocked). */
    int signalMsi(long address, int data, int devid) throws ErrnoException;

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

    /**
     * A line of observable state the device wants compared between runs (for example pending LPIs per
     * vCPU, or which vCPU pins are asserted), in a stable text form.
     */
    String state();
}
