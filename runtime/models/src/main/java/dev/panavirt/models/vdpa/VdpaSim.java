package dev.panavirt.models.vdpa;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vhost.vhost_h;
import dev.panavirt.bindings.virtio.virtio_h;
import dev.panavirt.models.vfio.HostMemory;
import java.util.Arrays;
import java.util.List;

/**
 * A vhost-vdpa character device over the vDPA simulator, in plain Java: the checks and errnos of
 * {@code drivers/vhost/vdpa.c} and {@code vhost.c} in front of {@code drivers/vdpa/vdpa_sim} with its net
 * ({@code vdpa_sim_net}: RX/TX loopback and a control queue) or block ({@code vdpa_sim_blk}: a 128 MiB RAM
 * disk, or any {@link BlkBackend} such as a file) device, as SEMANTICS.md section E describes them. Each
 * method is one ioctl (named in its {@link ErrnoException}s) or, for {@link #write}, one IOTLB message written
 * to the fd; the kernel's single-opener rule is the adapter's business, ownership is the model's.
 *
 * <p><b>Two halves, as in the kernel.</b> vhost-vdpa keeps its own copy of each virtqueue (size, addresses,
 * base) and its own IOTLB per address space; the simulator keeps the virtqueues it serves and, per address
 * space, the table it translates through (identity pass-through until the first map; with
 * {@link Options#batchMapping()} the whole vhost table is pushed to it, limited to
 * {@link Options#maxIotlbEntries()} entries, otherwise entries are passed one by one). A reset (status 0)
 * drops the simulator's state and, unless {@code IOTLB_PERSIST} was acked, puts its tables back to
 * pass-through; vhost's tables stay.
 *
 * <p><b>Datapath.</b> {@link #kick} is {@code kick_vq}: while the device runs it serves the rings at once, on
 * the caller's thread, before returning (the kernel's worker runs later; here tests are deterministic). A
 * kick while suspended is remembered and replayed by {@link #resume}. One pass serves at most
 * {@link #QUEUE_MAX} chains per queue (the kernel reschedules its worker after a few); when a pass stops
 * there, {@link #hasPendingWork()} is true and {@link #runPendingWork()} runs the next pass. Used buffers
 * are announced through the {@link Callback} given to {@link #setVringCall}, called on the kicking thread
 * while the model's lock is held. Ring and buffer addresses are IOVAs translated through the address space
 * of the queue's group, with the permissions the entries carry; the memory behind the user addresses is
 * reached only through the {@link HostMemory} given at creation.
 *
 * <p><b>Where the model is safer than the kernel</b> (each a case only a broken or hostile driver reaches):
 * a chain the device refuses after taking its head (a loop, a bad index, an unreachable descriptor) is
 * returned on the used ring with length 0 instead of being dropped, and serving that queue stops for the
 * pass; chains are bounded by the queue size (indirect descriptors and indirect tables included) and by
 * {@link Vring#MAX_SEGMENTS}; a block request whose bytes would pass the end of the disk is {@code IOERR};
 * a {@code GET_ID} whose buffer is shorter than the id is truncated before the status byte; vhost's own
 * IOTLB holds at most {@link #VHOST_TABLE_MAX} entries ({@code ENOMEM} → {@code EFAULT}).
 *
 * <p>Thread-safe: every method holds the model's lock.
 */
public final class VdpaSim {

