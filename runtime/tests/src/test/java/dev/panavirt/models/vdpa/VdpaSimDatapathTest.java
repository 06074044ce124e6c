package dev.panavirt.models.vdpa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.Allocations;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** vdpa_sim's net loopback and block requests over hand-built split rings in a native segment (E.6–E.8). */
class VdpaSimDatapathTest {
    static final long IOVA = 0x10_0000;
    static final byte[] MAC = VdpaSimControlTest.MAC;
    static final int NUM = 16;
    static final long BUF = 0x10000;

    final TestRings r = new TestRings(Arena.ofAuto().allocate(1 << 20, 4096), IOVA);
    final int[] calls = new int[3];

    VdpaSim start(VdpaSim s, long features) throws Exception {
        s.setOwner();
        s.setFeatures(features);
        s.setStatus(1 | 2 | 8);
        for (int i = 0; i < s.vqsCount(); i++) {
            TestRings.Q q = q(i);
            s.setVringNum(i, NUM);
            s.setVringAddr(i, 0, q.descIova(), q.availIova(), q.usedIova(), 0);
            s.setVringEnable(i, true);
            s.setVringCall(i, vq -> calls[vq]++);
        }
        s.iotlb(0, VdpaSim.IOTLB_UPDATE, IOVA, r.mem.byteSize(), r.uaddr(), 3);
        s.setStatus(1 | 2 | 8 | 4);
        return s;
    }

    final TestRings.Q[] qs = {r.queue(0, NUM), r.queue(0x2000, NUM), r.queue(0x4000, NUM)};

    TestRings.Q q(int i) {
        return qs[i];
    }

    VdpaSim net(VdpaProfile p) throws Exception {
        return start(VdpaSim.net(MAC, VdpaSim.Options.defaults().withProfile(p), r), VdpaSim.NET_FEATURES);
    }

    VdpaSim blk(VdpaProfile p) throws Exception {
        return start(VdpaSim.blk(VdpaSim.Options.defaults().withProfile(p), r), VdpaSim.BLK_FEATURES);
    }

