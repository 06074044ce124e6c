package dev.panavirt.vhost;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.NotSupportedException;
import dev.panavirt.bindings.vhost.vhost_h;
import dev.panavirt.bindings.vhost.vhost_iotlb_msg;
import dev.panavirt.bindings.vhost.vhost_msg_v2;
import dev.panavirt.bindings.vhost.vhost_vdpa_iova_range;
import dev.panavirt.bindings.vhost.vhost_vring_addr;
import dev.panavirt.bindings.vhost.vhost_vring_file;
import dev.panavirt.bindings.vhost.vhost_vring_state;
import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A vDPA device through the kernel's vhost-vdpa character device {@code /dev/vhost-vdpa-N}
 * (drivers/vhost/vdpa.c over drivers/vhost/vhost.c): every ioctl the kernel gives it, and the IOTLB messages
 * written to the descriptor.
 *
 * <p><b>What the kernel checks.</b> This class checks nothing the kernel checks itself, so every rule of
 * {@link VdpaDevice} arrives as the kernel's own errno, in an {@link ErrnoException} naming the ioctl, the
 * errno, what was asked and the node. The order of the checks is the kernel's: {@code vhost_vdpa_unlocked_ioctl}
 * answers the device-level ioctls itself (no ownership needed) and passes the rest to vhost core's
 * {@code vhost_dev_ioctl}, which wants {@link #setOwner()} first (EPERM) and then hands the per-virtqueue ioctls
 * to {@code vhost_vdpa_vring_ioctl}, whose first check is the virtqueue index (ENOBUFS at or above
 * {@link #vqsCount()}).
 *
 * <p><b>Not supported.</b> An ioctl the running kernel does not know fails with ENOTTY (the ioctl core's
 * translation of the drivers' {@code ENOIOCTLCMD}); vhost-vdpa also answers ENOTTY for the dirty-log ioctls
 * ({@link #setLogBase}, {@link #setLogFd}), which it never implements. Those, and EOPNOTSUPP from the ioctls
 * whose device operation is optional ({@link #vringGroup}, {@link #vringDescGroup}, {@link #vringSize},
 * {@link #setGroupAsid}, {@link #suspend}, {@link #resume}: vdpa.c answers EOPNOTSUPP exactly when the device
 * lacks the callback), are thrown as {@link NotSupportedException}, whose message says "not supported by this
 * kernel". EOPNOTSUPP elsewhere refuses an argument ({@link #setBackendFeatures} with a bit not offered,
 * {@link #setVringAddr(int, int, long, long, long, long)} with a flag other than {@code VHOST_VRING_F_LOG}) and is
 * a plain {@link ErrnoException}.
 *
 * <p><b>IOTLB.</b> {@link #iotlbUpdate}, {@link #iotlbInvalidate}, {@link #iotlbBatchBegin} and
 * {@link #iotlbBatchEnd} write one 72-byte {@code struct vhost_msg_v2} each with write(2)
 * ({@code vhost_chr_write_iter}, {@code vhost_vdpa_process_iotlb_msg}). The message's ASID field is always
 * filled in, but the kernel reads it only once {@code VHOST_BACKEND_F_IOTLB_ASID} is acked with
 * {@link #setBackendFeatures}; before that it takes every message as address space 0, whatever the field says.
 * Every refusal of the IOTLB handler (not owner, overlap, outside the IOVA range, an address space that does not
 * exist, a message for another address space inside a batch) reaches the writer as EFAULT; only a malformed
 * message (too short, unknown kind, an {@code UPDATE} of size 0) is EINVAL. {@link #writeIotlb} writes any bytes
 * as they are, for the kernel's length rules.
 *
 * <p><b>Memory.</b> The kernel keeps no reference to memory it maps for the device: the caller keeps every
 * segment it passed to {@link #iotlbUpdate} mapped until it has invalidated the range, reset the device or
 * closed this object; memory unmapped earlier leaves the device translating to whatever the process maps there
 * next. With vdpa_sim's default {@code use_va} the kernel enters only file-backed {@code MAP_SHARED} memory into
 * the IOTLB ({@code vhost_vdpa_va_map}) and skips other memory silently (the update succeeds and the range
 * stays unmapped): use {@code dev.panavirt.fd.SharedMemory}.
 *
 * <p><b>Allocation and threads.</b> Argument structures and the message buffer are allocated once per device;
 * the calls fill them and allocate nothing (only failures build an exception, and
 * {@link #iovaRange()} its record). Calls on one device are serialised on it, so any thread may use it. After
 * {@link #close()} every call throws {@link IllegalStateException} before reaching the kernel.
 */
public final class VhostVdpa implements VdpaDevice {
    /** The device nodes' path without the number. */
    public static final String PATH_PREFIX = "/dev/vhost-vdpa-";

    /** {@code sizeof(struct vhost_msg_v2)}: 72, what the kernel answers a successful IOTLB write with. */
    public static final int IOTLB_MSG_SIZE = (int) vhost_msg_v2.sizeof();

    /** Config bytes that fit the preallocated {@code vhost_vdpa_config} buffer; larger accesses allocate. */
    private static final int CONFIG_BUFFER = 256;
    /** {@code offsetof(struct vhost_vdpa_config, buf)}. */
    private static final int CONFIG_HEADER = 8;

    private final Fd fd;
    private final String path;
    private final Object lock = new Object();
    private final Arena arena = Arena.ofShared();
    /** A u8/u16/u32/u64 argument. */
    private final MemorySegment word;
    private final MemorySegment state;
    private final MemorySegment file;
    private final MemorySegment addr;
    private final MemorySegment range;
    private final MemorySegment config;
    private final MemorySegment msg;
    /** The {@code struct vhost_iotlb_msg} inside {@link #msg}. */
    private final MemorySegment iotlb;
    private volatile boolean closed;

    private VhostVdpa(Fd fd, String path) {
        this.fd = fd;
        this.path = path;
        this.word = arena.allocate(8, 8);
        this.state = arena.allocate(vhost_vring_state.layout());
        this.file = arena.allocate(vhost_vring_file.layout());
        this.addr = arena.allocate(vhost_vring_addr.layout());
        this.range = arena.allocate(vhost_vdpa_iova_range.layout());
        this.config = arena.allocate(CONFIG_HEADER + CONFIG_BUFFER, 8);
        this.msg = arena.allocate(vhost_msg_v2.layout()); // zeroed: the padding after the iotlb message stays 0
        this.iotlb = vhost_msg_v2.iotlb(msg);
    }

    /**
     * Opens a vhost-vdpa node read-write. The open resets the device (status 0; vdpa.c {@code vhost_vdpa_open}),
     * so a previous user's state is gone.
     *
     * @param path e.g. {@code /dev/vhost-vdpa-0}
     * @throws ErrnoException from open(2): EBUSY while another descriptor has the node open (one opener at a
     *         time, {@code vhost_vdpa_open}); ENOENT without the node; EACCES without permission
     */
    public static VhostVdpa open(String path) throws ErrnoException {
        return new VhostVdpa(Fd.open(path, Libc.O_RDWR), path);
    }

    /**
     * Opens {@code /dev/vhost-vdpa-<index>}.
     *
     * @throws ErrnoException as {@link #open(String)}
     */
    public static VhostVdpa open(int index) throws ErrnoException {
        return open(PATH_PREFIX + index);
    }

    /** The node this device was opened from. */
    public String path() {
        return path;
    }

    /**
     * The descriptor number, for ioctls this class does not wrap (mmap of a doorbell page, say); valid until
     * {@link #close()}.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public int rawFd() {
        ensureOpen();
        return fd.raw();
    }

    // --- device-level ioctls: answered by vhost_vdpa_unlocked_ioctl itself, no ownership needed ----------------

    /**
     * {@inheritDoc} From the device's {@code get_device_id} ({@code vhost_vdpa_get_device_id}).
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int deviceId() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_DEVICE_ID", vhost_h.VHOST_VDPA_GET_DEVICE_ID(), 4);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_get_status}).
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int status() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_STATUS", vhost_h.VHOST_VDPA_GET_STATUS(), 1);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_set_status}.) 0 resets the device: status, features, ring state and
     * callbacks go (vdpa_sim {@code vdpasim_do_reset}), the suspended mark too, and the mappings unless
     * {@code VHOST_BACKEND_F_IOTLB_PERSIST} is acked. Any other value is stored as it is: vhost-vdpa does not
     * check the virtio handshake order. Setting {@code DRIVER_OK} wires the call eventfds to the device's
     * interrupts; clearing it (by the reset) unwires them.
     *
     * @param status the virtio status byte ({@code ACKNOWLEDGE} 1, {@code DRIVER} 2, {@code DRIVER_OK} 4,
     *               {@code FEATURES_OK} 8, {@code NEEDS_RESET} 0x40, {@code FAILED} 0x80); only its low 8 bits
     *               reach the kernel
     * @throws ErrnoException EINVAL when a non-zero {@code status} lacks a bit the device status has; the reset's
     *         error where the device's reset fails
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setStatus(int status) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            word.set(ValueLayout.JAVA_BYTE, 0, (byte) status);
            int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_VDPA_SET_STATUS(), word);
            if (rc < 0) {
                throw failure("VHOST_VDPA_SET_STATUS", -rc, vhost_h.VHOST_VDPA_SET_STATUS(), false,
                        "status 0x" + Integer.toHexString(status & 0xff));
            }
        }
    }

    /**
     * {@inheritDoc} The device's offered virtio features ({@code vhost_vdpa_get_features}); vdpa_sim's net
     * device offers 0x3_0883_0028, its block device 0x3_0800_7646.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public long features() throws ErrnoException {
        return readLong("VHOST_GET_FEATURES", vhost_h.VHOST_GET_FEATURES());
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_set_features}.) The device keeps what it accepts (vdpa_sim: the
     * intersection with its offer); the features read back are what the vhost virtqueues use (packed or split
     * rings).
     *
     * @throws ErrnoException EBUSY once the status has {@code FEATURES_OK}; EINVAL when the device refuses the
     *         set (vdpa_sim: without {@code VIRTIO_F_ACCESS_PLATFORM}, bit 33)
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setFeatures(long features) throws ErrnoException {
        writeLong("VHOST_SET_FEATURES", vhost_h.VHOST_SET_FEATURES(), features, false);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_unlocked_ioctl}): {@code IOTLB_MSG_V2}, {@code IOTLB_BATCH},
     * {@code IOTLB_ASID} always; {@code SUSPEND}, {@code RESUME}, {@code DESC_ASID} and {@code IOTLB_PERSIST} when
     * the device has the operations behind them; and the device's own ({@code ENABLE_AFTER_DRIVER_OK} for
     * vdpa_sim).
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public long backendFeatures() throws ErrnoException {
        return readLong("VHOST_GET_BACKEND_FEATURES", vhost_h.VHOST_GET_BACKEND_FEATURES());
    }

    /**
     * {@inheritDoc} Checked before anything else, without the device lock or ownership
     * ({@code vhost_vdpa_unlocked_ioctl}); stored on every virtqueue. {@code IOTLB_ASID} makes the kernel read the
     * ASID field of the IOTLB messages.
     *
     * @throws ErrnoException EOPNOTSUPP for a bit outside 1..8, or {@code SUSPEND}, {@code RESUME},
     *         {@code DESC_ASID} or {@code IOTLB_PERSIST} the device cannot do; EINVAL for {@code DESC_ASID}
     *         without {@code IOTLB_ASID} (a plain {@link ErrnoException}: the argument is refused, not the ioctl)
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setBackendFeatures(long features) throws ErrnoException {
        writeLong("VHOST_SET_BACKEND_FEATURES", vhost_h.VHOST_SET_BACKEND_FEATURES(), features, false);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_get_config_size}): net 24 bytes on 6.12, block that kernel's
     * {@code sizeof(struct virtio_blk_config)}.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int configSize() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_CONFIG_SIZE", vhost_h.VHOST_VDPA_GET_CONFIG_SIZE(), 4);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_get_config}, {@code vhost_vdpa_config_validate}.) vdpa_sim refreshes its
     * device-specific fields first (net: status reads {@code LINK_UP}; block: the whole config). Allocates only
     * for more than 256 bytes.
     *
     * @param dst any segment, heap or native; its size is the length asked for
     * @throws ErrnoException EINVAL for length 0, {@code offset} beyond the config size, or
     *         {@code offset + length} beyond it
     * @throws IllegalArgumentException for a length over {@link Integer#MAX_VALUE}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void readConfig(int offset, MemorySegment dst) throws ErrnoException {
        int len = configLength(dst);
        synchronized (lock) {
            ensureOpen();
            try (Arena a = len > CONFIG_BUFFER ? Arena.ofConfined() : null) {
                MemorySegment c = a == null ? config : a.allocate(CONFIG_HEADER + (long) len, 8);
                c.set(ValueLayout.JAVA_INT, 0, offset);
                c.set(ValueLayout.JAVA_INT, 4, len);
                int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_VDPA_GET_CONFIG(), c);
                if (rc < 0) {
                    throw failure("VHOST_VDPA_GET_CONFIG", -rc, vhost_h.VHOST_VDPA_GET_CONFIG(), false,
                            "offset " + offset + " length " + len);
                }
                MemorySegment.copy(c, CONFIG_HEADER, dst, 0, len);
            }
        }
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_set_config}.) vdpa_sim's net device keeps the bytes (a new MAC, say); its
     * block device regenerates the whole config at the next read, so writes there do not last.
     *
     * @throws ErrnoException as {@link #readConfig}
     * @throws IllegalArgumentException for a length over {@link Integer#MAX_VALUE}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void writeConfig(int offset, MemorySegment src) throws ErrnoException {
        int len = configLength(src);
        synchronized (lock) {
            ensureOpen();
            try (Arena a = len > CONFIG_BUFFER ? Arena.ofConfined() : null) {
                MemorySegment c = a == null ? config : a.allocate(CONFIG_HEADER + (long) len, 8);
                c.set(ValueLayout.JAVA_INT, 0, offset);
                c.set(ValueLayout.JAVA_INT, 4, len);
                MemorySegment.copy(src, 0, c, CONFIG_HEADER, len);
                int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_VDPA_SET_CONFIG(), c);
                if (rc < 0) {
                    throw failure("VHOST_VDPA_SET_CONFIG", -rc, vhost_h.VHOST_VDPA_SET_CONFIG(), false,
                            "offset " + offset + " length " + len);
                }
            }
        }
    }

    private static int configLength(MemorySegment s) {
        if (s.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("config access too long: " + s.byteSize() + " bytes");
        }
        return (int) s.byteSize();
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_get_vring_num}; vdpa_sim: 256.)
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int vringNumMax() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_VRING_NUM", vhost_h.VHOST_VDPA_GET_VRING_NUM(), 2);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_get_vqs_count}; vdpa_sim: net 3, block 1.)
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int vqsCount() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_VQS_COUNT", vhost_h.VHOST_VDPA_GET_VQS_COUNT(), 4);
    }

    /**
     * {@inheritDoc} (The device's {@code ngroups}, {@code vhost_vdpa_unlocked_ioctl}; vdpa_sim: net 2, block 1.)
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int groupCount() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_GROUP_NUM", vhost_h.VHOST_VDPA_GET_GROUP_NUM(), 4);
    }

    /**
     * {@inheritDoc} (The device's {@code nas}; vdpa_sim: net 2, block 1.)
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int addressSpaceCount() throws ErrnoException {
        return readWord("VHOST_VDPA_GET_AS_NUM", vhost_h.VHOST_VDPA_GET_AS_NUM(), 4);
    }

    /**
     * {@inheritDoc} Computed at open ({@code vhost_vdpa_set_iova_range}): the device's own range (vdpa_sim: all of
     * 0..2^64-1), else the platform IOMMU domain's aperture. Allocates the record.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public IovaRange iovaRange() throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_VDPA_GET_IOVA_RANGE(), range);
            if (rc < 0) {
                throw failure("VHOST_VDPA_GET_IOVA_RANGE", -rc, vhost_h.VHOST_VDPA_GET_IOVA_RANGE(), false, null);
            }
            return new IovaRange(vhost_vdpa_iova_range.first(range), vhost_vdpa_iova_range.last(range));
        }
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_set_config_call}; vdpa_sim never raises config interrupts.)
     *
     * @throws IllegalStateException after {@link #close()}, or when {@code call} is closed
     */
    @Override
    public void setConfigCall(EventFd call) throws ErrnoException {
        setConfigCall(call == null ? vhost_h.VHOST_FILE_UNBIND() : call.rawFd());
    }

    /**
     * {@code VHOST_VDPA_SET_CONFIG_CALL} with a descriptor number, for eventfds this project does not wrap.
     *
     * @param eventFd an eventfd, or -1 ({@code VHOST_FILE_UNBIND}) to unbind
     * @throws ErrnoException EBADF when {@code eventFd} is not an open descriptor, EINVAL when it is not an
     *         eventfd ({@code eventfd_ctx_fdget})
     * @throws IllegalStateException after {@link #close()}
     */
    public void setConfigCall(int eventFd) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            word.set(ValueLayout.JAVA_INT, 0, eventFd);
            int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_VDPA_SET_CONFIG_CALL(), word);
            if (rc < 0) {
                throw failure("VHOST_VDPA_SET_CONFIG_CALL", -rc, vhost_h.VHOST_VDPA_SET_CONFIG_CALL(), false,
                        "fd " + eventFd);
            }
        }
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_suspend}.) With {@code DRIVER_OK} the device stops processing its
     * virtqueues and the ring addresses and bases may change again; vdpa_sim remembers kicks that arrive
     * meanwhile and replays them on {@link #resume()}. A reset ends the suspension.
     *
     * @throws NotSupportedException (EOPNOTSUPP) with {@code DRIVER_OK} set, when the device has no suspend
     *         operation
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void suspend() throws ErrnoException {
        noArg("VHOST_VDPA_SUSPEND", vhost_h.VHOST_VDPA_SUSPEND(), true);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_resume}.)
     *
     * @throws NotSupportedException (EOPNOTSUPP) with {@code DRIVER_OK} set, when the device has no resume
     *         operation
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void resume() throws ErrnoException {
        noArg("VHOST_VDPA_RESUME", vhost_h.VHOST_VDPA_RESUME(), true);
    }

    /**
     * {@code VHOST_SET_LOG_BASE}: vhost's dirty-log base. vhost-vdpa has no dirty logging and answers ENOTTY
     * ({@code vhost_vdpa_unlocked_ioctl}), on every kernel so far; kept so callers can ask.
     *
     * @throws NotSupportedException (ENOTTY) on vhost-vdpa
     * @throws IllegalStateException after {@link #close()}
     */
    public void setLogBase(long base) throws ErrnoException {
        writeLong("VHOST_SET_LOG_BASE", vhost_h.VHOST_SET_LOG_BASE(), base, false);
    }

    /**
     * {@code VHOST_SET_LOG_FD}: vhost's dirty-log eventfd; ENOTTY on vhost-vdpa as {@link #setLogBase}.
     *
     * @throws NotSupportedException (ENOTTY) on vhost-vdpa
     * @throws IllegalStateException after {@link #close()}
     */
    public void setLogFd(int eventFd) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            word.set(ValueLayout.JAVA_INT, 0, eventFd);
            int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_SET_LOG_FD(), word);
            if (rc < 0) {
                throw failure("VHOST_SET_LOG_FD", -rc, vhost_h.VHOST_SET_LOG_FD(), false, "fd " + eventFd);
            }
        }
    }

    // --- ownership: vhost core (vhost_dev_ioctl) -------------------------------------------------------------

    /**
     * {@inheritDoc} ({@code vhost_dev_set_owner}.) Makes the calling process the owner (its mm is what the
     * device's virtual addresses refer to: on a {@code use_va} device vdpa.c {@code vhost_vdpa_bind_mm} binds it,
     * and undoes the ownership if that fails). Needed for every per-virtqueue ioctl and IOTLB message.
     *
     * @throws ErrnoException EBUSY when the device already has an owner
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setOwner() throws ErrnoException {
        noArg("VHOST_SET_OWNER", vhost_h.VHOST_SET_OWNER(), false);
    }

    /**
     * {@code VHOST_RESET_OWNER}: gives the ownership up, where the driver implements it (vhost-net and friends
     * do, in their own ioctl handlers). vhost-vdpa does not: it passes the ioctl to vhost core's
     * {@code vhost_dev_ioctl}, which checks the owner and does not handle it either, and then to
     * {@code vhost_vdpa_vring_ioctl}, which reads a virtqueue index from the argument first. So the argument
     * given is a pointer to a zero word (with none the kernel would answer EFAULT for reading index 0 from
     * address 0), and the answer is ENOTTY.
     *
     * @throws NotSupportedException (ENOTTY) on vhost-vdpa once owned
     * @throws ErrnoException EPERM before {@link #setOwner()}
     * @throws IllegalStateException after {@link #close()}
     */
    public void resetOwner() throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            word.set(ValueLayout.JAVA_LONG, 0, 0);
            int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_RESET_OWNER(), word);
            if (rc < 0) {
                throw failure("VHOST_RESET_OWNER", -rc, vhost_h.VHOST_RESET_OWNER(), false, null);
            }
        }
    }

    // --- per-virtqueue ioctls: vhost_vdpa_vring_ioctl, then vhost.c vhost_vring_ioctl -------------------------

    /**
     * {@inheritDoc} ({@code vhost_vdpa_vring_ioctl}.) Allowed at any time (no {@code DRIVER_OK} restriction);
     * stored and passed to the device.
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; EINVAL for
     *         0, more than {@link #vringNumMax()} or not a power of two; EBUSY while the vhost side runs the
     *         queue (never for vhost-vdpa)
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setVringNum(int index, int num) throws ErrnoException {
        vringState("VHOST_SET_VRING_NUM", vhost_h.VHOST_SET_VRING_NUM(), index, num, " num ", false);
    }

    /**
     * {@inheritDoc} Flags 0, no log address: {@link #setVringAddr(int, int, long, long, long, long)}.
     *
     * @throws ErrnoException as that method
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setVringAddr(int index, long desc, long avail, long used) throws ErrnoException {
        setVringAddr(index, 0, desc, avail, used, 0);
    }

    /**
     * {@code VHOST_SET_VRING_ADDR} with every field of {@code struct vhost_vring_addr} (vhost.c
     * {@code vhost_vring_set_addr}, then vdpa.c {@code vhost_vdpa_vring_ioctl}). The vhost side stores the
     * addresses first; only then does vhost-vdpa refuse them while the device runs, so a refused call leaves the
     * vhost copy changed and the device's not.
     *
     * @param flags {@code VHOST_VRING_F_LOG} (1) or 0
     * @param log   the log's guest address (checked for alignment, unused by vhost-vdpa)
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()};
     *         EOPNOTSUPP for a flag other than {@code VHOST_VRING_F_LOG}; EINVAL for an available ring not
     *         2-byte aligned, a used ring or log not 4-byte aligned, or while the status has {@code DRIVER_OK}
     *         and the device is not suspended
     * @throws IllegalStateException after {@link #close()}
     */
    public void setVringAddr(int index, int flags, long desc, long avail, long used, long log) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment a = addr;
            vhost_vring_addr.index(a, index);
            vhost_vring_addr.flags(a, flags);
            vhost_vring_addr.desc_user_addr(a, desc);
            vhost_vring_addr.avail_user_addr(a, avail);
            vhost_vring_addr.used_user_addr(a, used);
            vhost_vring_addr.log_guest_addr(a, log);
            int rc = Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_SET_VRING_ADDR(), a);
            if (rc < 0) {
                throw failure("VHOST_SET_VRING_ADDR", -rc, vhost_h.VHOST_SET_VRING_ADDR(), false, "vq " + index
                        + " flags 0x" + Integer.toHexString(flags) + " desc 0x" + Long.toHexString(desc) + " avail 0x"
                        + Long.toHexString(avail) + " used 0x" + Long.toHexString(used)
                        + (log != 0 ? " log 0x" + Long.toHexString(log) : ""));
            }
        }
    }

    /**
     * {@inheritDoc} (vhost.c {@code vhost_vring_ioctl}, then {@code vhost_vdpa_vring_ioctl}.) Split rings: the
     * last available index, at most 0xffff. With {@code VIRTIO_F_RING_PACKED} negotiated: bits 0-15 the avail
     * index with its wrap counter in bit 15, bits 16-31 the used index with its wrap counter in bit 31.
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; EINVAL for
     *         a split-ring base over 0xffff, or while the status has {@code DRIVER_OK} and the device is not
     *         suspended
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setVringBase(int index, int base) throws ErrnoException {
        vringState("VHOST_SET_VRING_BASE", vhost_h.VHOST_SET_VRING_BASE(), index, base, " base ", false);
    }

    /**
     * {@inheritDoc} Asks the device for the queue's state first ({@code get_vq_state}; vdpa_sim: its last
     * available index), then answers it in the {@link #setVringBase} encoding.
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; the
     *         device's error
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int vringBase(int index) throws ErrnoException {
        return vringState("VHOST_GET_VRING_BASE", vhost_h.VHOST_GET_VRING_BASE(), index, 0, null, false);
    }

    /**
     * {@inheritDoc} (vhost.c {@code vhost_vring_ioctl}.) The device's {@code kick_vq} runs on every signal.
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}
     * @throws IllegalStateException after {@link #close()}, or when {@code kick} is closed
     */
    @Override
    public void setVringKick(int index, EventFd kick) throws ErrnoException {
        setVringKick(index, kick == null ? vhost_h.VHOST_FILE_UNBIND() : kick.rawFd());
    }

    /**
     * {@code VHOST_SET_VRING_KICK} with a descriptor number, for eventfds this project does not wrap.
     *
     * @param eventFd an eventfd, or -1 ({@code VHOST_FILE_UNBIND})
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; EBADF for
     *         a descriptor that is not open, EINVAL for one that is not an eventfd ({@code eventfd_fget})
     * @throws IllegalStateException after {@link #close()}
     */
    public void setVringKick(int index, int eventFd) throws ErrnoException {
        vringFile("VHOST_SET_VRING_KICK", vhost_h.VHOST_SET_VRING_KICK(), index, eventFd);
    }

    /**
     * {@inheritDoc} (vhost.c {@code vhost_vring_ioctl}; vdpa.c gives the device a callback that signals it, and
     * rewires the interrupt bypass while {@code DRIVER_OK}.)
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}
     * @throws IllegalStateException after {@link #close()}, or when {@code call} is closed
     */
    @Override
    public void setVringCall(int index, EventFd call) throws ErrnoException {
        setVringCall(index, call == null ? vhost_h.VHOST_FILE_UNBIND() : call.rawFd());
    }

    /**
     * {@code VHOST_SET_VRING_CALL} with a descriptor number, for eventfds this project does not wrap (a KVM
     * irqfd's, say).
     *
     * @param eventFd an eventfd, or -1 ({@code VHOST_FILE_UNBIND})
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; EBADF for
     *         a descriptor that is not open, EINVAL for one that is not an eventfd ({@code eventfd_ctx_fdget})
     * @throws IllegalStateException after {@link #close()}
     */
    public void setVringCall(int index, int eventFd) throws ErrnoException {
        vringFile("VHOST_SET_VRING_CALL", vhost_h.VHOST_SET_VRING_CALL(), index, eventFd);
    }

    /**
     * {@inheritDoc} The device's {@code set_vq_ready} ({@code vhost_vdpa_vring_ioctl}); no {@code DRIVER_OK}
     * check in vhost-vdpa (devices that take a late enable offer {@code VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK};
     * vdpa_sim does). vdpa_sim (re)initialises the ring from the stored addresses and size on 0 to 1.
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setVringEnable(int index, boolean enable) throws ErrnoException {
        vringState("VHOST_VDPA_SET_VRING_ENABLE", vhost_h.VHOST_VDPA_SET_VRING_ENABLE(), index, enable ? 1 : 0,
                " enable ", false);
    }

    /**
     * {@inheritDoc} (The device's {@code get_vq_group}; vdpa_sim's net device puts its control queue, vq 2, in
     * group 1, everything else in group 0.)
     *
     * @throws NotSupportedException (EOPNOTSUPP) when the device has no {@code get_vq_group}
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; EIO when
     *         the device answers a group at or above {@link #groupCount()}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int vringGroup(int index) throws ErrnoException {
        return vringState("VHOST_VDPA_GET_VRING_GROUP", vhost_h.VHOST_VDPA_GET_VRING_GROUP(), index, 0, null, true);
    }

    /**
     * {@inheritDoc} (The device's {@code get_vq_desc_group}, the group of the queue's descriptor table when
     * {@code VHOST_BACKEND_F_DESC_ASID} lets it differ.)
     *
     * @throws NotSupportedException (EOPNOTSUPP) when the device has no {@code get_vq_desc_group} (vdpa_sim)
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}; EIO when
     *         the device answers a group at or above {@link #groupCount()}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int vringDescGroup(int index) throws ErrnoException {
        return vringState("VHOST_VDPA_GET_VRING_DESC_GROUP", vhost_h.VHOST_VDPA_GET_VRING_DESC_GROUP(), index, 0,
                null, true);
    }

    /**
     * {@inheritDoc} (The device's {@code get_vq_size}; vdpa_sim: the queue's size once {@code DRIVER_OK} is set,
     * 256 before.)
     *
     * @throws NotSupportedException (EOPNOTSUPP) when the device has no {@code get_vq_size} (vdpa_sim with
     *         {@code batch_mapping=1}, its default), or (ENOTTY) on kernels before the ioctl (6.10)
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code index >= vqsCount()}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public int vringSize(int index) throws ErrnoException {
        return vringState("VHOST_VDPA_GET_VRING_SIZE", vhost_h.VHOST_VDPA_GET_VRING_SIZE(), index, 0, null, true);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_vring_ioctl}: the group number sits where the other ioctls have the
     * virtqueue index, and is checked against the number of virtqueues first.)
     *
     * @throws ErrnoException EPERM before {@link #setOwner()}; ENOBUFS for {@code group >= vqsCount()}; EINVAL for
     *         {@code group >= groupCount()} or {@code asid >= addressSpaceCount()}; the device's error
     * @throws NotSupportedException (EOPNOTSUPP) when the device has no {@code set_group_asid}
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void setGroupAsid(int group, int asid) throws ErrnoException {
        vringState("VHOST_VDPA_SET_GROUP_ASID", vhost_h.VHOST_VDPA_SET_GROUP_ASID(), group, asid, " asid ", true);
    }

    // --- IOTLB messages: write(2) of struct vhost_msg_v2 (vhost.c vhost_chr_write_iter) ------------------------

    /**
     * {@inheritDoc} The kernel enters {@code memory}'s process addresses ({@code vhost_vdpa_process_iotlb_update};
     * on {@code use_va} devices {@code vhost_vdpa_va_map} keeps only file-backed shared mappings, on others
     * {@code vhost_vdpa_pa_map} pins the pages against {@code RLIMIT_MEMLOCK}), then tells the device
     * ({@code dma_map} at once, or the whole table through {@code set_map} unless inside a batch). Keep
     * {@code memory} mapped while the device may use it (see the class description).
     *
     * @param asid read by the kernel only once {@code VHOST_BACKEND_F_IOTLB_ASID} is acked; address space 0
     *             before that
     * @throws ErrnoException EFAULT for every refusal: not owner; an IOVA range outside {@link #iovaRange()} or
     *         wrapping; an overlap with an entry of that address space; {@code asid} at or above
     *         {@link #addressSpaceCount()}; another address space than the open batch's; an address without a
     *         mapping; the device's own refusal (vdpa_sim: more than {@code max_iotlb_entries} entries)
     * @throws IllegalArgumentException if {@code memory} is a heap segment
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void iotlbUpdate(int asid, long iova, MemorySegment memory, int perm) throws ErrnoException {
        if (!memory.isNative()) {
            throw new IllegalArgumentException("IOTLB memory must be native (a heap segment has no stable address): "
                    + memory);
        }
        iotlbUpdate(asid, iova, memory.byteSize(), memory.address(), perm);
    }

    /**
     * An IOTLB {@code UPDATE} of {@code size} bytes at process address {@code uaddr}, exactly as given: for memory
     * mapped by other means and for the kernel's own argument checks.
     *
     * @param perm {@link #READ}, {@link #WRITE} or {@link #READ_WRITE}, passed unchecked
     * @throws ErrnoException EINVAL for size 0 (refused before the IOTLB handler, {@code vhost_chr_write_iter});
     *         EFAULT as {@link #iotlbUpdate(int, long, MemorySegment, int)}
     * @throws IllegalStateException after {@link #close()}
     */
    public void iotlbUpdate(int asid, long iova, long size, long uaddr, int perm) throws ErrnoException {
        iotlbMessage(vhost_h.VHOST_IOTLB_UPDATE(), asid, iova, size, uaddr, perm);
    }

    /**
     * {@inheritDoc} ({@code vhost_vdpa_unmap}: no error when nothing intersects; the device hears of it at once,
     * or with the batch's end.) On 6.12 a size of 0 is not refused: the range then ends at {@code iova - 1}.
     *
     * @throws ErrnoException EFAULT when not owner, when the address space does not exist yet (no
     *         {@code UPDATE} or {@code BATCH_BEGIN} made it), or inside another address space's batch
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void iotlbInvalidate(int asid, long iova, long size) throws ErrnoException {
        iotlbMessage(vhost_h.VHOST_IOTLB_INVALIDATE(), asid, iova, size, 0, 0);
    }

    /**
     * {@inheritDoc} Creates the address space when needed; updates and invalidations of that address space
     * until {@link #iotlbBatchEnd} reach a {@code set_map} device as one table. The kernel does not insist on
     * {@code VHOST_BACKEND_F_IOTLB_BATCH} being acked.
     *
     * @throws ErrnoException EFAULT when not owner, for {@code asid} at or above {@link #addressSpaceCount()},
     *         or inside another address space's batch
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void iotlbBatchBegin(int asid) throws ErrnoException {
        iotlbMessage(vhost_h.VHOST_IOTLB_BATCH_BEGIN(), asid, 0, 0, 0, 0);
    }

    /**
     * {@inheritDoc} Without an open batch it only ends nothing.
     *
     * @throws ErrnoException EFAULT when not owner, when the address space does not exist, or for another
     *         address space than the batch's
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void iotlbBatchEnd(int asid) throws ErrnoException {
        iotlbMessage(vhost_h.VHOST_IOTLB_BATCH_END(), asid, 0, 0, 0, 0);
    }

    private void iotlbMessage(int type, int asid, long iova, long size, long uaddr, int perm) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment m = msg;
            vhost_msg_v2.type(m, vhost_h.VHOST_IOTLB_MSG_V2());
            vhost_msg_v2.asid(m, asid);
            MemorySegment t = iotlb;
            vhost_iotlb_msg.iova(t, iova);
            vhost_iotlb_msg.size(t, size);
            vhost_iotlb_msg.uaddr(t, uaddr);
            vhost_iotlb_msg.perm(t, (byte) perm);
            vhost_iotlb_msg.type(t, (byte) type);
            long rc = Libc.write(Scratch.capture(), fd.raw(), m, IOTLB_MSG_SIZE);
            if (rc < 0) {
                throw iotlbFailure(type, (int) -rc, asid, iova, size, uaddr, perm);
            }
        }
    }

    private ErrnoException iotlbFailure(int type, int errno, int asid, long iova, long size, long uaddr, int perm) {
        String name = iotlbTypeName(type);
        StringBuilder d = new StringBuilder("asid ").append(asid);
        if (type == vhost_h.VHOST_IOTLB_UPDATE() || type == vhost_h.VHOST_IOTLB_INVALIDATE()) {
            d.append(" iova 0x").append(Long.toHexString(iova)).append(" size 0x").append(Long.toHexString(size));
        }
        if (type == vhost_h.VHOST_IOTLB_UPDATE()) {
            d.append(" uaddr 0x").append(Long.toHexString(uaddr)).append(" perm ").append(perm);
        }
        if (errno == Errno.EFAULT) {
            d.append(" (EFAULT is the kernel's answer to any refusal of the IOTLB handler)");
        }
        d.append(", a vhost_msg_v2 written to ").append(path);
        return new ErrnoException(name, errno, ErrnoException.NO_REQUEST, d.toString());
    }

    private static String iotlbTypeName(int type) {
        return switch (type) {
            case 1 -> "VHOST_IOTLB_MISS";
            case 2 -> "VHOST_IOTLB_UPDATE";
            case 3 -> "VHOST_IOTLB_INVALIDATE";
            case 4 -> "VHOST_IOTLB_ACCESS_FAIL";
            case 5 -> "VHOST_IOTLB_BATCH_BEGIN";
            case 6 -> "VHOST_IOTLB_BATCH_END";
            default -> "VHOST_IOTLB type " + type;
        };
    }

    /**
     * Writes {@code message} to the device as it is, in one write(2): a {@code struct vhost_msg} (kind 1) or
     * {@code struct vhost_msg_v2} (kind 2) built by the caller, or any bytes, for the kernel's parsing rules
     * ({@code vhost_chr_write_iter}): the first 4 bytes are the kind; v1 skips 4 bytes of padding, v2 reads the
     * ASID there (only with {@code VHOST_BACKEND_F_IOTLB_ASID} acked); then the 32-byte
     * {@code struct vhost_iotlb_msg}. So 40 bytes are a complete message, and on 6.12 a write of 40 to 71
     * bytes is accepted and answered with 72, more than was written.
     *
     * @return the byte count the kernel answered (72 for a processed message of either kind)
     * @throws ErrnoException from write(2): EINVAL for fewer than 40 bytes, an unknown kind or an {@code UPDATE}
     *         of size 0; EFAULT for any refusal of the IOTLB handler
     * @throws IllegalArgumentException if {@code message} is a heap segment
     * @throws IllegalStateException after {@link #close()}
     */
    public long writeIotlb(MemorySegment message) throws ErrnoException {
        if (!message.isNative()) {
            throw new IllegalArgumentException("IOTLB message must be native memory: " + message);
        }
        synchronized (lock) {
            ensureOpen();
            long rc = Libc.write(Scratch.capture(), fd.raw(), message, message.byteSize());
            if (rc < 0) {
                throw new ErrnoException("write(IOTLB message)", (int) -rc, ErrnoException.NO_REQUEST,
                        message.byteSize() + " bytes to " + path);
            }
            return rc;
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    /** An ioctl whose argument is a {@code size}-byte unsigned integer the kernel writes. */
    private int readWord(String name, long request, int size) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            word.set(ValueLayout.JAVA_LONG, 0, 0);
            int rc = Ioctl.raw(Scratch.capture(), fd, request, word);
            if (rc < 0) {
                throw failure(name, -rc, request, false, null);
            }
            return switch (size) {
                case 1 -> Byte.toUnsignedInt(word.get(ValueLayout.JAVA_BYTE, 0));
                case 2 -> Short.toUnsignedInt(word.get(ValueLayout.JAVA_SHORT, 0));
                default -> word.get(ValueLayout.JAVA_INT, 0);
            };
        }
    }

    private long readLong(String name, long request) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            int rc = Ioctl.raw(Scratch.capture(), fd, request, word);
            if (rc < 0) {
                throw failure(name, -rc, request, false, null);
            }
            return word.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    private void writeLong(String name, long request, long value, boolean optional) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            word.set(ValueLayout.JAVA_LONG, 0, value);
            int rc = Ioctl.raw(Scratch.capture(), fd, request, word);
            if (rc < 0) {
                throw failure(name, -rc, request, optional, "0x" + Long.toHexString(value));
            }
        }
    }

    private void noArg(String name, long request, boolean optional) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            int rc = Ioctl.raw(Scratch.capture(), fd, request, 0L);
            if (rc < 0) {
                throw failure(name, -rc, request, optional, null);
            }
        }
    }

    /**
     * A {@code struct vhost_vring_state} ioctl: {@code {index, num}} in, {@code num} out.
     *
     * @param numWord how the second field is named in an error (" num ", " asid "), or {@code null} when the
     *                kernel only writes it
     */
    private int vringState(String name, long request, int index, int num, String numWord, boolean optional)
            throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment s = state;
            vhost_vring_state.index(s, index);
            vhost_vring_state.num(s, num);
            int rc = Ioctl.raw(Scratch.capture(), fd, request, s);
            if (rc < 0) {
                String what = request == vhost_h.VHOST_VDPA_SET_GROUP_ASID() ? "group " : "vq ";
                throw failure(name, -rc, request, optional,
                        what + Integer.toUnsignedString(index) + (numWord != null ? numWord + Integer.toUnsignedString(num) : ""));
            }
            return vhost_vring_state.num(s);
        }
    }

    private void vringFile(String name, long request, int index, int eventFd) throws ErrnoException {
        synchronized (lock) {
            ensureOpen();
            MemorySegment f = file;
            vhost_vring_file.index(f, index);
            vhost_vring_file.fd(f, eventFd);
            int rc = Ioctl.raw(Scratch.capture(), fd, request, f);
            if (rc < 0) {
                throw failure(name, -rc, request, false, "vq " + Integer.toUnsignedString(index) + " fd " + eventFd);
            }
        }
    }

    /**
     * The exception for a failed ioctl: {@link NotSupportedException} for ENOTTY, and for EOPNOTSUPP where
     * {@code optional} says the ioctl answers so for a device operation it lacks; else a plain one.
     */
    private ErrnoException failure(String name, int errno, long request, boolean optional, String detail) {
        String on = (detail == null ? "" : detail + " ") + "on " + path;
        if (errno == Errno.ENOTTY) {
            return new NotSupportedException(name, errno, request, on);
        }
        if (optional && errno == Errno.EOPNOTSUPP) {
            return new NotSupportedException(name, errno, request, "the device lacks the operation, " + on);
        }
        return new ErrnoException(name, errno, request, on);
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Resets the device ({@code VHOST_VDPA_SET_STATUS} 0) and closes the descriptor; idempotent. The release
     * ({@code vhost_vdpa_release}) resets again, stops the queues, drops the eventfds and removes every address
     * space with its mappings, after which the memory the caller mapped is the caller's to unmap. A failing
     * reset is ignored: the descriptor goes regardless.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (fd.isOpen()) {
                word.set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
                Ioctl.raw(Scratch.capture(), fd, vhost_h.VHOST_VDPA_SET_STATUS(), word); // the release resets anyway
            }
            fd.close();
            arena.close();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("vhost-vdpa device " + path + " is closed");
        }
    }

    @Override
    public String toString() {
        return "VhostVdpa[" + fd + "]";
    }
}