    /** Virtio status bits. */
    public static final int ACKNOWLEDGE = virtio_h.VIRTIO_CONFIG_S_ACKNOWLEDGE(), DRIVER = virtio_h.VIRTIO_CONFIG_S_DRIVER(),
            DRIVER_OK = virtio_h.VIRTIO_CONFIG_S_DRIVER_OK(), FEATURES_OK = virtio_h.VIRTIO_CONFIG_S_FEATURES_OK(),
            NEEDS_RESET = virtio_h.VIRTIO_CONFIG_S_NEEDS_RESET(), FAILED = virtio_h.VIRTIO_CONFIG_S_FAILED();
    /** Feature bit numbers the simulators use. */
    public static final int F_ANY_LAYOUT = virtio_h.VIRTIO_F_ANY_LAYOUT(), F_VERSION_1 = virtio_h.VIRTIO_F_VERSION_1(),
            F_ACCESS_PLATFORM = virtio_h.VIRTIO_F_ACCESS_PLATFORM(), NET_F_CTRL_VQ = virtio_h.VIRTIO_NET_F_CTRL_VQ();
    /** {@code VDPASIM_FEATURES}: ANY_LAYOUT | VERSION_1 | ACCESS_PLATFORM. */
    public static final long SIM_FEATURES = 1L << F_ANY_LAYOUT | 1L << F_VERSION_1 | 1L << F_ACCESS_PLATFORM;
    /** Offered by the net simulator: base | MTU | MAC | STATUS | CTRL_VQ | CTRL_MAC_ADDR. */
    public static final long NET_FEATURES = SIM_FEATURES | 1L << virtio_h.VIRTIO_NET_F_MTU() | 1L << virtio_h.VIRTIO_NET_F_MAC()
            | 1L << virtio_h.VIRTIO_NET_F_STATUS() | 1L << NET_F_CTRL_VQ | 1L << virtio_h.VIRTIO_NET_F_CTRL_MAC_ADDR();
    /** Offered by the block simulator: base | SIZE_MAX | SEG_MAX | BLK_SIZE | FLUSH | TOPOLOGY | MQ | DISCARD | WRITE_ZEROES. */
    public static final long BLK_FEATURES = SIM_FEATURES | 1L << 1 | 1L << 2 | 1L << 6 | 1L << 9 | 1L << 10 | 1L << 12
            | 1L << 13 | 1L << 14;
    /** {@code VHOST_BACKEND_F_*} bit numbers. */
    public static final int B_MSG_V2 = vhost_h.VHOST_BACKEND_F_IOTLB_MSG_V2(), B_BATCH = vhost_h.VHOST_BACKEND_F_IOTLB_BATCH(),
            B_ASID = vhost_h.VHOST_BACKEND_F_IOTLB_ASID(), B_SUSPEND = vhost_h.VHOST_BACKEND_F_SUSPEND(),
            B_RESUME = vhost_h.VHOST_BACKEND_F_RESUME(), B_ENABLE_AFTER_DRIVER_OK = vhost_h.VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK(),
            B_DESC_ASID = vhost_h.VHOST_BACKEND_F_DESC_ASID(), B_IOTLB_PERSIST = vhost_h.VHOST_BACKEND_F_IOTLB_PERSIST();
    /**
     * What {@code VHOST_GET_BACKEND_FEATURES} answers for vdpa_sim: MSG_V2 | BATCH | ASID | SUSPEND | RESUME |
     * IOTLB_PERSIST (the simulator has {@code reset_map}) | ENABLE_AFTER_DRIVER_OK (its own); not DESC_ASID (no
     * descriptor-group op).
     */
    public static final long BACKEND_FEATURES = 1L << B_MSG_V2 | 1L << B_BATCH | 1L << B_ASID | 1L << B_SUSPEND
            | 1L << B_RESUME | 1L << B_IOTLB_PERSIST | 1L << B_ENABLE_AFTER_DRIVER_OK;
    /** IOTLB message kinds and types. */
    public static final int MSG_V1 = vhost_h.VHOST_IOTLB_MSG(), MSG_V2 = vhost_h.VHOST_IOTLB_MSG_V2(),
            IOTLB_MISS = vhost_h.VHOST_IOTLB_MISS(), IOTLB_UPDATE = vhost_h.VHOST_IOTLB_UPDATE(),
            IOTLB_INVALIDATE = vhost_h.VHOST_IOTLB_INVALIDATE(), IOTLB_ACCESS_FAIL = vhost_h.VHOST_IOTLB_ACCESS_FAIL(),
            IOTLB_BATCH_BEGIN = vhost_h.VHOST_IOTLB_BATCH_BEGIN(), IOTLB_BATCH_END = vhost_h.VHOST_IOTLB_BATCH_END();
    /** {@code sizeof(struct vhost_msg_v2)}: what a successful IOTLB write reports. */
    public static final int MSG_SIZE = 72;
    /** {@code VDPASIM_QUEUE_MAX}. */
    public static final int QUEUE_MAX = Vring.QUEUE_MAX;
    /** The model's bound on vhost's own IOTLB per address space (the kernel's is unbounded inside a batch). */
    public static final int VHOST_TABLE_MAX = 65536;
    /** Block device geometry: the capacity of vdpa_sim_blk's own disk ({@link BlkBackend#ram()}), in sectors. */
    public static final long BLK_CAPACITY = 0x40000;
    /** {@code VIRTIO_BLK_F_RO}: offered when the block device's backend is read-only. */
    public static final int BLK_F_RO = virtio_h.VIRTIO_BLK_F_RO();
    public static final int NET_CONFIG_SIZE = 24, BLK_CONFIG_SIZE = 96;

    /** The device kinds. */
    public enum Kind {
        /** {@code vdpa_sim_net}: virtio id 1, 3 queues (RX, TX, CVQ), 2 groups, 2 address spaces. */
        NET(1, 3, 2, 2, NET_FEATURES, NET_CONFIG_SIZE),
        /** {@code vdpa_sim_blk}: virtio id 2, 1 queue, 1 group, 1 address space. */
        BLK(2, 1, 1, 1, BLK_FEATURES, BLK_CONFIG_SIZE);

        final int deviceId, nvqs, ngroups, nas, configSize;
        final long features;

        Kind(int deviceId, int nvqs, int ngroups, int nas, long features, int configSize) {
            this.deviceId = deviceId;
            this.nvqs = nvqs;
            this.ngroups = ngroups;
            this.nas = nas;
            this.features = features;
            this.configSize = configSize;
        }
    }

