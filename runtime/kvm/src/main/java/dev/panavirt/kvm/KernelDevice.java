package dev.panavirt.kvm;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_device_attr;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** An in-kernel device created with {@link Vm#createDevice(int)}: a device fd and its attributes. */
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

    @Override
    public int type() {
        return type;
    }

    @Override
    public Backend backend() {
        return Backend.KERNEL;
    }

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

    @Override
    public void setAttr(int group, long attr) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            Ioctl.call(fd, "KVM_SET_DEVICE_ATTR", kvm_h.KVM_SET_DEVICE_ATTR(),
                    attr(a, group, attr, MemorySegment.NULL), what(group, attr));
        }
    }

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

    /** {@code KVM_SET_DEVICE_ATTR} with a caller-provided payload buffer of any size. */
    public void setAttr(int group, long attr, MemorySegment payload) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            Ioctl.call(fd, "KVM_SET_DEVICE_ATTR", kvm_h.KVM_SET_DEVICE_ATTR(), attr(a, group, attr, payload),
                    what(group, attr));
        }
    }

    /** {@code KVM_GET_DEVICE_ATTR} into a caller-provided payload buffer of any size. */
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

    @Override
    public void close() {
        fd.close();
    }
}
