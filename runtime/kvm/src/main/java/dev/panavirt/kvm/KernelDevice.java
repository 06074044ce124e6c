package dev.panavirt.kvm;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_device_attr;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An in-kernel device created with {@link Vm#createDevice(int)}: a device fd and its attributes.
 *
 * <p>Attribute errnos come partly from the generic device ioctl (virt/kvm/kvm_main.c,
 * {@code kvm_device_ioctl}, {@code kvm_device_ioctl_attr}): EPERM when the device type does not implement
 * the operation at all (a {@link DeviceType#VFIO} device has no get), and EIO when the VM is used from a
 * process other than its creator or is dead. The rest belong to the device type; by convention ENXIO names
 * a group or attribute it does not have, as the kvm-vfio device does (virt/kvm/vfio.c,
 * {@code kvm_vfio_set_attr}, {@code kvm_vfio_has_attr}), and EINVAL, EBUSY or EEXIST a value or moment it
 * refuses. After {@link #close} every ioctl-issuing method throws {@link IllegalStateException} before
 * reaching the kernel.
 */
public final class KernelDevice implements DeviceAttributes {
    private final Fd fd;
    private final int type;

    KernelDevice(Fd fd, int type) {
        this.fd = fd;
        this.type = type;
    }

    /**
     * The device descriptor number, as {@code KVM_DEV_VFIO_FILE_ADD} and similar attributes take it; valid
     * until {@link #close}.
     *
     * @throws IllegalStateException after {@link #close}
     */
    public int rawFd() {
        return fd.raw();
    }

    /** {@inheritDoc} */
    @Override
    public int type() {
        return type;
    }

    /** {@inheritDoc} Always {@link DeviceAttributes.Backend#KERNEL}. */
    @Override
    public Backend backend() {
        return Backend.KERNEL;
    }

    /**
     * {@inheritDoc} ENXIO from the kernel is the answer false.
     *
     * @throws ErrnoException EPERM when the device type has no has-attribute operation; other device-specific
     *         errnos as the class describes
     * @throws IllegalStateException after {@link #close}
     */
    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = attr(a, group, attr, MemorySegment.NULL);
            int rc = Ioctl.raw(Scratch.capture(), fd, kvm_h.KVM_HAS_DEVICE_ATTR(), s);
            if (rc >= 0) {
                return true;
            }
            if (rc == -Errno.ENXIO) {
                return false;
            }
            throw Ioctl.failure(fd, "KVM_HAS_DEVICE_ATTR", -rc, kvm_h.KVM_HAS_DEVICE_ATTR(), what(group, attr));
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EPERM when the device type has no set-attribute operation; ENXIO for a group or
     *         attribute the device does not have; device-specific errnos for values it refuses (the kvm-vfio
     *         device, for one: EBADF for a file descriptor that is not open, EEXIST for a group added twice,
     *         ENOENT for one it does not hold) (virt/kvm/vfio.c, {@code kvm_vfio_set_attr})
     * @throws IllegalArgumentException when {@code size} is neither 4 nor 8
     * @throws IllegalStateException after {@link #close}
     */
    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment payload = a.allocate(8, 8);
            checkSize(size);
            if (size == 4) {
                payload.set(ValueLayout.JAVA_INT, 0, (int) value);
            } else {
                payload.set(ValueLayout.JAVA_LONG, 0, value);
            }
            Ioctl.call(fd, "KVM_SET_DEVICE_ATTR", kvm_h.KVM_SET_DEVICE_ATTR(), attr(a, group, attr, payload),
                    what(group, attr) + " value 0x" + Long.toHexString(value));
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException as {@link #setAttr(int, long, long, int)}
     * @throws IllegalStateException after {@link #close}
     */
    @Override
    public void setAttr(int group, long attr) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            Ioctl.call(fd, "KVM_SET_DEVICE_ATTR", kvm_h.KVM_SET_DEVICE_ATTR(),
                    attr(a, group, attr, MemorySegment.NULL), what(group, attr));
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws ErrnoException EPERM when the device type has no get-attribute operation (as for
     *         {@link DeviceType#VFIO}); ENXIO for a group or attribute the device does not have; other
     *         device-specific errnos as the class describes
     * @throws IllegalArgumentException when {@code size} is neither 4 nor 8
     * @throws IllegalStateException after {@link #close}
     */
    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        checkSize(size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment payload = a.allocate(8, 8);
            Ioctl.call(fd, "KVM_GET_DEVICE_ATTR", kvm_h.KVM_GET_DEVICE_ATTR(), attr(a, group, attr, payload),
                    what(group, attr));
            return size == 4 ? Integer.toUnsignedLong(payload.get(ValueLayout.JAVA_INT, 0))
                    : payload.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * {@code KVM_SET_DEVICE_ATTR} with a caller-provided payload buffer of any size. The kernel reads as many
     * bytes as the attribute defines, whatever the segment's size, so {@code payload} must hold at least that.
     *
     * @throws ErrnoException as {@link #setAttr(int, long, long, int)}
     * @throws IllegalStateException after {@link #close}
     */
    public void setAttr(int group, long attr, MemorySegment payload) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            Ioctl.call(fd, "KVM_SET_DEVICE_ATTR", kvm_h.KVM_SET_DEVICE_ATTR(), attr(a, group, attr, payload),
                    what(group, attr));
        }
    }

    /**
     * {@code KVM_GET_DEVICE_ATTR} into a caller-provided payload buffer of any size. The kernel writes as many
     * bytes as the attribute defines, whatever the segment's size, so {@code payload} must hold at least that.
     *
     * @throws ErrnoException as {@link #getAttr(int, long, int)}
     * @throws IllegalStateException after {@link #close}
     */
    public void getAttr(int group, long attr, MemorySegment payload) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            Ioctl.call(fd, "KVM_GET_DEVICE_ATTR", kvm_h.KVM_GET_DEVICE_ATTR(), attr(a, group, attr, payload),
                    what(group, attr));
        }
    }

    private static void checkSize(int size) {
        if (size != 4 && size != 8) {
            throw new IllegalArgumentException("attribute payload size must be 4 or 8: " + size);
        }
    }

    private static MemorySegment attr(Arena a, int group, long attr, MemorySegment payload) {
        MemorySegment s = kvm_device_attr.allocate(a);
        kvm_device_attr.group(s, group);
        kvm_device_attr.attr(s, attr);
        kvm_device_attr.addr(s, payload.address());
        return s;
    }

    private String what(int group, long attr) {
        return "device type " + type + " group 0x" + Integer.toHexString(group) + " attr 0x" + Long.toHexString(attr);
    }

    /** Closes the device descriptor. Idempotent. */
    @Override
    public void close() {
        fd.close();
    }
}
