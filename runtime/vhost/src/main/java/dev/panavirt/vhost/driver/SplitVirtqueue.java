package dev.panavirt.vhost.driver;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Libc;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The driver side of a split virtqueue (virtio 1.2 spec section 2.7): the descriptor table, the available
 * (driver) ring and the used (device) ring in {@link IovaMemory}, with the free list of descriptors, chains of
 * device-readable then device-writable buffers, notification in both directions and the checks on what the
 * device writes.
 *
 * <p><b>Memory order</b> (virtio 1.2 spec sections 2.7.13 and 2.7.13.3): descriptors, then the available ring
 * entry, then, with release semantics, the available index; a full fence before the driver reads the device's
 * notification suppression ({@code avail_event} or the used ring's {@code NO_NOTIFY} flag) in {@link #kick};
 * the used index is read with acquire semantics before the used entries it covers.
 *
 * <p><b>Notifications</b>: with {@code VIRTIO_F_EVENT_IDX} negotiated, {@link #kick} signals the kick eventfd
 * only when the available index moved past the device's {@code avail_event} since the previous kick (the
 * spec's {@code vring_need_event} test, {@link #needEvent}), and the driver keeps {@code used_event} at the next
 * used index it waits for; otherwise the device's {@code VRING_USED_F_NO_NOTIFY} flag decides and the driver
 * asks for every interrupt (its {@code VRING_AVAIL_F_NO_INTERRUPT} flag clear) unless told otherwise.
 *
 * <p><b>Indirect descriptors</b> ({@code VIRTIO_F_INDIRECT_DESC}, spec section 2.7.5.3): when negotiated and a
 * chain asks for it, the chain's descriptors go to a table of its own (one preallocated per head) and take one
 * ring descriptor.
 *
 * <p><b>Checks</b>: the driver keeps its own copy of every chain (head, length, writable bytes) and never follows
 * a link the device could have changed. A used entry whose id is out of range or not the head of a chain in
 * flight, a used length beyond the chain's writable bytes, or a used index that ran ahead of what was made
 * available throws {@link VirtqueueException}.
 *
 * <p><b>Allocation</b>: none on the steady path. {@link #chain()} hands back the same builder each time; adding,
 * kicking, polling and awaiting work on preallocated arrays and the eventfds' per-thread scratch memory. A
 * virtqueue is used by one thread at a time.
 */
public final class SplitVirtqueue implements AutoCloseable {
    /** Feature bit {@code VIRTIO_F_INDIRECT_DESC} (28). */
    public static final int F_INDIRECT_DESC = 28;
    /** Feature bit {@code VIRTIO_F_EVENT_IDX} (29). */
    public static final int F_EVENT_IDX = 29;
    /** Descriptor flags {@code VRING_DESC_F_NEXT}, {@code _WRITE}, {@code _INDIRECT}. */
    public static final int DESC_F_NEXT = 1, DESC_F_WRITE = 2, DESC_F_INDIRECT = 4;
    /** {@code VRING_AVAIL_F_NO_INTERRUPT} and {@code VRING_USED_F_NO_NOTIFY}. */
    public static final int AVAIL_F_NO_INTERRUPT = 1, USED_F_NO_NOTIFY = 1;
    /** Bytes of one descriptor. */
    public static final int DESC_SIZE = 16;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_HANDLE = U16.varHandle();

    private final IovaMemory memory;
    private final int index;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final boolean indirect;
    private final int indirectMax;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final MemorySegment indirectTables;
    private final EventFd kick;
    private final EventFd call;

    // The free list and the chains in flight, kept by the driver alone (the device cannot change them).
    private final int[] freeNext;
    private final int[] chainDescs;
    private final long[] chainWritable;
    private final boolean[] chainIndirect;
    private int freeHead;
    private int numFree;

    private int availIdx;
    private int kickedIdx;
    private int lastUsedIdx;
    private int lastUsedLength;
    private boolean interruptsWanted = true;
    private long notifications;
    private long suppressedNotifications;
    private Notifier notifier;

    private final Chain chain;

    /**
     * Allocates the rings (and, when indirect descriptors are negotiated, one table of {@code indirectMax}
     * descriptors per head) in {@code memory} and two non-blocking eventfds, kick and call. Nothing is told to a
     * device until {@link #attach}.
     *
     * @param index       the virtqueue's index on its device
     * @param size        the queue size, a power of two from 1 to 32768
     * @param features    the negotiated features: {@link #F_EVENT_IDX} and {@link #F_INDIRECT_DESC} are used
     * @param indirectMax descriptors in one indirect table (ignored without {@link #F_INDIRECT_DESC})
     */
    public SplitVirtqueue(IovaMemory memory, int index, int size, long features, int indirectMax)
            throws ErrnoException {
        if (size < 1 || size > 32768 || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue size must be a power of two from 1 to 32768: " + size);
        }
        this.memory = memory;
        this.index = index;
        this.size = size;
        this.mask = size - 1;
        this.eventIdx = (features & (1L << F_EVENT_IDX)) != 0;
        this.indirect = (features & (1L << F_INDIRECT_DESC)) != 0 && indirectMax > 1;
        this.indirectMax = indirect ? indirectMax : 0;
        // virtio 1.2 spec section 2.7: descriptor table 16-byte aligned, available ring 2, used ring 4.
        this.desc = memory.allocate((long) DESC_SIZE * size, 16);
        this.avail = memory.allocate(6 + 2L * size, 2);
        this.used = memory.allocate(6 + 8L * size, 4);
        this.indirectTables = indirect ? memory.allocate((long) DESC_SIZE * size * indirectMax, 16) : null;
        this.freeNext = new int[size];
        this.chainDescs = new int[size];
        this.chainWritable = new long[size];
        this.chainIndirect = new boolean[size];
        for (int i = 0; i < size; i++) {
            freeNext[i] = i + 1;
        }
        this.freeHead = 0;
        this.numFree = size;
        this.chain = new Chain(Math.max(size, this.indirectMax));
        EventFd k = EventFd.create(Libc.EFD_NONBLOCK);
        try {
            this.call = EventFd.create(Libc.EFD_NONBLOCK);
        } catch (ErrnoException | RuntimeException e) {
            k.close();
            throw e;
        }
        this.kick = k;
    }

    /**
     * Bytes of {@link IovaMemory} a queue of {@code size} takes, alignment included, with indirect tables of
     * {@code indirectMax} descriptors (0: none).
     */
    public static long memoryBytes(int size, int indirectMax) {
        return 16L * size + (6 + 2L * size + 1) + (6 + 8L * size + 3) + 16 + 16L * size * indirectMax;
    }

    /**
     * Programs the virtqueue into {@code device} the way a vhost-vdpa user does (QEMU's hw/virtio/vhost-vdpa.c):
     * {@code SET_VRING_NUM}, {@code SET_VRING_ADDR}, {@code SET_VRING_BASE} (0), {@code SET_VRING_KICK},
     * {@code SET_VRING_CALL}. The device must have an owner; enabling is {@link VdpaDevice#setVringEnable}.
     */
    public void attach(VdpaDevice device) throws ErrnoException {
        device.setVringNum(index, size);
        device.setVringAddr(index, descIova(), availIova(), usedIova());
        device.setVringBase(index, availIdx);
        device.setVringKick(index, kick);
        device.setVringCall(index, call);
    }

    /** The index of this virtqueue on its device. */
    public int index() {
        return index;
    }

    /** The queue size. */
    public int size() {
        return size;
    }

    /** Whether {@code VIRTIO_F_EVENT_IDX} is in use. */
    public boolean eventIdx() {
        return eventIdx;
    }

    /** Whether {@code VIRTIO_F_INDIRECT_DESC} is in use. */
    public boolean indirect() {
        return indirect;
    }

    /** Descriptors one indirect table holds (0 without indirect descriptors). */
    public int indirectMax() {
        return indirectMax;
    }

    /** IOVA of the descriptor table. */
    public long descIova() {
        return memory.iova(desc);
    }

    /** IOVA of the available (driver) ring. */
    public long availIova() {
        return memory.iova(avail);
    }

    /** IOVA of the used (device) ring. */
    public long usedIova() {
        return memory.iova(used);
    }

    /** The memory the rings and indirect tables live in. */
    public IovaMemory memory() {
        return memory;
    }

    /** The eventfd {@link #kick} signals (the device's kick). */
    public EventFd kickFd() {
        return kick;
    }

    /** The eventfd the device signals after using buffers (its call). */
    public EventFd callFd() {
        return call;
    }

    /** Free descriptors in the ring. */
    public int numFree() {
        return numFree;
    }

    /** Chains made available and not yet returned by the device. */
    public int inFlight() {
        return (availIdx - lastUsedIdx) & 0xffff;
    }

    /** The driver's available index (16 bits, wrapping). */
    public int availIndex() {
        return availIdx;
    }

    /** The next used index the driver will read (16 bits, wrapping). */
    public int lastUsedIndex() {
        return lastUsedIdx;
    }

    /** Kicks signalled so far. */
    public long notifications() {
        return notifications;
    }

    /** Kicks the device's notification suppression made unnecessary. */
    public long suppressedNotifications() {
        return suppressedNotifications;
    }

    /**
     * Starts at a given ring position instead of 0, as after {@code SET_VRING_BASE}: for tests of 16-bit
     * wraparound and for a driver resuming a queue. Only while nothing is in flight and before {@link #attach}.
     */
    public void startAt(int index) {
        if (inFlight() != 0) {
            throw new IllegalStateException("chains in flight: " + inFlight());
        }
        availIdx = kickedIdx = lastUsedIdx = index & 0xffff;
        avail.set(U16, 2, (short) availIdx);
        used.set(U16, 2, (short) availIdx);
        if (eventIdx) {
            avail.set(U16, 4 + 2L * size, (short) lastUsedIdx);
        }
    }

    /**
     * The chain builder, emptied: add the device-readable buffers ({@link Chain#out}) then the device-writable
     * ones ({@link Chain#in}), then {@link Chain#add}. The same object each time.
     */
    public Chain chain() {
        chain.reset();
        return chain;
    }

    /** Adds a chain of whole segments (readable {@code out}, then writable {@code in}); -1 if there is no room. */
    public int add(MemorySegment[] out, MemorySegment[] in) {
        Chain c = chain();
        for (MemorySegment s : out) {
            c.out(s);
        }
        for (MemorySegment s : in) {
            c.in(s);
        }
        return c.add();
    }

    /**
     * Where {@link #kick} sends its notifications instead of the kick eventfd, or {@code null} (the default) for
     * the eventfd. For a device served in the same process on the driver's thread (the vDPA model's
     * {@code VdpaSim.kick}, whose adapter then never sees the eventfd, so its worker thread stays idle) or for a
     * caller that batches notifications itself. Suppression by the device is applied first, as for the eventfd.
     */
    public void notifyDirectly(Notifier notifier) {
        this.notifier = notifier;
    }

    /** A notification sent by a direct call rather than an eventfd write ({@link #notifyDirectly}). */
    @FunctionalInterface
    public interface Notifier {
        /** The driver made buffers available on virtqueue {@code index}. */
        void notify(int index) throws ErrnoException;
    }

    /**
     * Signals the device that buffers were made available since the previous kick, unless its notification
     * suppression says it does not need it.
     *
     * @return whether the device was notified (the kick eventfd signalled, or the {@link #notifyDirectly}
     *         notifier called)
     */
    public boolean kick() throws ErrnoException {
        // The new available index must be visible before the device's suppression is read (spec 2.7.13.3.1).
        VarHandle.fullFence();
        int newIdx = availIdx;
        int oldIdx = kickedIdx;
        kickedIdx = newIdx;
        if (newIdx == oldIdx) {
            return false;
        }
        boolean need = eventIdx
                ? needEvent(Short.toUnsignedInt(used.get(U16, 4 + 8L * size)), newIdx, oldIdx)
                : (Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 0L)) & USED_F_NO_NOTIFY) == 0;
        if (need) {
            Notifier n = notifier;
            if (n != null) {
                n.notify(index);
            } else {
                kick.signal(1);
            }
            notifications++;
        } else {
            suppressedNotifications++;
        }
        return need;
    }

    /**
     * Whether moving an index from {@code oldIdx} to {@code newIdx} passes {@code eventIdx}: the event index rule
     * of virtio 1.2 spec section 2.7.10 ({@code vring_need_event} in include/uapi/linux/virtio_ring.h), in
     * 16-bit arithmetic.
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    /**
     * Asks for (or suppresses) interrupts: without event index the available ring's {@code NO_INTERRUPT} flag;
     * with it, {@code used_event} is kept at the next used index while wanted and left behind while not.
     */
    public void interrupts(boolean wanted) {
        interruptsWanted = wanted;
        if (eventIdx) {
            if (wanted) {
                avail.set(U16, 4 + 2L * size, (short) lastUsedIdx);
            }
        } else {
            avail.set(U16, 0, (short) (wanted ? 0 : AVAIL_F_NO_INTERRUPT));
        }
        VarHandle.fullFence();
    }

    /**
     * Takes the next used entry, if the device returned one: its chain's descriptors go back to the free list.
     *
     * @return the chain's head id, or -1 when the device has used nothing new; the length the device wrote is
     *         {@link #usedLength()}
     * @throws VirtqueueException when the device wrote an impossible used index, id or length
     */
    public int poll() {
        int usedIdx = Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 2L));
        if (usedIdx == lastUsedIdx) {
            return -1;
        }
        int pending = (usedIdx - lastUsedIdx) & 0xffff;
        if (pending > inFlight()) {
            throw new VirtqueueException("virtqueue " + index + ": the device's used index " + usedIdx
                    + " is " + pending + " past the driver's " + lastUsedIdx + ", but only " + inFlight()
                    + " chains are in flight");
        }
        long entry = 4 + 8L * (lastUsedIdx & mask);
        long id = Integer.toUnsignedLong(used.get(U32, entry));
        long len = Integer.toUnsignedLong(used.get(U32, entry + 4));
        if (id >= size || chainDescs[(int) id] == 0) {
            throw new VirtqueueException("virtqueue " + index + ": used entry " + lastUsedIdx + " names descriptor "
                    + id + (id >= size ? ", beyond the queue size " + size : ", which is not the head of a chain"
                    + " in flight"));
        }
        int head = (int) id;
        if (len > chainWritable[head]) {
            throw new VirtqueueException("virtqueue " + index + ": used entry " + lastUsedIdx + " (head " + head
                    + ") claims " + len + " bytes written, but the chain offers " + chainWritable[head]
                    + " writable bytes");
        }
        lastUsedIdx = (lastUsedIdx + 1) & 0xffff;
        lastUsedLength = (int) len;
        release(head);
        if (eventIdx && interruptsWanted) {
            // Ask for an interrupt when the device uses the next entry (spec 2.7.10).
            avail.set(U16, 4 + 2L * size, (short) lastUsedIdx);
        }
        return head;
    }

    /** The length the device wrote into the chain {@link #poll} (or {@link #await}) returned last. */
    public int usedLength() {
        return lastUsedLength;
    }

    /**
     * {@link #poll}, waiting on the call eventfd up to {@code timeoutMillis} for the device to use something.
     *
     * @return the head id, or -1 when the time ran out
     */
    public int await(int timeoutMillis) throws ErrnoException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            int head = poll();
            if (head >= 0) {
                return head;
            }
            // used_event (or the flags) were written after the last used index was read: read it again after a
            // full fence, so an entry the device added meanwhile is not left waiting for an interrupt it skipped.
            VarHandle.fullFence();
            head = poll();
            if (head >= 0) {
                return head;
            }
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return -1;
            }
            call.await((int) Math.min(left, Integer.MAX_VALUE));
        }
    }

    private void release(int head) {
        int n = chainIndirect[head] ? 1 : chainDescs[head];
        int tail = head;
        for (int i = 1; i < n; i++) {
            tail = freeNext[tail];
        }
        freeNext[tail] = freeHead;
        freeHead = head;
        numFree += n;
        chainDescs[head] = 0;
        chainWritable[head] = 0;
        chainIndirect[head] = false;
    }

    private int publish(Chain c) {
        int n = c.count;
        if (n == 0) {
            throw new IllegalStateException("a chain needs at least one buffer");
        }
        boolean useIndirect = c.indirect && indirect && n > 1;
        if (useIndirect && n > indirectMax) {
            throw new IllegalArgumentException("chain of " + n + " buffers exceeds the indirect table size "
                    + indirectMax);
        }
        int needed = useIndirect ? 1 : n;
        if (needed > numFree) {
            if (n > size && !useIndirect) {
                throw new IllegalArgumentException("chain of " + n + " buffers exceeds the queue size " + size);
            }
            return -1;
        }
        int head = freeHead;
        if (useIndirect) {
            long tableOffset = (long) head * indirectMax * DESC_SIZE;
            for (int k = 0; k < n; k++) {
                writeDesc(indirectTables, tableOffset + (long) k * DESC_SIZE, c.addr[k], c.len[k],
                        (c.write[k] ? DESC_F_WRITE : 0) | (k < n - 1 ? DESC_F_NEXT : 0), k < n - 1 ? k + 1 : 0);
            }
            writeDesc(desc, (long) head * DESC_SIZE, memory.iova(indirectTables, tableOffset), n * DESC_SIZE,
                    DESC_F_INDIRECT, 0);
            freeHead = freeNext[head];
        } else {
            int i = head;
            for (int k = 0; k < n; k++) {
                int nextFree = freeNext[i];
                writeDesc(desc, (long) i * DESC_SIZE, c.addr[k], c.len[k],
                        (c.write[k] ? DESC_F_WRITE : 0) | (k < n - 1 ? DESC_F_NEXT : 0), k < n - 1 ? nextFree : 0);
                i = nextFree;
            }
            freeHead = i;
        }
        numFree -= needed;
        chainDescs[head] = n;
        chainWritable[head] = c.writable;
        chainIndirect[head] = useIndirect;
        // The ring entry, then (release) the index that exposes it (spec 2.7.13.1 and 2.7.13.2).
        avail.set(U16, 4 + 2L * (availIdx & mask), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        U16_HANDLE.setRelease(avail, 2L, (short) availIdx);
        return head;
    }

    private static void writeDesc(MemorySegment table, long offset, long addr, int len, int flags, int next) {
        table.set(U64, offset, addr);
        table.set(U32, offset + 8, len);
        table.set(U16, offset + 12, (short) flags);
        table.set(U16, offset + 14, (short) next);
    }

    /** Closes the kick and call eventfds (unbind them from the device first, or reset it). */
    @Override
    public void close() {
        kick.close();
        call.close();
    }

    /**
     * A chain under construction: device-readable buffers first, then device-writable ones (virtio 1.2 spec
     * section 2.7.4.2). Buffers are named by a segment inside the virtqueue's {@link IovaMemory} and an offset
     * and length within it, so no slice needs making per buffer.
     */
    public final class Chain {
        private final long[] addr;
        private final int[] len;
        private final boolean[] write;
        private int count;
        private long writable;
        private boolean indirect;

        private Chain(int capacity) {
            addr = new long[capacity];
            len = new int[capacity];
            write = new boolean[capacity];
        }

        private void reset() {
            count = 0;
            writable = 0;
            indirect = false;
        }

        /** A device-readable buffer: {@code length} bytes at {@code offset} of {@code segment}. */
        public Chain out(MemorySegment segment, long offset, long length) {
            if (count > 0 && write[count - 1]) {
                throw new IllegalStateException("device-readable buffers must come before device-writable ones");
            }
            return put(segment, offset, length, false);
        }

        /** A whole segment, device-readable. */
        public Chain out(MemorySegment segment) {
            return out(segment, 0, segment.byteSize());
        }

        /** A device-writable buffer: {@code length} bytes at {@code offset} of {@code segment}. */
        public Chain in(MemorySegment segment, long offset, long length) {
            return put(segment, offset, length, true);
        }

        /** A whole segment, device-writable. */
        public Chain in(MemorySegment segment) {
            return in(segment, 0, segment.byteSize());
        }

        /** Puts the chain in an indirect table if the device negotiated indirect descriptors. */
        public Chain indirect() {
            indirect = true;
            return this;
        }

        /**
         * Makes the chain available to the device (not yet kicked).
         *
         * @return its head id, or -1 when the ring has too few free descriptors (poll used ones first)
         */
        public int add() {
            return publish(this);
        }

        private Chain put(MemorySegment segment, long offset, long length, boolean w) {
            if (length <= 0 || length > 0xffffffffL || offset < 0 || offset + length > segment.byteSize()) {
                throw new IllegalArgumentException("buffer of " + length + " bytes at " + offset + " of a "
                        + segment.byteSize() + "-byte segment");
            }
            if (count == addr.length) {
                throw new IllegalArgumentException("chain longer than " + addr.length + " buffers");
            }
            long iova = memory.iova(segment, offset);
            if (!memory.contains(iova, length)) {
                throw new IllegalArgumentException("buffer beyond the IOVA memory");
            }
            addr[count] = iova;
            len[count] = (int) length;
            write[count] = w;
            if (w) {
                writable += length;
            }
            count++;
            return this;
        }
    }
}