    static byte[] frame(byte[] dst, int payload) {
        byte[] f = new byte[12 + 6 + payload];
        System.arraycopy(dst, 0, f, 12, 6);
        for (int i = 18; i < f.length; i++) {
            f[i] = (byte) i;
        }
        return f;
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void netLoopbackCopiesTxToRx(VdpaProfile p) throws Exception {
        VdpaSim s = net(p);
        TestRings.Q rx = q(0), tx = q(1);
        rx.desc(0, IOVA + BUF, 2048, 2, 0).post(0);
        byte[] f = frame(MAC, 46);
        r.put(BUF + 0x1000, f);
        tx.desc(0, IOVA + BUF + 0x1000, f.length, 0, 0).post(0);
        s.kick(1);
        assertEquals(1, tx.usedIdx());
        assertEquals(0, tx.usedLen(0));
        assertEquals(1, rx.usedIdx());
        assertEquals(f.length, rx.usedLen(0));
        assertArrayEquals(f, r.get(BUF, f.length));
        assertEquals(1, calls[0]);
        assertEquals(1, calls[1]);
        // Filtered: another unicast MAC, and a runt, are dropped (TX len 0, RX untouched).
        byte[] other = frame(new byte[] {2, 0, 0, 0, 0, 1}, 10);
        r.put(BUF + 0x1000, other);
        tx.desc(1, IOVA + BUF + 0x1000, other.length, 0, 0).post(1);
        tx.desc(2, IOVA + BUF + 0x1000, 17, 0, 0).post(2);
        rx.desc(1, IOVA + BUF + 0x3000, 2048, 2, 0).post(1);
        s.kick(1);
        assertEquals(3, tx.usedIdx());
        assertEquals(1, rx.usedIdx());
        // Broadcast goes through, split over two TX descriptors.
        byte[] b = frame(new byte[] {-1, -1, -1, -1, -1, -1}, 100);
        r.put(BUF + 0x1000, b);
        tx.desc(3, IOVA + BUF + 0x1000, 20, 1, 4).desc(4, IOVA + BUF + 0x1000 + 20, b.length - 20, 0, 0).post(3);
        s.kick(1);
        assertEquals(2, rx.usedIdx());
        assertEquals(b.length, rx.usedLen(1));
        assertArrayEquals(b, r.get(BUF + 0x3000, b.length));
        // No RX buffer: TX completed, overrun.
        tx.desc(5, IOVA + BUF + 0x1000, b.length, 0, 0).post(5);
        s.kick(1);
        assertEquals(5, tx.usedIdx());
        assertEquals(1, s.netCounters()[3]);
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void noInterruptFlagSuppressesCalls(VdpaProfile p) throws Exception {
        VdpaSim s = net(p);
        TestRings.Q rx = q(0).availFlags(1), tx = q(1).availFlags(1);
        rx.desc(0, IOVA + BUF, 2048, 2, 0).post(0);
        r.put(BUF + 0x1000, frame(MAC, 10));
        tx.desc(0, IOVA + BUF + 0x1000, 28, 0, 0).post(0);
        s.kick(1);
        assertEquals(1, rx.usedIdx());
        assertEquals(0, calls[0] + calls[1]);
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void controlQueueSetsTheMac(VdpaProfile p) throws Exception {
        VdpaSim s = net(p);
        TestRings.Q cvq = q(2);
        r.put(BUF, new byte[] {1, 1, 2, 0, 0, 0, 0, 7});
        cvq.desc(0, IOVA + BUF, 8, 1, 1).desc(1, IOVA + BUF + 0x100, 1, 2, 0).post(0);
        s.kick(2);
        assertEquals(1, cvq.usedIdx());
        assertEquals(1, cvq.usedLen(0));
        assertEquals(0, r.get(BUF + 0x100, 1)[0]);
        byte[] cfg = new byte[6];
        s.getConfig(0, cfg, 6);
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 7}, cfg);
        // A short payload (4 bytes) answers ERR; 6.12 still overwrites the first 4 bytes.
        r.put(BUF, new byte[] {1, 1, 9, 9, 9, 9});
        cvq.desc(2, IOVA + BUF, 6, 1, 3).desc(3, IOVA + BUF + 0x100, 1, 2, 0).post(2);
        // An unknown class repeats the previous ack within the same pass.
        r.put(BUF + 0x200, new byte[] {5, 0});
        cvq.desc(4, IOVA + BUF + 0x200, 2, 1, 5).desc(5, IOVA + BUF + 0x101, 1, 2, 0).post(4);
        s.kick(2);
        assertEquals(1, r.get(BUF + 0x100, 1)[0]);
        assertEquals(1, r.get(BUF + 0x101, 1)[0]);
        s.getConfig(0, cfg, 6);
        assertArrayEquals(p == VdpaProfile.V6_12 ? new byte[] {9, 9, 9, 9, 0, 7} : new byte[] {2, 0, 0, 0, 0, 7}, cfg);
        assertEquals(3, calls[2]);
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void suspendedKicksAreReplayedOnResume(VdpaProfile p) throws Exception {
        VdpaSim s = net(p);
        TestRings.Q rx = q(0), tx = q(1);
        rx.desc(0, IOVA + BUF, 2048, 2, 0).post(0);
        r.put(BUF + 0x1000, frame(MAC, 10));
        tx.desc(0, IOVA + BUF + 0x1000, 28, 0, 0).post(0);
        s.suspend();
        s.kick(1);
        assertEquals(0, tx.usedIdx());
        assertTrue(s.pendingKick());
        assertEquals(0, s.vringBase(1), "nothing taken while suspended");
        s.resume();
        assertEquals(1, tx.usedIdx());
        assertEquals(1, rx.usedIdx());
    }

    // ---------------------------------------------------------------- block

    /** One request: header at BUF, data at BUF+0x1000 (dataLen, writable if in), status at BUF+0x100. */
    int blkRequest(VdpaSim s, int head, int type, long sector, int dataLen, boolean in) {
        TestRings.Q vq = q(0);
        byte[] h = new byte[16];
        Le.put32(h, 0, type);
        Le.put64(h, 8, sector);
        r.put(BUF + head * 0x40L, h);
        int d = head;
        if (dataLen > 0) {
            vq.desc(d, IOVA + BUF + head * 0x40L, 16, 1, d + 1);
            vq.desc(d + 1, IOVA + BUF + 0x1000, dataLen, (in ? 2 : 0) | 1, d + 2);
            vq.desc(d + 2, IOVA + BUF + 0x100 + head, 1, 2, 0);
        } else {
            vq.desc(d, IOVA + BUF + head * 0x40L, 16, 1, d + 1);
            vq.desc(d + 1, IOVA + BUF + 0x100 + head, 1, 2, 0);
        }
        vq.post(head);
        s.kick(0);
        return r.get(BUF + 0x100 + head, 1)[0];
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void blockReadWriteFlushGetId(VdpaProfile p) throws Exception {
        VdpaSim s = blk(p);
        TestRings.Q vq = q(0);
        byte[] data = new byte[1024];
        Arrays.fill(data, (byte) 0x5a);
        r.put(BUF + 0x1000, data);
        assertEquals(0, blkRequest(s, 0, 1, 100, 1024, false));          // OUT
        assertEquals(1, vq.usedLen(0));
        assertEquals(1, s.blkChunks());
        r.put(BUF + 0x1000, new byte[1024]);
        assertEquals(0, blkRequest(s, 0, 0, 100, 1024, true));           // IN
        assertEquals(1025, vq.usedLen(1));
        assertArrayEquals(data, r.get(BUF + 0x1000, 1024));
        assertEquals(0, blkRequest(s, 0, 0, 0x3FFFE, 1024, true));       // last two sectors, zeros
        assertArrayEquals(new byte[1024], r.get(BUF + 0x1000, 1024));
        assertEquals(0, blkRequest(s, 0, 4, 0, 0, false));               // FLUSH
        assertEquals(0, blkRequest(s, 0, 8, 0, 20, true));               // GET_ID
        assertEquals("vdpa_blk_sim", new String(r.get(BUF + 0x1000, 12)));
        assertEquals(21, vq.usedLen(4));
        assertEquals(1, blkRequest(s, 0, 4, 5, 0, false));               // FLUSH with a sector: IOERR
        assertEquals(1, blkRequest(s, 0, 99, 0, 0, false));              // unknown
        assertEquals(1, blkRequest(s, 0, 0, 0x3FFFF, 1024, true));       // runs past the end
        assertEquals(1, blkRequest(s, 0, 0, 0x40000, 512, true));        // starts at capacity
        assertEquals(1, blkRequest(s, 0, 1, 0x7000_0000_0000_0000L, 512, false));   // far beyond
        assertEquals(1, blkRequest(s, 0, 0, 0x3FFFF, 513, true));        // 1 byte past the end (model's check)
        assertEquals(1, s.blkChunks(), "nothing allocated by refused requests");
        assertEquals(11, vq.usedIdx());
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void blockDiscardAndWriteZeroes(VdpaProfile p) throws Exception {
        VdpaSim s = blk(p);
        byte[] data = new byte[512];
        Arrays.fill(data, (byte) 7);
        r.put(BUF + 0x1000, data);
        assertEquals(0, blkRequest(s, 0, 1, 8, 512, false));
        byte[] seg = new byte[16];
        Le.put64(seg, 0, 8);
        Le.put32(seg, 8, 1);
        r.put(BUF + 0x1000, seg);
        assertEquals(0, blkRequest(s, 0, 11, 0, 16, false));             // DISCARD: OK, data kept
        Le.put32(seg, 12, 1);
        r.put(BUF + 0x1000, seg);
        assertEquals(2, blkRequest(s, 0, 11, 0, 16, false));             // DISCARD flags → UNSUPP
        Le.put32(seg, 12, 2);
        r.put(BUF + 0x1000, seg);
        assertEquals(2, blkRequest(s, 0, 13, 0, 16, false));             // WRITE_ZEROES bad flags
        assertEquals(1, blkRequest(s, 0, 13, 0, 8, false));              // payload not 16 bytes
        Le.put32(seg, 12, 1);
        Le.put64(seg, 0, 0x3FFFF);
        Le.put32(seg, 8, 2);
        r.put(BUF + 0x1000, seg);
        assertEquals(1, blkRequest(s, 0, 13, 0, 16, false));             // past the end
        Le.put64(seg, 0, 8);
        Le.put32(seg, 8, 1);
        r.put(BUF + 0x1000, seg);
        assertEquals(0, blkRequest(s, 0, 13, 0, 16, false));             // WRITE_ZEROES (UNMAP)
        r.put(BUF + 0x1000, data);
        assertEquals(0, blkRequest(s, 0, 0, 8, 512, true));
        assertArrayEquals(new byte[512], r.get(BUF + 0x1000, 512));
    }

    // ---------------------------------------------------------------- abuse

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void circularChainsAndIndirectAbuseEndWithAnEmptyUsedEntry(VdpaProfile p) throws Exception {
        VdpaSim s = blk(p);
        TestRings.Q vq = q(0);
        vq.desc(0, IOVA + BUF, 16, 1, 1).desc(1, IOVA + BUF, 16, 1, 0).post(0);           // 0 → 1 → 0 ...
        s.kick(0);
        assertEquals(1, vq.usedIdx());
        assertEquals(0, vq.usedLen(0));
        // An indirect descriptor naming itself as next (the kernel does not count it).
        long table = 0x8000;
        r.descAt(table, IOVA + BUF, 16, 0, 0);
        vq.desc(2, IOVA + table, 16, 4 | 1, 2).post(2);
        s.kick(0);
        assertEquals(2, vq.usedIdx());
        // A looping indirect table, a nested one, a huge one, a misaligned length, an index past the end.
        r.descAt(table + 0x100, IOVA + BUF, 16, 1, 1);
        r.descAt(table + 0x110, IOVA + BUF, 16, 1, 0);
        vq.desc(3, IOVA + table + 0x100, 32, 4, 0).post(3);
        r.descAt(table + 0x200, IOVA + table, 16, 4, 0);
        vq.desc(4, IOVA + table + 0x200, 16, 4, 0).post(4);
        vq.desc(5, IOVA + table, 16 * 65536, 4, 0).post(5);
        vq.desc(6, IOVA + table, 24, 4, 0).post(6);
        vq.desc(7, IOVA + BUF, 16, 1, 40).post(7);
        vq.desc(8, 0x7777_0000_0000L, 16, 0, 0).post(8);                  // unmapped IOVA
        for (int i = 0; i < 6; i++) {
            s.kick(0);
        }
        assertEquals(8, vq.usedIdx());
        for (int k = 0; k < 8; k++) {
            assertEquals(0, vq.usedLen(k));
        }
        // A head past the ring size is not consumed: the queue stays stuck, bounded.
        vq.availSlot(vq.availIdx % NUM, 99).availIdx(vq.availIdx + 1);
        s.kick(0);
        assertEquals(8, vq.usedIdx());
        // The avail index far ahead: one pass is bounded, the rest pending.
        vq.availIdx(vq.availIdx + 5000);
        s.kick(0);
        assertTrue(s.deviceErrors() >= 9);
    }

    @Test
    void theAvailIndexFarAheadIsServedInBoundedPasses() throws Exception {
        VdpaSim s = blk(VdpaProfile.LATEST);
        TestRings.Q vq = q(0);
        r.put(BUF, new byte[] {4, 0, 0, 0});                 // FLUSH requests
        for (int i = 0; i < NUM; i += 2) {
            vq.desc(i, IOVA + BUF, 16, 1, i + 1).desc(i + 1, IOVA + BUF + 0x100, 1, 2, 0);
            vq.availSlot(i, i).availSlot(i + 1, i);
        }
        vq.availIdx(60000);
        s.kick(0);
        assertTrue(s.hasPendingWork());
        int passes = 1;
        while (s.runPendingWork()) {
            passes++;
        }
        assertEquals(60000, vq.usedIdx());
        assertTrue(passes > 200, "passes " + passes);
    }

    @Test
    void netKickOf64BytePacketAllocatesNothing() throws Exception {
        VdpaSim s = net(VdpaProfile.LATEST);
        TestRings.Q rx = q(0), tx = q(1);
        byte[] f = frame(MAC, 64 - 18);
        r.put(BUF + 0x1000, f);
        for (int i = 0; i < NUM; i++) {
            rx.desc(i, IOVA + BUF + 0x2000 + 0x100L * i, 128, 2, 0);
            tx.desc(i, IOVA + BUF + 0x1000, 64, 0, 0);
        }
        assertTrue(Allocations.supported());
        long bytes = Allocations.fewest(() -> {
            int head = rx.availIdx % NUM;
            rx.post(head);
            tx.post(head);
            s.kick(1);
        });
        assertEquals(0, bytes, "bytes allocated per kick");
        assertEquals(tx.availIdx, tx.usedIdx());
        assertEquals(List.of(64), List.of(rx.usedLen(rx.usedIdx() - 1)));
    }
}