    /**
     * Module parameters and kernel version.
     *
     * @param profile         which kernel's behaviour ({@link VdpaProfile})
     * @param batchMapping    vdpa_sim's {@code batch_mapping}: true (the default) = {@code set_map} (whole tables
     *                        pushed, no {@code GET_VRING_SIZE}), false = {@code dma_map} (entries one by one)
     * @param maxIotlbEntries vdpa_sim's {@code max_iotlb_entries} per address space (2048; 0 = unlimited)
     */
    public record Options(VdpaProfile profile, boolean batchMapping, int maxIotlbEntries) {
        /** Latest kernel, batch_mapping 1, 2048 entries. */
        public static Options defaults() {
            return new Options(VdpaProfile.LATEST, true, 2048);
        }

        public Options withProfile(VdpaProfile p) {
            return new Options(p, batchMapping, maxIotlbEntries);
        }

        public Options withBatchMapping(boolean b) {
            return new Options(profile, b, maxIotlbEntries);
        }

        public Options withMaxIotlbEntries(int n) {
            return new Options(profile, batchMapping, n);
        }
    }

    /** A plain-Java stand-in for a call eventfd: the device used buffers of queue {@code vq}. */
    @FunctionalInterface
    public interface Callback {
        void call(int vq);
    }

    /** An IOTLB entry: IOVAs {@code [start, last]} at user address {@code uaddr} with {@code perm}. */
    public record Mapping(long start, long last, long uaddr, int perm) {
    }

    final Kind kind;
    /** The features offered: the kind's, plus {@link #BLK_F_RO} for a read-only block backend. */
    private final long offered;
    final Options options;
    final VdpaProfile profile;
    final DeviceMemory dma;
    final Vring[] vqs;
    final byte[] config;
    private final HostMemory host;
    private final Iotlb[] vhostTables;              // null until created by an UPDATE or BATCH_BEGIN
    private final Iotlb[] deviceTables;
    private final NetSim net;
    private final BlkSim blk;

    // vhost-vdpa's side.
    private boolean owner;
    private boolean suspended;
    private long backendAcked;
    private long ackedFeatures;
    private boolean inBatch;
    private int batchAsid;
    private final int[] vhostNum;
    private final long[][] vhostAddr;                // {desc, avail, used, log} per vq
    private final int[] vhostLastAvail;

    // The simulator's side.
    int status;
    boolean running;
    long features;
    private boolean pendingKick;
    boolean pendingWork;
    private int generation;
    /** Chains the device refused (bad descriptors, unreachable memory). */
    long deviceErrors;

    private VdpaSim(Kind kind, Options options, HostMemory host, byte[] mac, int mtu, BlkBackend disk) {
        this.kind = kind;
        this.offered = disk != null && disk.readOnly() ? kind.features | 1L << BLK_F_RO : kind.features;
        this.options = options;
        this.profile = options.profile();
        this.host = host;
        this.vhostTables = new Iotlb[kind.nas];
        this.deviceTables = new Iotlb[kind.nas];
        for (int i = 0; i < kind.nas; i++) {
            deviceTables[i] = new Iotlb();
            deviceTables[i].passThrough();
        }
        this.dma = new DeviceMemory(host, deviceTables);
        this.vqs = new Vring[kind.nvqs];
        for (int i = 0; i < kind.nvqs; i++) {
            vqs[i] = new Vring(i);
            vqs[i].reset();
        }
        this.vhostNum = new int[kind.nvqs];
        this.vhostAddr = new long[kind.nvqs][4];
        this.vhostLastAvail = new int[kind.nvqs];
        this.config = new byte[kind.configSize];
        if (kind == Kind.NET) {
            System.arraycopy(mac, 0, config, 0, 6);
            Le.put16(config, 10, mtu);
            this.net = new NetSim(this);
            this.blk = null;
        } else {
            this.net = null;
            this.blk = new BlkSim(this, disk);
        }
    }

