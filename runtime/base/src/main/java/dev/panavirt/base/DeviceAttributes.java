package dev.panavirt.base;


/**
 * Device attributes ({@code KVM_SET/GET/HAS_DEVICE_ATTR}) of an in-kernel device or of a software model
 * that stands in for one. Both report failures as {@link ErrnoException} with the kernel's errno.
 *
 * <p>Values are passed as 64-bit integers; attributes whose payload is a u32 use the low 32 bits,
 * as the kernel reads only as many bytes as the attribute defines.
 */
public interface DeviceAttributes extends AutoCloseable {

    /** Where the device lives: in the host kernel, or in a panavirt software model. */
    enum Backend { KERNEL, MODEL }

    /** The {@code KVM_DEV_TYPE_*} this device is. */
    int type();

    /** Whether the kernel or a model serves this device. */
    Backend backend();

    /** Wraps {@code KVM_HAS_DEVICE_ATTR}: whether {@code group}/{@code attr} exists. */
    boolean hasAttr(int group, long attr) throws ErrnoException;

    /** Wraps {@code KVM_SET_DEVICE_ATTR} with a u64 payload ({@code size} 4 or 8 bytes). */
    void setAttr(int group, long attr, long value, int size) throws ErrnoException;

    /** {@code KVM_SET_DEVICE_ATTR} for attributes that take no payload (for example init or reset). */
    void setAttr(int group, long attr) throws ErrnoException;

    /** Wraps {@code KVM_GET_DEVICE_ATTR} reading a {@code size}-byte (4 or 8) payload. */
    long getAttr(int group, long attr, int size) throws ErrnoException;

    @Override
    void close();
}
