package dev.panavirt.vhost.driver;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The device side of one split virtqueue, for tests: takes chains from the available ring (following indirect
 * tables), puts entries on the used ring, keeps {@code avail_event} and decides interrupts from {@code used_event}
 * or the driver's {@code NO_INTERRUPT} flag (virtio 1.2 spec sections 2.7.7 and 2.7.10). It reads memory by IOVA
 * through {@link Dma}, so it serves a driver in the same process over an unmapped {@link IovaMemory} or over the
 * segments a fake device took from its IOTLB.
 */
final class RingDevice {
    /** IOVA to memory, as the device's IOTLB translates. */
    interface Dma {
        /** The bytes at {@code [iova, iova + length)}; throws when they are not mapped. */
        MemorySegment slice(long iova, long length);
    }

    /** One buffer of a chain. */
    record Buffer(long iova, int length, boolean writable) {
    }

    /** A chain taken from the available ring. */
    record Chain(int head, List<Buffer> buffers, boolean indirect) {
        int writableBytes() {
            return buffers.stream().filter(Buffer::writable).mapToInt(Buffer::length).sum();
        }
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Dma dma;
    private final int size;
    private final boolean eventIdx;
    private final MemorySegment desc, avail, used;
    private final EventFd call;
    private int nextAvail;
    private int usedIdx;
    long interrupts;
    long suppressedInterrupts;

    RingDevice(Dma dma, int size, boolean eventIdx, long descIova, long availIova, long usedIova, EventFd call) {
        this.dma = dma;
        this.size = size;
        this.eventIdx = eventIdx;
        this.desc = dma.slice(descIova, 16L * size);
        this.avail = dma.slice(availIova, 6 + 2L * size);
        this.used = dma.slice(usedIova, 6 + 8L * size);
        this.call = call;
    }

    static RingDevice of(SplitVirtqueue vq) {
        IovaMemory m = vq.memory();
        return new RingDevice(m::slice, vq.size(), vq.eventIdx(), vq.descIova(), vq.availIova(), vq.usedIova(),
                vq.callFd());
    }

    /** Starts at a ring position, as SET_VRING_BASE does. */
    void startAt(int index) {
        nextAvail = usedIdx = index & 0xffff;
    }

    int availIdx() {
        VarHandle.acquireFence();
        return Short.toUnsignedInt(avail.get(U16, 2));
    }

    boolean hasAvail() {
        return availIdx() != nextAvail;
    }

    int nextAvail() {
        return nextAvail;
    }

    /** The next chain, or null; with event index, asks to be kicked when the driver passes the next one. */
    Chain pop() {
        if (!hasAvail()) {
            return null;
        }
        int head = Short.toUnsignedInt(avail.get(U16, 4 + 2L * (nextAvail & (size - 1))));
        nextAvail = (nextAvail + 1) & 0xffff;
        if (eventIdx) {
            used.set(U16, 4 + 8L * size, (short) nextAvail);
        }
        List<Buffer> buffers = new ArrayList<>();
        int flags = Short.toUnsignedInt(desc.get(U16, 16L * head + 12));
        if ((flags & SplitVirtqueue.DESC_F_INDIRECT) != 0) {
            long tableIova = desc.get(U64, 16L * head);
            int tableLen = desc.get(U32, 16L * head + 8);
            if ((flags & SplitVirtqueue.DESC_F_NEXT) != 0 || tableLen % 16 != 0) {
                throw new AssertionError("bad indirect head: flags " + flags + " len " + tableLen);
            }
            walk(dma.slice(tableIova, tableLen), 0, tableLen / 16, buffers);
            return new Chain(head, buffers, true);
        }
        walk(desc, head, size, buffers);
        return new Chain(head, buffers, false);
    }

    private static void walk(MemorySegment table, int first, int limit, List<Buffer> out) {
        int i = first;
        boolean seenWritable = false;
        for (int n = 0; ; n++) {
            if (n >= limit) {
                throw new AssertionError("descriptor chain loops");
            }
            long addr = table.get(U64, 16L * i);
            int len = table.get(U32, 16L * i + 8);
            int flags = Short.toUnsignedInt(table.get(U16, 16L * i + 12));
            boolean w = (flags & SplitVirtqueue.DESC_F_WRITE) != 0;
            if (seenWritable && !w) {
                throw new AssertionError("readable descriptor after a writable one");
            }
            seenWritable |= w;
            out.add(new Buffer(addr, len, w));
            if ((flags & SplitVirtqueue.DESC_F_NEXT) == 0) {
                return;
            }
            i = Short.toUnsignedInt(table.get(U16, 16L * i + 14));
        }
    }

    /** The bytes of one buffer. */
    MemorySegment bytes(Buffer b) {
        return dma.slice(b.iova(), b.length());
    }

    /** Puts {@code {id, len}} on the used ring and interrupts if the driver asked for it. */
    void push(int id, int len) throws ErrnoException {
        writeUsed(id, len);
        VarHandle.fullFence();
        int newIdx = usedIdx, oldIdx = (usedIdx - 1) & 0xffff;
        boolean need = eventIdx
                ? SplitVirtqueue.needEvent(Short.toUnsignedInt(avail.get(U16, 4 + 2L * size)), newIdx, oldIdx)
                : (avail.get(U16, 0) & SplitVirtqueue.AVAIL_F_NO_INTERRUPT) == 0;
        if (need) {
            interrupts++;
            if (call != null) {
                call.signal(1);
            }
        } else {
            suppressedInterrupts++;
        }
    }

    /** Puts an arbitrary used entry and publishes it, without interrupting: what a faulty device might write. */
    void writeUsed(int id, int len) {
        long e = 4 + 8L * (usedIdx & (size - 1));
        used.set(U32, e, id);
        used.set(U32, e + 4, len);
        usedIdx = (usedIdx + 1) & 0xffff;
        VarHandle.releaseFence();
        used.set(U16, 2, (short) usedIdx);
    }

    /** Sets the used index itself (a faulty device). */
    void setUsedIdx(int idx) {
        usedIdx = idx & 0xffff;
        VarHandle.releaseFence();
        used.set(U16, 2, (short) usedIdx);
    }

    /** The used ring's flags ({@code NO_NOTIFY}). */
    void noNotify(boolean on) {
        used.set(U16, 0, (short) (on ? SplitVirtqueue.USED_F_NO_NOTIFY : 0));
    }

    /** {@code avail_event}, where the device wants its next kick. */
    void availEvent(int idx) {
        used.set(U16, 4 + 8L * size, (short) idx);
    }

    /** The driver's {@code used_event}. */
    int usedEvent() {
        return Short.toUnsignedInt(avail.get(U16, 4 + 2L * size));
    }

    /** The driver's available ring flags. */
    int availFlags() {
        return Short.toUnsignedInt(avail.get(U16, 0));
    }
}