    /**
     * A net simulator as {@code vdpa dev add ... mac M} creates it (MTU 1500).
     *
     * @param mac 6 bytes
     */
    public static VdpaSim net(byte[] mac, Options options, HostMemory memory) {
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC has 6 bytes");
        }
        return new VdpaSim(Kind.NET, options, memory, mac, 1500, null);
    }

    /** A block simulator with its own zero-filled 128 MiB disk (allocated as it is written). */
    public static VdpaSim blk(Options options, HostMemory memory) {
        return blk(options, memory, BlkBackend.ram());
    }

    /**
     * A block simulator whose sectors live in {@code disk}: capacity, read-only flag ({@link #BLK_F_RO} offered,
     * writes IOERR), {@code GET_ID} and flushes come from it; everything else is vdpa_sim_blk's. The caller
     * closes {@code disk} after the device.
     */
    public static VdpaSim blk(Options options, HostMemory memory, BlkBackend disk) {
        if (disk.capacity() <= 0 || disk.capacity() > Long.MAX_VALUE >>> 9) {   // byte offsets must fit a long
            throw new IllegalArgumentException("a disk of " + disk.capacity() + " sectors");
        }
        return new VdpaSim(Kind.BLK, options, memory, null, 0, disk);
    }

    // ---------------------------------------------------------------------------------------------
    // Device-level ioctls (no ownership needed).

    public Kind kind() {
        return kind;
    }

    public Options options() {
        return options;
    }

    /** {@code VHOST_VDPA_GET_DEVICE_ID}. */
    public synchronized int deviceId() {
        return kind.deviceId;
    }

    /** {@code VHOST_VDPA_GET_STATUS}. */
    public synchronized int status() {
        return status;
    }

    /** {@code VHOST_VDPA_SET_STATUS}: the low 8 bits of {@code value}; 0 resets; bits may only be added. */
    public synchronized void setStatus(int value) throws ErrnoException {
        int s = value & 0xff;
        if (s != 0 && (status & ~s) != 0) {
            throw fail("VHOST_VDPA_SET_STATUS", Errno.EINVAL, "0x" + Integer.toHexString(s) + " clears bits of 0x"
                    + Integer.toHexString(status));
        }
        if (s == 0) {
            reset((backendAcked & 1L << B_IOTLB_PERSIST) == 0);
        } else {
            status = s;
            running = (s & DRIVER_OK) != 0;
        }
    }

    /** {@code VHOST_GET_FEATURES}: the offered features. */
    public synchronized long features() {
        return offered;
    }

    /** The features the device took (0 after a reset). */
    public synchronized long driverFeatures() {
        return features;
    }

    /** {@code VHOST_SET_FEATURES}: EBUSY after FEATURES_OK; EINVAL without ACCESS_PLATFORM; stores requested & offered. */
    public synchronized void setFeatures(long requested) throws ErrnoException {
        if ((status & FEATURES_OK) != 0) {
            throw fail("VHOST_SET_FEATURES", Errno.EBUSY, "FEATURES_OK is set");
        }
        if ((requested & 1L << F_ACCESS_PLATFORM) == 0) {
            throw fail("VHOST_SET_FEATURES", Errno.EINVAL, "0x" + Long.toHexString(requested)
                    + " lacks VIRTIO_F_ACCESS_PLATFORM");
        }
        features = requested & offered;
        ackedFeatures = features;
    }

    /** {@code VHOST_GET_BACKEND_FEATURES}. */
    public synchronized long backendFeatures() {
        return BACKEND_FEATURES;
    }

    /** The backend features acked with {@link #setBackendFeatures}. */
    public synchronized long ackedBackendFeatures() {
        return backendAcked;
    }

    /** {@code VHOST_SET_BACKEND_FEATURES}: bits outside 1..8 or DESC_ASID EOPNOTSUPP; DESC_ASID without ASID EINVAL. */
    public synchronized void setBackendFeatures(long f) throws ErrnoException {
        if ((f & ~0x1FEL) != 0) {
            throw fail("VHOST_SET_BACKEND_FEATURES", Errno.EOPNOTSUPP, "0x" + Long.toHexString(f));
        }
        if ((f & 1L << B_DESC_ASID) != 0) {
            if ((f & 1L << B_ASID) == 0) {
                throw fail("VHOST_SET_BACKEND_FEATURES", Errno.EINVAL, "DESC_ASID without IOTLB_ASID");
            }
            throw fail("VHOST_SET_BACKEND_FEATURES", Errno.EOPNOTSUPP, "DESC_ASID: no descriptor groups");
        }
        backendAcked = f;
    }

    /** {@code VHOST_VDPA_GET_CONFIG_SIZE}. */
    public synchronized int configSize() {
        return kind.configSize;
    }

    /** {@code VHOST_VDPA_GET_CONFIG}: {@code len} bytes at {@code offset} into {@code dst[0..len)}. */
    public synchronized void getConfig(int offset, byte[] dst, int len) throws ErrnoException {
        checkConfig("VHOST_VDPA_GET_CONFIG", offset, len);
        refreshConfig();
        System.arraycopy(config, offset, dst, 0, len);
    }

    /** {@code VHOST_VDPA_SET_CONFIG}: net bytes persist (e.g. the MAC); the block config is regenerated on read. */
    public synchronized void setConfig(int offset, byte[] src, int len) throws ErrnoException {
        checkConfig("VHOST_VDPA_SET_CONFIG", offset, len);
        System.arraycopy(src, 0, config, offset, len);
    }

    /** {@code VHOST_VDPA_GET_VRING_NUM}. */
    public synchronized int vringNumMax() {
        return QUEUE_MAX;
    }

    /** {@code VHOST_VDPA_GET_VQS_COUNT}. */
    public synchronized int vqsCount() {
        return kind.nvqs;
    }

    /** {@code VHOST_VDPA_GET_GROUP_NUM}. */
    public synchronized int groupCount() {
        return kind.ngroups;
    }

    /** {@code VHOST_VDPA_GET_AS_NUM}. */
    public synchronized int addressSpaceCount() {
        return kind.nas;
    }

    /** {@code VHOST_VDPA_GET_IOVA_RANGE}: first IOVA (0). */
    public long iovaFirst() {
        return 0;
    }

    /** {@code VHOST_VDPA_GET_IOVA_RANGE}: last IOVA (2^64 − 1). */
    public long iovaLast() {
        return -1L;
    }

    /** {@code VHOST_VDPA_SUSPEND}: a no-op without DRIVER_OK. */
    public synchronized void suspend() {
        if ((status & DRIVER_OK) == 0) {
            return;
        }
        running = false;
        suspended = true;
    }

    /** {@code VHOST_VDPA_RESUME}: a no-op without DRIVER_OK; replays the kicks that came while suspended. */
    public synchronized void resume() {
        if ((status & DRIVER_OK) == 0) {
            return;
        }
        running = true;
        if (pendingKick) {
            for (int i = 0; i < vqs.length; i++) {
                kick(i);
            }
            pendingKick = false;
        }
        suspended = false;
    }

    /** Whether vhost-vdpa has the device marked suspended. */
    public synchronized boolean suspended() {
        return suspended;
    }

    /** The simulator's generation counter (incremented by every reset). */
    public synchronized int generation() {
        return generation;
    }

    // ---------------------------------------------------------------------------------------------
    // Ownership and per-virtqueue ioctls.

    /** {@code VHOST_SET_OWNER}: EBUSY when already owned. */
    public synchronized void setOwner() throws ErrnoException {
        if (owner) {
            throw fail("VHOST_SET_OWNER", Errno.EBUSY, "the device has an owner");
        }
        owner = true;
    }

    public synchronized boolean owned() {
        return owner;
    }

    /** {@code VHOST_SET_VRING_NUM}: a power of two up to {@link #QUEUE_MAX} (the kernel checks vq_num_max too). */
    public synchronized void setVringNum(int index, int num) throws ErrnoException {
        vring("VHOST_SET_VRING_NUM", index);
        long n = Integer.toUnsignedLong(num);
        if (n == 0 || n > 0xffff || n > QUEUE_MAX || (n & (n - 1)) != 0) {
            throw fail("VHOST_SET_VRING_NUM", Errno.EINVAL, "vq " + index + " num " + n);
        }
        vhostNum[index] = (int) n;
        vqs[index].num = (int) n;
    }

    /** {@code VHOST_SET_VRING_ADDR} with {@code flags} (bit 0 = LOG) and a log address. */
    public synchronized void setVringAddr(int index, int flags, long desc, long avail, long used, long log)
            throws ErrnoException {
        vring("VHOST_SET_VRING_ADDR", index);
        if ((flags & ~1) != 0) {
            throw fail("VHOST_SET_VRING_ADDR", Errno.EOPNOTSUPP, "flags 0x" + Integer.toHexString(flags));
        }
        if ((avail & 1) != 0 || (used & 3) != 0 || (log & 3) != 0) {
            throw fail("VHOST_SET_VRING_ADDR", Errno.EINVAL, "vq " + index + " misaligned avail 0x"
                    + Long.toHexString(avail) + " used 0x" + Long.toHexString(used) + " log 0x" + Long.toHexString(log));
        }
        vhostAddr[index][0] = desc;
        vhostAddr[index][1] = avail;
        vhostAddr[index][2] = used;
        vhostAddr[index][3] = log;
        if ((status & DRIVER_OK) != 0 && !suspended) {
            throw fail("VHOST_SET_VRING_ADDR", Errno.EINVAL, "vq " + index + ": the device is running");
        }
        Vring vq = vqs[index];
        vq.descAddr = desc;
        vq.driverAddr = avail;
        vq.deviceAddr = used;
    }

    /** {@code VHOST_SET_VRING_BASE}: the next available index (split ring). */
    public synchronized void setVringBase(int index, int base) throws ErrnoException {
        vring("VHOST_SET_VRING_BASE", index);
        long n = Integer.toUnsignedLong(base);
        if (n > 0xffff) {
            throw fail("VHOST_SET_VRING_BASE", Errno.EINVAL, "vq " + index + " base " + n);
        }
        vhostLastAvail[index] = (int) n;
        if ((status & DRIVER_OK) != 0 && !suspended) {
            throw fail("VHOST_SET_VRING_BASE", Errno.EINVAL, "vq " + index + ": the device is running");
        }
        vqs[index].lastAvail = (int) n;
    }

    /** {@code VHOST_GET_VRING_BASE}: the device's next available index. */
    public synchronized int vringBase(int index) throws ErrnoException {
        vring("VHOST_GET_VRING_BASE", index);
        vhostLastAvail[index] = vqs[index].lastAvail;
        return vhostLastAvail[index];
    }

    /** {@code VHOST_SET_VRING_KICK}: the checks; the adapter watches the eventfd and calls {@link #kick}. */
    public synchronized void setVringKick(int index) throws ErrnoException {
        vring("VHOST_SET_VRING_KICK", index);
    }

    /** {@code VHOST_SET_VRING_CALL}: {@code callback} ({@code null} unbinds) is told of used buffers; a reset drops it. */
    public synchronized void setVringCall(int index, Callback callback) throws ErrnoException {
        vring("VHOST_SET_VRING_CALL", index);
        vqs[index].callback = callback;
    }

    /** The queue size vhost-vdpa holds for queue {@code index}, as {@link #setVringNum} set it (0 before). */
    public synchronized int vringNum(int index) throws ErrnoException {
        vring("VHOST_SET_VRING_NUM", index);
        return vhostNum[index];
    }

    /**
     * The ring addresses vhost-vdpa holds for queue {@code index}, as {@link #setVringAddr} set them: descriptor
     * table, driver (avail) and device (used) areas. The kernel has no GET for them; a VMM keeps them itself.
     */
    public synchronized long[] vringAddr(int index) throws ErrnoException {
        vring("VHOST_SET_VRING_ADDR", index);
        return new long[] {vhostAddr[index][0], vhostAddr[index][1], vhostAddr[index][2]};
    }

    /** {@code VHOST_VDPA_SET_VRING_ENABLE}: allowed at any time (ENABLE_AFTER_DRIVER_OK). */
    public synchronized void setVringEnable(int index, boolean enable) throws ErrnoException {
        vring("VHOST_VDPA_SET_VRING_ENABLE", index);
        vqs[index].setReady(enable);
    }

    /** Whether the simulator has queue {@code index} ready. */
    public synchronized boolean vringReady(int index) {
        return vqs[index].ready;
    }

    /** {@code VHOST_VDPA_GET_VRING_GROUP}: net queue 2 is group 1, every other queue group 0. */
    public synchronized int vringGroup(int index) throws ErrnoException {
        vring("VHOST_VDPA_GET_VRING_GROUP", index);
        return group(index);
    }

    /** {@code VHOST_VDPA_GET_VRING_DESC_GROUP}: EOPNOTSUPP (DESC_ASID can never be acked on vdpa_sim). */
    public synchronized int vringDescGroup(int index) throws ErrnoException {
        vring("VHOST_VDPA_GET_VRING_DESC_GROUP", index);
        throw fail("VHOST_VDPA_GET_VRING_DESC_GROUP", Errno.EOPNOTSUPP, "no descriptor groups");
    }

    /** {@code VHOST_VDPA_GET_VRING_SIZE}: EOPNOTSUPP with batch_mapping; else the size with DRIVER_OK, 256 before. */
    public synchronized int vringSize(int index) throws ErrnoException {
        vring("VHOST_VDPA_GET_VRING_SIZE", index);
        if (options.batchMapping()) {
            throw fail("VHOST_VDPA_GET_VRING_SIZE", Errno.EOPNOTSUPP, "vdpa_sim's batch_mapping ops lack get_vq_size");
        }
        return (status & DRIVER_OK) != 0 ? vqs[index].num : QUEUE_MAX;
    }

    /** {@code VHOST_VDPA_SET_GROUP_ASID}: the group's queues translate through address space {@code asid}. */
    public synchronized void setGroupAsid(int group, int asid) throws ErrnoException {
        vring("VHOST_VDPA_SET_GROUP_ASID", group);
        if (group >= kind.ngroups || Integer.toUnsignedLong(asid) >= kind.nas) {
            throw fail("VHOST_VDPA_SET_GROUP_ASID", Errno.EINVAL, "group " + group + " asid "
                    + Integer.toUnsignedString(asid));
        }
        for (Vring vq : vqs) {
            if (group(vq.index) == group) {
                vq.asid = asid;
            }
        }
    }

    /** The address space queue {@code index} translates through. */
    public synchronized int vringAsid(int index) {
        return vqs[index].asid;
    }

    // ---------------------------------------------------------------------------------------------
    // IOTLB messages.

    /**
     * One {@code write(2)} of an IOTLB message ({@code vhost_msg} or {@code vhost_msg_v2}) of {@code len} bytes.
     *
     * @return the bytes consumed (72)
     * @throws ErrnoException EINVAL for a bad kind, a short buffer or an UPDATE of size 0 (and, on
     *         {@link VdpaProfile#LATEST}, an INVALIDATE of size 0); EFAULT for every refusal of the handler
     */
    public synchronized int write(byte[] buf, int len) throws ErrnoException {
        len = Math.min(len, buf.length);
        if (len < 4) {
            throw fail("write(vhost-vdpa)", Errno.EINVAL, len + " bytes");
        }
        int type = Le.get32(buf, 0);
        int asid = 0;
        if (type == MSG_V2) {
            if ((backendAcked & 1L << B_ASID) != 0) {
                if (len < 8) {
                    throw fail("write(vhost-vdpa)", Errno.EINVAL, len + " bytes");
                }
                asid = Le.get32(buf, 4);
            }
        } else if (type != MSG_V1) {
            throw fail("write(vhost-vdpa)", Errno.EINVAL, "message kind " + type);
        }
        int need = profile == VdpaProfile.V6_12 ? 40 : MSG_SIZE;
        if (len < need) {
            throw fail("write(vhost-vdpa)", Errno.EINVAL, len + " bytes, " + need + " needed");
        }
        return message(asid, buf[33] & 0xff, Le.get64(buf, 8), Le.get64(buf, 16), Le.get64(buf, 24), buf[32] & 0xff);
    }

    /**
     * An IOTLB message as a v2 write carries it: {@code asid} counts only once {@code IOTLB_ASID} was acked
     * (otherwise address space 0, as the kernel skips the field).
     *
     * @return 72
     */
    public synchronized int iotlb(int asid, int type, long iova, long size, long uaddr, int perm) throws ErrnoException {
        return message((backendAcked & 1L << B_ASID) != 0 ? asid : 0, type, iova, size, uaddr, perm);
    }

    private int message(int asid, int type, long iova, long size, long uaddr, int perm) throws ErrnoException {
        if (size == 0 && (type == IOTLB_UPDATE || type == IOTLB_INVALIDATE && profile == VdpaProfile.LATEST)) {
            throw fail("write(vhost-vdpa)", Errno.EINVAL, "IOTLB type " + type + " of size 0");
        }
        String why = handle(asid, type, iova, size, uaddr, perm);
        if (why != null) {
            throw fail("write(vhost-vdpa)", Errno.EFAULT, "IOTLB type " + type + " asid " + Integer.toUnsignedString(asid)
                    + " iova 0x" + Long.toHexString(iova) + " size 0x" + Long.toHexString(size) + ": " + why);
        }
        return MSG_SIZE;
    }

    /** {@code vhost_vdpa_process_iotlb_msg}: null on success, else why it failed (reported as EFAULT). */
    private String handle(int asid, int type, long iova, long size, long uaddr, int perm) {
        if (!owner) {
            return "EPERM: not the owner";
        }
        Iotlb t;
        boolean creates = type == IOTLB_UPDATE || type == IOTLB_BATCH_BEGIN;
        if (Integer.toUnsignedLong(asid) >= kind.nas) {
            t = null;
        } else {
            if (creates && vhostTables[asid] == null) {
                vhostTables[asid] = new Iotlb();
            }
            t = vhostTables[asid];
        }
        if (inBatch && batchAsid != asid) {
            return "EINVAL: inside a batch for asid " + batchAsid;
        }
        if (t == null) {
            return "EINVAL: no address space " + Integer.toUnsignedString(asid);
        }
        if (type == IOTLB_UPDATE) {
            long last = iova + size - 1;
            if (Long.compareUnsigned(iova, -size) > 0) {
                return "EINVAL: the range wraps";
            }
            if (t.intersects(iova, last)) {
                return "EEXIST: overlaps a mapping";
            }
            if (t.size() >= VHOST_TABLE_MAX) {
                return "ENOMEM: the model's table bound";
            }
            if (!host.backed(uaddr, size)) {
                return "EFAULT: no memory at uaddr 0x" + Long.toHexString(uaddr);
            }
            t.add(iova, last, uaddr, perm);
            String err;
            if (options.batchMapping()) {
                err = inBatch ? null : push(asid);
            } else {
                err = dmaMap(asid, iova, last, uaddr, perm);
            }
            if (err != null) {
                t.removeIntersecting(iova, last);
            }
            return err;
        } else if (type == IOTLB_INVALIDATE) {
            long last = iova + size - 1;
            int removed = t.removeIntersecting(iova, last);
            if (options.batchMapping()) {
                if (!inBatch) {
                    push(asid);
                }
            } else if (removed > 0) {
                Iotlb d = deviceTables[asid];
                if (d.isPassThrough()) {
                    d.clear();
                }
                d.removeIntersecting(iova, last);
            }
            return null;
        } else if (type == IOTLB_BATCH_BEGIN) {
            batchAsid = asid;
            inBatch = true;
            return null;
        } else if (type == IOTLB_BATCH_END) {
            if (inBatch && options.batchMapping()) {
                push(asid);
            }
            inBatch = false;
            return null;
        }
        return "EINVAL: message type " + type;
    }

    /** {@code vdpasim_set_map}: the whole vhost table; past the limit the simulator's table is left empty. */
    private String push(int asid) {
        Iotlb d = deviceTables[asid];
        Iotlb t = vhostTables[asid];
        d.clear();
        int limit = options.maxIotlbEntries();
        if (limit > 0 && t.size() > limit) {
            return "ENOSPC: more than " + limit + " entries";
        }
        d.copyOf(t);
        return null;
    }

    /** {@code vdpasim_dma_map}: the first map replaces pass-through; past the limit ENOSPC. */
    private String dmaMap(int asid, long iova, long last, long uaddr, int perm) {
        Iotlb d = deviceTables[asid];
        if (d.isPassThrough()) {
            d.clear();
        }
        int limit = options.maxIotlbEntries();
        if (limit > 0 && d.size() >= limit) {
            return "ENOSPC: more than " + limit + " entries";
        }
        d.add(iova, last, uaddr, perm);
        return null;
    }

    /** vhost-vdpa's IOTLB of address space {@code asid} (empty when it does not exist yet). */
    public synchronized List<Mapping> mappings(int asid) {
        Iotlb t = vhostTables[asid];
        return t == null ? List.of() : t.list();
    }

    /** The table the simulator translates through for {@code asid} (one entry [0, 2^64−1] while pass-through). */
    public synchronized List<Mapping> deviceMappings(int asid) {
        return deviceTables[asid].list();
    }

    /** Whether a batch is open. */
    public synchronized boolean inBatch() {
        return inBatch;
    }

    // ---------------------------------------------------------------------------------------------
    // Datapath.

    /**
     * {@code kick_vq}: serves the device's rings now if it runs; remembered if it is suspended; ignored for a
     * queue that is not ready or does not exist.
     */
    public synchronized void kick(int index) {
        if (index < 0 || index >= vqs.length) {
            return;
        }
        if (!running && (status & DRIVER_OK) != 0) {
            pendingKick = true;
            return;
        }
        if (vqs[index].ready) {
            work();
        }
    }

    /** Whether the last pass stopped at its per-queue bound with chains left. */
    public synchronized boolean hasPendingWork() {
        return pendingWork;
    }

    /** Runs one more pass if one is pending; answers whether another is pending after it. */
    public synchronized boolean runPendingWork() {
        if (pendingWork) {
            pendingWork = false;
            work();
        }
        return pendingWork;
    }

    /** Whether a kick came while suspended and waits for {@link #resume}. */
    public synchronized boolean pendingKick() {
        return pendingKick;
    }

    /** Chains the device refused since creation. */
    public synchronized long deviceErrors() {
        return deviceErrors;
    }

    /** Device accesses that failed translation, permission or the host memory. */
    public synchronized long dmaFaults() {
        return dma.faults;
    }

    /** Block requests its backend failed (answered IOERR); 0 for net. */
    public synchronized long blkIoErrors() {
        return blk == null ? 0 : blk.ioErrors;
    }

    /** Block store chunks (64 KiB) allocated so far; 0 for net. */
    public synchronized int blkChunks() {
        return blk != null && blk.store instanceof BlkStore ram ? ram.allocatedChunks() : 0;
    }

    /** Net counters: {tx packets, rx packets, drops, overruns, errors}; zeros for blk. */
    public synchronized long[] netCounters() {
        return net == null ? new long[5] : new long[] {net.txPkts, net.rxPkts, net.drops, net.overruns, net.errors};
    }

    /** Releases the device as closing the fd does: reset, no owner, every address space removed, pass-through again. */
    public synchronized void release() {
        reset(true);
        owner = false;
        inBatch = false;
        backendAcked = 0;
        ackedFeatures = 0;
        pendingKick = false;
        pendingWork = false;
        Arrays.fill(vhostTables, null);
        for (Iotlb d : deviceTables) {
            d.passThrough();
        }
        Arrays.fill(vhostNum, 0);
        Arrays.fill(vhostLastAvail, 0);
        for (long[] a : vhostAddr) {
            Arrays.fill(a, 0);
        }
    }

    private void work() {
        if (!running || (status & DRIVER_OK) == 0) {
            return;
        }
        if (net != null) {
            net.work();
        } else {
            blk.work();
        }
    }

    private void reset(boolean cleanMap) {
        suspended = false;
        for (Vring vq : vqs) {
            vq.reset();
        }
        if (cleanMap) {
            for (Iotlb d : deviceTables) {
                d.passThrough();
            }
        }
        running = false;
        features = 0;
        status = 0;
        generation++;
    }

    private int group(int index) {
        return kind == Kind.NET && index == 2 ? 1 : 0;
    }

    private void refreshConfig() {
        if (kind == Kind.NET) {
            Le.put16(config, 6, virtio_h.VIRTIO_NET_S_LINK_UP());
        } else {
            Arrays.fill(config, (byte) 0);
            Le.put64(config, 0, blk.store.capacity());
            Le.put32(config, 8, 4096);                     // size_max
            Le.put32(config, 12, 32);                      // seg_max
            Le.put32(config, 20, 512);                     // blk_size
            Le.put16(config, 26, 1);                       // min_io_size
            Le.put32(config, 28, 1);                       // opt_io_size
            Le.put16(config, 34, 1);                       // num_queues
            Le.put32(config, 36, 0xFFFF_FFFF);             // max_discard_sectors
            Le.put32(config, 40, 1);                       // max_discard_seg
            Le.put32(config, 44, 512);                     // discard_sector_alignment
            Le.put32(config, 48, 0xFFFF_FFFF);             // max_write_zeroes_sectors
            Le.put32(config, 52, 1);                       // max_write_zeroes_seg
        }
    }

    private void checkConfig(String op, int offset, int len) throws ErrnoException {
        long off = Integer.toUnsignedLong(offset);
        long n = Integer.toUnsignedLong(len);
        if (n == 0 || off > kind.configSize || n > kind.configSize - off) {
            throw fail(op, Errno.EINVAL, "offset " + off + " length " + n + " of a " + kind.configSize + "-byte config");
        }
    }

    private void vring(String op, int index) throws ErrnoException {
        if (!owner) {
            throw fail(op, Errno.EPERM, "VHOST_SET_OWNER first");
        }
        if (Integer.toUnsignedLong(index) >= kind.nvqs) {
            throw fail(op, Errno.ENOBUFS, "index " + Integer.toUnsignedString(index) + " of " + kind.nvqs + " vqs");
        }
    }

    private static ErrnoException fail(String op, int errno, String detail) {
        return new ErrnoException(op, errno, detail);
    }
}
