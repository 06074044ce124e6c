package dev.panavirt.vhost;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.models.vdpa.TestRings;
import dev.panavirt.models.vdpa.VdpaProfile;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** {@link ModelVdpa}: the VdpaDevice contract over the model, with eventfd kicks and calls and segment-bounded memory. */
class ModelVdpaTest {
    static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    static final long IOVA = 0x40_0000;
    static final int NUM = 8;

    @Test
    void aDriverThatOnlySignalsKickEventfdsIsServed() throws Exception {
        try (Arena arena = Arena.ofShared();
             ModelVdpa dev = ModelVdpa.net(MAC, VdpaSim.Options.defaults().withProfile(VdpaProfile.V6_12));
             EventFd kickTx = EventFd.create(Libc.EFD_NONBLOCK);
             EventFd callRx = EventFd.create(0)) {
            MemorySegment mem = arena.allocate(1 << 16, 4096);
            TestRings r = new TestRings(mem, IOVA);
            TestRings.Q rx = r.queue(0, NUM), tx = r.queue(0x1000, NUM);
            assertEquals(1, dev.deviceId());
            assertEquals(new IovaRange(0, -1L), dev.iovaRange());
            dev.setOwner();
            dev.setFeatures(dev.features());
            dev.setStatus(1 | 2 | 8);
            TestRings.Q[] qs = {rx, tx};
            for (int i = 0; i < 2; i++) {
                dev.setVringNum(i, NUM);
                dev.setVringAddr(i, qs[i].descIova(), qs[i].availIova(), qs[i].usedIova());
                dev.setVringEnable(i, true);
            }
            dev.setVringKick(1, kickTx);
            dev.setVringCall(0, callRx);
            dev.iotlbUpdate(0, IOVA, mem, VdpaDevice.READ_WRITE);
            dev.setStatus(1 | 2 | 8 | 4);
            byte[] f = new byte[60];
            System.arraycopy(MAC, 0, f, 12, 6);
            f[59] = 0x42;
            r.put(0x8000, f);
            rx.desc(0, IOVA + 0x9000, 2048, 2, 0).post(0);
            tx.desc(0, IOVA + 0x8000, f.length, 0, 0).post(0);
            kickTx.signal(1);
            assertTrue(callRx.await(10_000) > 0, "RX call signalled");
            assertEquals(1, rx.usedIdx());
            assertEquals(60, rx.usedLen(0));
            assertArrayEquals(f, r.get(0x9000, 60));
            MemorySegment cfg = arena.allocate(6);
            dev.readConfig(0, cfg);
            assertArrayEquals(MAC, cfg.toArray(ValueLayout.JAVA_BYTE));
            ErrnoException e = assertThrows(ErrnoException.class, () -> dev.readConfig(20, arena.allocate(8)));
            assertEquals(Errno.EINVAL, e.errno());
        }
    }

    @Test
    void onlyTheMappedSegmentIsReachable() throws Exception {
        try (Arena arena = Arena.ofConfined();
             ModelVdpa dev = ModelVdpa.blk(VdpaSim.Options.defaults())) {
            MemorySegment all = arena.allocate(1 << 16, 4096);
            MemorySegment mapped = all.asSlice(0, 0x8000);          // the upper half is not given to the device
            TestRings r = new TestRings(all, IOVA);
            TestRings.Q vq = r.queue(0, NUM);
            dev.setOwner();
            dev.setFeatures(dev.features());
            dev.setVringNum(0, NUM);
            dev.setVringAddr(0, vq.descIova(), vq.availIova(), vq.usedIova());
            dev.setVringEnable(0, true);
            // Pass-through before any map: IOVA = user address, yet no segment backs it → device fault.
            dev.setStatus(1 | 2 | 8 | 4);
            dev.model().kick(0);
            assertEquals(0, vq.usedIdx());
            dev.setStatus(0);
            dev.setFeatures(dev.features());
            dev.setVringNum(0, NUM);
            dev.setVringAddr(0, vq.descIova(), vq.availIova(), vq.usedIova());
            dev.setVringEnable(0, true);
            dev.iotlbUpdate(0, IOVA, mapped, VdpaDevice.READ_WRITE);
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> dev.iotlbUpdate(0, IOVA + 0x4000, mapped, VdpaDevice.READ_WRITE));
            assertEquals(Errno.EFAULT, e.errno());
            dev.setStatus(1 | 2 | 8 | 4);
            r.put(0x2000, new byte[16]);                               // IN, sector 0
            vq.desc(0, IOVA + 0x2000, 16, 1, 1).desc(1, IOVA + 0x9000, 512, 3, 2)   // data IOVA beyond the segment
                    .desc(2, IOVA + 0x2100, 1, 2, 0).post(0);
            dev.model().kick(0);
            assertEquals(1, vq.usedIdx());
            assertEquals(1, r.get(0x2100, 1)[0], "IOERR: the data buffer is not mapped");
            assertEquals(1, vq.usedLen(0));
            dev.iotlbInvalidate(0, IOVA, 0x8000);
            dev.model().kick(0);
        }
    }

    @Test
    void closeStopsTheWorkerAndRefusesUse() throws Exception {
        ModelVdpa dev = ModelVdpa.net(MAC, VdpaSim.Options.defaults());
        try (EventFd kick = EventFd.create(Libc.EFD_NONBLOCK)) {
            dev.setOwner();
            dev.setVringKick(0, kick);
            kick.signal(1);
            dev.close();
            dev.close();
            assertThrows(IllegalStateException.class, dev::status);
            assertTrue(Thread.getAllStackTraces().keySet().stream()
                    .noneMatch(t -> t.getName().equals("vdpa-model-kicks") && t.isAlive()));
        }
    }
}
