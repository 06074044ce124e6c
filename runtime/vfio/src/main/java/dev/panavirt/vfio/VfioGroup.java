package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_group_status;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A VFIO group ({@code /dev/vfio/<number>}): the unit of isolation the IOMMU gives, attached to a
 * {@link VfioContainer} and the source of its devices' descriptors (drivers/vfio/group.c).
 *
 * <p>The kernel lets one process hold a group open once at a time (a second open fails with EBUSY,
 * {@code vfio_group_fops_open}), and a group must be viable (every device in it bound to a VFIO driver or to
 * none) before it may join a container.
 *
 * <p><b>Close order.</b> {@link #close()} first closes the devices this group opened ({@link KernelVfioDevice#close()}:
 * their mappings and interrupts go first), then unsets the container if one is set (the last group of a
 * container takes the IOMMU and its mappings with it, vfio_iommu_type1.c {@code vfio_iommu_type1_detach_group}),
 * then closes the descriptor. {@link #unsetContainer()} on its own does not close devices: with one open the
 * kernel answers EBUSY, as it should. After {@link #close()} every method throws
 * {@link IllegalStateException} before reaching the kernel.
 */
public final class VfioGroup implements AutoCloseable {
    private final Fd fd;
    private final int number;
    private final List<KernelVfioDevice> devices = new ArrayList<>();
    private volatile VfioContainer container;
    private volatile boolean closed;

    private VfioGroup(Fd fd, int number) {
        this.fd = fd;
        this.number = number;
    }

    /**
     * Opens {@code /dev/vfio/<number>}.
     *
     * @throws ErrnoException from open(2): ENOENT when there is no such group, EBUSY when it is open already
     *         (group.c {@code vfio_group_fops_open}), EPERM/EACCES without permission
     */
    public static VfioGroup open(int number) throws ErrnoException {
        return new VfioGroup(Fd.open("/dev/vfio/" + number, Libc.O_RDWR), number);
    }

    /**
     * Opens the group node at {@code path} ({@code /dev/vfio/<number>}, or {@code /dev/vfio/noiommu-<n>}).
     *
     * @throws ErrnoException as {@link #open(int)}
     */
    public static VfioGroup open(Path path) throws ErrnoException {
        String name = path.getFileName().toString();
        int n;
        try {
            n = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
        } catch (NumberFormatException e) {
            n = -1;
        }
        return new VfioGroup(Fd.open(path.toString(), Libc.O_RDWR), n);
    }

    /**
     * The IOMMU group number of a PCI device, from {@code /sys/bus/pci/devices/<name>/iommu_group}.
     *
     * @param deviceName e.g. {@code 0000:00:03.0}
     * @throws IOException when the device or its group link does not exist (no IOMMU, or no such device)
     */
    public static int groupNumberOf(String deviceName) throws IOException {
        Path link = Files.readSymbolicLink(Path.of("/sys/bus/pci/devices", deviceName, "iommu_group"));
        return Integer.parseInt(link.getFileName().toString());
    }

    /**
     * The group's descriptor number, as the KVM-VFIO device's {@code KVM_DEV_VFIO_FILE_ADD} takes it; valid
     * until {@link #close}.
     *
     * @throws IllegalStateException after {@link #close}
     */
    public int rawFd() {
        ensureOpen();
        return fd.raw();
    }

    /** The group number ({@code -1} when the path named none). */
    public int number() {
        return number;
    }

    /**
     * {@code VFIO_GROUP_GET_STATUS} flags.
     *
     * @param flags {@code VFIO_GROUP_FLAGS_VIABLE} (1), {@code VFIO_GROUP_FLAGS_CONTAINER_SET} (2)
     */
    public record Status(int flags) {
        /** Every device of the group is bound to a VFIO driver or to none: the group may join a container. */
        public boolean viable() {
            return (flags & 1) != 0;
        }

        /** The group is attached to a container. */
        public boolean containerSet() {
            return (flags & 2) != 0;
        }
    }

    /**
     * {@code VFIO_GROUP_GET_STATUS} (group.c {@code vfio_group_ioctl_get_status}).
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public Status status() throws ErrnoException {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = vfio_group_status.allocate(a);
            vfio_group_status.argsz(s, (int) vfio_group_status.sizeof());
            Ioctl.call(fd, "VFIO_GROUP_GET_STATUS", vfio_h.VFIO_GROUP_GET_STATUS(), s, "group " + number);
            return new Status(vfio_group_status.flags(s));
        }
    }

    /**
     * {@code VFIO_GROUP_SET_CONTAINER}: attaches this group to {@code container}; the container then closes
     * this group when it closes.
     *
     * @throws ErrnoException EINVAL when the group is attached already; EPERM when it is not viable (group.c
     *         {@code vfio_group_ioctl_set_container}); EINVAL/EPERM from the IOMMU driver when a type is set
     *         already and this group's domain conflicts (apertures, reserved regions, interrupt remapping)
     * @throws IllegalStateException after {@link #close()} of this group or of {@code container}
     */
    public void setContainer(VfioContainer container) throws ErrnoException {
        ensureOpen();
        int containerFd = container.rawFd();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arg = a.allocateFrom(ValueLayout.JAVA_INT, containerFd);
            Ioctl.call(fd, "VFIO_GROUP_SET_CONTAINER", vfio_h.VFIO_GROUP_SET_CONTAINER(), arg,
                    "group " + number + " container fd " + containerFd);
        }
        this.container = container;
        container.attached(this);
    }

    /**
     * {@code VFIO_GROUP_UNSET_CONTAINER}. Devices opened from this group must be closed first.
     *
     * @throws ErrnoException EINVAL when no container is set; EBUSY while a device of the group is open
     *         (group.c {@code vfio_group_ioctl_unset_container})
     * @throws IllegalStateException after {@link #close()}
     */
    public void unsetContainer() throws ErrnoException {
        ensureOpen();
        Ioctl.call(fd, "VFIO_GROUP_UNSET_CONTAINER", vfio_h.VFIO_GROUP_UNSET_CONTAINER(), 0L, "group " + number);
        VfioContainer c = container;
        container = null;
        if (c != null) {
            c.detached(this);
        }
    }

    /** The container this group is attached to, or {@code null}. */
    public VfioContainer container() {
        return container;
    }

    /**
     * {@code VFIO_GROUP_GET_DEVICE_FD}: opens a device of this group; the group closes it when it closes.
     *
     * @param name the device's name on its bus, e.g. {@code 0000:00:03.0}
     * @throws ErrnoException EINVAL when the group has no container or the container no IOMMU type yet, or no
     *         device of that name is in the group (group.c {@code vfio_group_ioctl_get_device_fd},
     *         {@code vfio_device_get_from_name})
     * @throws IllegalStateException after {@link #close()}
     */
    public KernelVfioDevice device(String name) throws ErrnoException {
        ensureOpen();
        int raw;
        try (Arena a = Arena.ofConfined()) {
            raw = Ioctl.call(fd, "VFIO_GROUP_GET_DEVICE_FD", vfio_h.VFIO_GROUP_GET_DEVICE_FD(), a.allocateFrom(name),
                    "group " + number + " device " + name);
        }
        KernelVfioDevice d = KernelVfioDevice.adopt(this, Fd.adopt(raw, "vfio-device:" + name), name);
        synchronized (devices) {
            devices.add(d);
        }
        return d;
    }

    /** Forgets a device that closed. */
    void closed(KernelVfioDevice device) {
        synchronized (devices) {
            devices.remove(device);
        }
    }

    /** Closes every device opened from this group. */
    void closeDevices() {
        List<KernelVfioDevice> open;
        synchronized (devices) {
            open = List.copyOf(devices);
        }
        for (KernelVfioDevice d : open) {
            d.close();
        }
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes the group's devices, unsets its container (if set) and closes the descriptor, in that order.
     * Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        closeDevices();
        VfioContainer c = container;
        container = null;
        if (c != null) {
            if (fd.isOpen()) {
                Ioctl.raw(dev.panavirt.sys.Scratch.capture(), fd, vfio_h.VFIO_GROUP_UNSET_CONTAINER(), 0L);
            }
            c.detached(this);
        }
        fd.close();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("VFIO group " + number + " is closed");
        }
    }

    @Override
    public String toString() {
        return "VfioGroup[" + number + (closed ? ", closed" : "") + "]";
    }
}
