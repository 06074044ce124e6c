package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.Allocations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The split virtqueue's ring logic on the host, against a device side in the same process ({@link RingDevice}):
 * chains and their descriptors, the free list, 16-bit index wraparound, indirect tables, event-index and flag
 * notification decisions both ways, the checks on what the device writes, and no allocation per buffer.
 */
class SplitVirtqueueTest {
    private static final long BASE = 0x4000_0000L;
    private static final long EVENT_IDX = 1L << SplitVirtqueue.F_EVENT_IDX;
    private static final long INDIRECT = 1L << SplitVirtqueue.F_INDIRECT_DESC;

    private final Arena arena = Arena.ofShared();
    private final List<SplitVirtqueue> queues = new ArrayList<>();

    @AfterEach
    void close() {
        queues.forEach(SplitVirtqueue::close);
        arena.close();
    }

    private IovaMemory memory(long bytes) {
        return IovaMemory.unmapped(arena.allocate(bytes, 4096), BASE);
    }

    private SplitVirtqueue queue(IovaMemory mem, int size, long features, int indirectMax) throws Exception {
        SplitVirtqueue q = new SplitVirtqueue(mem, 0, size, features, indirectMax);
        queues.add(q);
        return q;
    }

    @Test
    void ringsAreAlignedAndInsideTheIovaRegion() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 256, 0, 0);
        assertEquals(0, q.descIova() % 16);
        assertEquals(0, q.availIova() % 2);
        assertEquals(0, q.usedIova() % 4);
        assertTrue(mem.contains(q.descIova(), 16 * 256));
        assertTrue(mem.contains(q.usedIova(), 6 + 8 * 256));
        assertTrue(q.availIova() >= q.descIova() + 16 * 256);
        assertThrows(IllegalArgumentException.class, () -> new SplitVirtqueue(mem, 0, 3, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SplitVirtqueue(mem, 0, 65536, 0, 0));
    }

    @Test
    void aChainReachesTheDeviceAndComesBackWithTheWrittenLength() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment hdr = mem.allocate(16, 16), data = mem.allocate(100, 8), reply = mem.allocate(64, 8);
        hdr.fill((byte) 0x11);
        data.fill((byte) 0x22);
        int head = q.chain().out(hdr).out(data, 10, 50).in(reply).add();
        assertEquals(0, head);
        assertEquals(5, q.numFree());
        assertTrue(q.kick());
        assertEquals(1, q.kickFd().read());

        RingDevice.Chain c = dev.pop();
        assertEquals(head, c.head());
        assertEquals(List.of(new RingDevice.Buffer(mem.iova(hdr), 16, false),
                new RingDevice.Buffer(mem.iova(data) + 10, 50, false),
                new RingDevice.Buffer(mem.iova(reply), 64, true)), c.buffers());
        assertEquals((byte) 0x22, dev.bytes(c.buffers().get(1)).get(ValueLayout.JAVA_BYTE, 0));
        dev.bytes(c.buffers().get(2)).fill((byte) 0x5a);
        assertEquals(-1, q.poll());
        dev.push(head, 40);
        assertEquals(head, q.await(1000));
        assertEquals(40, q.usedLength());
        assertEquals(8, q.numFree());
        assertEquals((byte) 0x5a, reply.get(ValueLayout.JAVA_BYTE, 39));
        assertEquals(-1, q.poll());
    }

    @Test
    void theFreeListRecyclesDescriptorsCompletedOutOfOrder() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 16, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(4096, 64);
        List<Integer> heads = new ArrayList<>();
        int h;
        while ((h = q.chain().out(buf, 0, 8).out(buf, 8, 8).in(buf, 16, 8).add()) >= 0) {
            heads.add(h);
        }
        assertEquals(5, heads.size(), "16 descriptors hold five 3-descriptor chains");
        assertEquals(1, q.numFree());
        assertEquals(1, q.chain().in(buf, 0, 1).add() >= 0 ? 1 : 0, "the last descriptor still takes a 1-chain");
        assertEquals(0, q.numFree());
        assertEquals(-1, q.chain().out(buf, 0, 1).add());
        // The device completes them in reverse order; every descriptor comes back.
        List<RingDevice.Chain> chains = new ArrayList<>();
        for (RingDevice.Chain c; (c = dev.pop()) != null; ) {
            chains.add(c);
        }
        assertEquals(6, chains.size());
        Set<Long> descriptorsSeen = new HashSet<>();
        for (int i = chains.size() - 1; i >= 0; i--) {
            dev.push(chains.get(i).head(), 0);
            assertEquals(chains.get(i).head(), q.poll());
        }
        assertEquals(16, q.numFree());
        assertEquals(0, q.inFlight());
        // Reuse: sixteen 1-descriptor chains use sixteen distinct heads.
        for (int i = 0; i < 16; i++) {
            int head = q.chain().out(buf, i, 1).add();
            assertTrue(descriptorsSeen.add((long) head), "head " + head + " handed out twice");
        }
        assertEquals(-1, q.chain().out(buf, 0, 1).add());
    }

    @Test
    void indexesWrapAroundSixteenBits() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 4, EVENT_IDX, 0);
        RingDevice dev = RingDevice.of(q);
        q.startAt(0xfffd);
        dev.startAt(0xfffd);
        MemorySegment buf = mem.allocate(64, 8);
        for (int i = 0; i < 40; i++) {
            int head = q.chain().out(buf, 0, 8).in(buf, 8, 8).add();
            int head2 = q.chain().in(buf, 16, 8).add();
            q.kick();
            RingDevice.Chain a = dev.pop(), b = dev.pop();
            assertEquals(head, a.head());
            assertEquals(head2, b.head());
            dev.push(b.head(), 8);
            dev.push(a.head(), 3);
            assertEquals(head2, q.poll());
            assertEquals(8, q.usedLength());
            assertEquals(head, q.poll());
            assertEquals(3, q.usedLength());
            assertEquals(4, q.numFree());
        }
        assertEquals((0xfffd + 80) & 0xffff, q.availIndex());
        assertEquals(q.availIndex(), q.lastUsedIndex());
        assertEquals(0x4d, q.availIndex());
    }

    @Test
    void indirectChainsTakeOneRingDescriptor() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, INDIRECT, 6);
        assertTrue(q.indirect());
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(4096, 64);
        int head = q.chain().out(buf, 0, 16).out(buf, 16, 100).in(buf, 200, 300).in(buf, 600, 1).indirect().add();
        assertEquals(7, q.numFree());
        RingDevice.Chain c = dev.pop();
        assertTrue(c.indirect());
        assertEquals(head, c.head());
        assertEquals(4, c.buffers().size());
        assertEquals(new RingDevice.Buffer(mem.iova(buf) + 200, 300, true), c.buffers().get(2));
        assertEquals(301, c.writableBytes());
        // A full ring of indirect chains: eight chains of four buffers in eight descriptors.
        for (int i = 1; i < 8; i++) {
            assertTrue(q.chain().out(buf, 0, 16).out(buf, 16, 16).in(buf, 32, 16).in(buf, 48, 16).indirect().add() >= 0);
        }
        assertEquals(0, q.numFree());
        for (RingDevice.Chain d; (d = dev.pop()) != null; ) {
            assertTrue(d.indirect());
            dev.push(d.head(), 32);
        }
        dev.push(c.head(), 301);
        for (int i = 0; i < 8; i++) {
            assertTrue(q.poll() >= 0);
        }
        assertEquals(8, q.numFree());
        assertThrows(IllegalArgumentException.class, () -> {
            SplitVirtqueue.Chain ch = q.chain().indirect();
            for (int i = 0; i < 7; i++) {
                ch.out(buf, i, 1);
            }
            ch.add();
        }, "more buffers than an indirect table holds");
        // One buffer, or no indirect asked: plain descriptors.
        q.chain().out(buf, 0, 1).indirect().add();
        assertFalse(dev.pop().indirect());
        q.chain().out(buf, 0, 1).in(buf, 1, 1).add();
        assertFalse(dev.pop().indirect());
    }

    @Test
    void indirectAskedButNotNegotiatedUsesPlainDescriptors() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 6);
        assertFalse(q.indirect());
        MemorySegment buf = mem.allocate(64, 8);
        q.chain().out(buf, 0, 8).in(buf, 8, 8).in(buf, 16, 8).indirect().add();
        assertEquals(5, q.numFree());
        RingDevice.Chain c = RingDevice.of(q).pop();
        assertFalse(c.indirect());
        assertEquals(3, c.buffers().size());
    }

    @Test
    void eventIndexRuleOfTheSpec() {
        // vring_need_event(event, new, old): notify when event lies in [old, new).
        assertTrue(SplitVirtqueue.needEvent(0, 1, 0));
        assertFalse(SplitVirtqueue.needEvent(1, 1, 0));
        assertTrue(SplitVirtqueue.needEvent(4, 5, 2));
        assertTrue(SplitVirtqueue.needEvent(2, 5, 2));
        assertFalse(SplitVirtqueue.needEvent(5, 5, 2));
        assertFalse(SplitVirtqueue.needEvent(1, 5, 2));
        // Across the 16-bit wrap.
        assertTrue(SplitVirtqueue.needEvent(0xffff, 2, 0xfffe));
        assertTrue(SplitVirtqueue.needEvent(0x0001, 2, 0xfffe));
        assertFalse(SplitVirtqueue.needEvent(0x0002, 2, 0xfffe));
        assertFalse(SplitVirtqueue.needEvent(0xfffd, 2, 0xfffe));
        assertFalse(SplitVirtqueue.needEvent(7, 3, 3), "nothing added, nothing to notify");
    }

    @Test
    void kicksFollowTheDevicesAvailEvent() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 16, EVENT_IDX, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        q.chain().out(buf, 0, 1).add();
        assertTrue(q.kick(), "avail_event 0: the first buffer is kicked");
        assertFalse(q.kick(), "nothing new since");
        dev.availEvent(3); // the device wants to hear when entry 3 becomes available
        q.chain().out(buf, 0, 1).add();
        assertFalse(q.kick(), "index 1 -> 2 does not pass 3");
        q.chain().out(buf, 0, 1).add();
        q.chain().out(buf, 0, 1).add();
        assertTrue(q.kick(), "2 -> 4 passes 3");
        assertEquals(2, q.kickFd().read());
        assertEquals(2, q.notifications());
        assertEquals(1, q.suppressedNotifications());
        // The device's pop sets avail_event to its next index.
        while (dev.pop() != null) {
            // drain
        }
        assertEquals(4, dev.nextAvail());
        q.chain().out(buf, 0, 1).add();
        assertTrue(q.kick());
    }

    @Test
    void withoutEventIndexTheNoNotifyFlagDecides() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 16, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        dev.noNotify(true);
        q.chain().out(buf, 0, 1).add();
        assertFalse(q.kick());
        dev.noNotify(false);
        q.chain().out(buf, 0, 1).add();
        assertTrue(q.kick());
        assertEquals(1, q.kickFd().read());
        assertEquals(0, dev.availFlags(), "the driver wants interrupts");
        q.interrupts(false);
        assertEquals(SplitVirtqueue.AVAIL_F_NO_INTERRUPT, dev.availFlags());
        dev.push(dev.pop().head(), 0);
        assertEquals(0, dev.interrupts);
        q.interrupts(true);
        dev.push(dev.pop().head(), 0);
        assertEquals(1, dev.interrupts);
    }

    @Test
    void usedEventAsksForTheNextInterruptOnly() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 16, EVENT_IDX, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        for (int i = 0; i < 4; i++) {
            q.chain().in(buf, i, 1).add();
        }
        q.kick();
        List<RingDevice.Chain> chains = new ArrayList<>();
        for (RingDevice.Chain c; (c = dev.pop()) != null; ) {
            chains.add(c);
        }
        assertEquals(0, dev.usedEvent());
        dev.push(chains.get(0).head(), 1); // used 0 -> 1 passes used_event 0: interrupt
        dev.push(chains.get(1).head(), 1); // 1 -> 2, used_event still 0: none
        assertEquals(1, dev.interrupts);
        assertEquals(1, dev.suppressedInterrupts);
        assertTrue(q.poll() >= 0);
        assertTrue(q.poll() >= 0);
        assertEquals(2, dev.usedEvent(), "the driver waits for used index 2 next");
        dev.push(chains.get(2).head(), 1);
        assertEquals(2, dev.interrupts);
        assertEquals(1, q.callFd().read() > 0 ? 1 : 0);
        assertTrue(q.await(1000) >= 0);
    }

    @Test
    void awaitTimesOutAndWakesOnTheCallEventfd() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        int head = q.chain().in(buf).add();
        q.kick();
        long t0 = System.nanoTime();
        assertEquals(-1, q.await(50));
        assertTrue(System.nanoTime() - t0 >= 40_000_000L);
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(50);
                dev.push(dev.pop().head(), 64);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertEquals(head, q.await(5000));
        assertEquals(64, q.usedLength());
        t.join();
    }

    @Test
    void usedIdOutOfRangeIsReportedNotFollowed() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        q.chain().in(buf).add();
        dev.pop();
        dev.writeUsed(8, 0);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::poll);
        assertTrue(e.getMessage().contains("names descriptor 8, beyond the queue size 8"), e.getMessage());
    }

    @Test
    void usedIdThatIsNotAHeadInFlightIsReported() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        int head = q.chain().out(buf, 0, 1).in(buf, 1, 1).add();
        dev.pop();
        dev.writeUsed(head + 1, 0); // the chain's second descriptor, not its head
        VirtqueueException e = assertThrows(VirtqueueException.class, q::poll);
        assertTrue(e.getMessage().contains("not the head of a chain in flight"), e.getMessage());
    }

    @Test
    void usedLengthBeyondTheWritableBytesIsReported() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        int head = q.chain().out(buf, 0, 32).in(buf, 32, 16).add();
        dev.pop();
        dev.writeUsed(head, 17);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::poll);
        assertTrue(e.getMessage().contains("claims 17 bytes written, but the chain offers 16"), e.getMessage());
        dev.writeUsed(head, -1); // 0xffffffff
        assertThrows(VirtqueueException.class, q::poll);
    }

    @Test
    void usedIndexRunningAheadIsReported() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 8, 0, 0);
        RingDevice dev = RingDevice.of(q);
        MemorySegment buf = mem.allocate(64, 8);
        q.chain().in(buf).add();
        dev.setUsedIdx(0x8000);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::poll);
        assertTrue(e.getMessage().contains("only 1 chains are in flight"), e.getMessage());
    }

    @Test
    void chainsAreCheckedBeforeTheyReachTheRing() throws Exception {
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue q = queue(mem, 4, 0, 0);
        MemorySegment buf = mem.allocate(64, 8);
        MemorySegment foreign = arena.allocate(64);
        assertThrows(IllegalStateException.class, () -> q.chain().in(buf, 0, 8).out(buf, 8, 8));
        assertThrows(IllegalArgumentException.class, () -> q.chain().out(foreign));
        assertThrows(IllegalArgumentException.class, () -> q.chain().out(buf, 60, 8));
        assertThrows(IllegalArgumentException.class, () -> q.chain().out(buf, 0, 0));
        assertThrows(IllegalStateException.class, () -> q.chain().add());
        assertThrows(IllegalArgumentException.class, () -> {
            SplitVirtqueue.Chain c = q.chain();
            for (int i = 0; i < 5; i++) {
                c.out(buf, i, 1);
            }
        });
        assertEquals(4, q.numFree());
        assertNotEquals(-1, q.chain().out(buf).add());
    }

    @Test
    void addKickAndPollAllocateNothing() throws Exception {
        assertTrue(Allocations.supported());
        IovaMemory mem = memory(1 << 20);
        SplitVirtqueue plain = queue(mem, 64, EVENT_IDX, 0);
        SplitVirtqueue indirect = queue(mem, 64, INDIRECT | EVENT_IDX, 4);
        RingDevice plainDev = RingDevice.of(plain), indirectDev = RingDevice.of(indirect);
        MemorySegment buf = mem.allocate(4096, 64);
        int[] sink = new int[1];
        for (SplitVirtqueue q : List.of(plain, indirect)) {
            RingDevice dev = q == plain ? plainDev : indirectDev;
            // The device side completes each chain through the raw used ring (writeUsed allocates nothing;
            // RingDevice.pop makes records, so it stays out of the measured body).
            Allocations.Body body = () -> {
                for (int i = 0; i < 16; i++) {
                    int head = q.chain().out(buf, 0, 12).out(buf, 12, 100).in(buf, 1024, 1500).indirect().add();
                    q.kick();
                    dev.writeUsed(head, 1500);
                    sink[0] += q.poll();
                }
            };
            long bytes = Allocations.fewest(body);
            assertEquals(0, bytes, (q == plain ? "plain" : "indirect") + " add/kick/poll allocated " + bytes + " bytes");
        }
    }
}
