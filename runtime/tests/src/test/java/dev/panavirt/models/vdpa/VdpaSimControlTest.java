package dev.panavirt.models.vdpa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vhost.vhost_h;
import java.lang.foreign.Arena;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** vhost-vdpa's control plane over vdpa_sim (SEMANTICS.md E.2–E.6), in both kernel profiles. */
class VdpaSimControlTest {
    static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

    static void errno(int expected, Executable call) {
        ErrnoException e = assertThrows(ErrnoException.class, call);
        assertEquals(expected, e.errno(), e.getMessage());
    }

    static VdpaSim net(VdpaProfile p) {
        return VdpaSim.net(MAC, VdpaSim.Options.defaults().withProfile(p), new TestRings(Arena.ofAuto().allocate(4096), 0));
    }

    static VdpaSim blk(VdpaProfile p) {
        return VdpaSim.blk(VdpaSim.Options.defaults().withProfile(p), new TestRings(Arena.ofAuto().allocate(4096), 0));
    }

    @Test
    void constantsMatchTheUapiHeaders() {
        assertEquals(0x0000_0003_0883_0028L, VdpaSim.NET_FEATURES);
        assertEquals(0x0000_0003_0800_7646L, VdpaSim.BLK_FEATURES);
        assertEquals(0x17EL, VdpaSim.BACKEND_FEATURES);
        assertEquals(vhost_h.VHOST_IOTLB_UPDATE(), VdpaSim.IOTLB_UPDATE);
        assertEquals(2, VdpaSim.MSG_V2);
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void countsIdsAndConfig(VdpaProfile p) throws Exception {
        VdpaSim n = net(p);
        assertEquals(List.of(1, 3, 2, 2, 256, 24), List.of(n.deviceId(), n.vqsCount(), n.groupCount(),
                n.addressSpaceCount(), n.vringNumMax(), n.configSize()));
        byte[] cfg = new byte[24];
        n.getConfig(0, cfg, 24);
        assertArrayEquals(MAC, java.util.Arrays.copyOf(cfg, 6));
        assertEquals(1, cfg[6]);                             // LINK_UP
        assertEquals(1500, (cfg[10] & 0xff) | (cfg[11] & 0xff) << 8);
        n.setConfig(0, new byte[] {2, 0, 0, 0, 0, 9}, 6);    // a new MAC persists
        n.getConfig(0, cfg, 6);
        assertEquals(9, cfg[5]);
        errno(Errno.EINVAL, () -> n.getConfig(0, cfg, 0));
        errno(Errno.EINVAL, () -> n.getConfig(25, cfg, 1));
        errno(Errno.EINVAL, () -> n.getConfig(20, cfg, 5));
        errno(Errno.EINVAL, () -> n.setConfig(24, cfg, 1));
        n.getConfig(23, cfg, 1);                             // the last byte is fine
        VdpaSim b = blk(p);
        assertEquals(List.of(2, 1, 1, 1, 96), List.of(b.deviceId(), b.vqsCount(), b.groupCount(),
                b.addressSpaceCount(), b.configSize()));
        byte[] bc = new byte[96];
        b.getConfig(0, bc, 96);
        assertEquals(0x40000, Le.get64(bc, 0));
        assertEquals(List.of(4096, 32, 512, 1, 1, 1), List.of(Le.get32(bc, 8), Le.get32(bc, 12), Le.get32(bc, 20),
                Le.get16(bc, 26), Le.get32(bc, 28), Le.get16(bc, 34)));
        assertEquals(List.of(-1, 1, 512, -1, 1), List.of(Le.get32(bc, 36), Le.get32(bc, 40), Le.get32(bc, 44),
                Le.get32(bc, 48), Le.get32(bc, 52)));
        b.setConfig(0, new byte[] {1, 2, 3}, 3);             // no lasting effect
        b.getConfig(0, bc, 8);
        assertEquals(0x40000, Le.get64(bc, 0));
        assertEquals(0, b.iovaFirst());
        assertEquals(-1L, b.iovaLast());
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void statusOnlyAddsBitsAndZeroResets(VdpaProfile p) throws Exception {
        VdpaSim n = net(p);
        n.setOwner();
        n.setFeatures(VdpaSim.NET_FEATURES);
        n.setStatus(1);
        n.setStatus(3);
        errno(Errno.EINVAL, () -> n.setStatus(2));
        n.setStatus(3 | 8);
        n.setVringNum(0, 64);
        n.setVringAddr(0, 0, 0x1000, 0x2000, 0x3000, 0);
        n.setVringEnable(0, true);
        n.setGroupAsid(1, 1);
        int gen = n.generation();
        n.setStatus(0);
        assertEquals(0, n.status());
        assertEquals(0, n.driverFeatures());
        assertFalse(n.vringReady(0));
        assertEquals(0, n.vringAsid(2));
        assertEquals(gen + 1, n.generation());
        n.setStatus(0x40 | 0x80);
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void features(VdpaProfile p) throws Exception {
        VdpaSim n = net(p);
        assertEquals(VdpaSim.NET_FEATURES, n.features());
        errno(Errno.EINVAL, () -> n.setFeatures(1L << 32));
        n.setFeatures(-1L);
        assertEquals(VdpaSim.NET_FEATURES, n.driverFeatures());
        n.setStatus(8);
        errno(Errno.EBUSY, () -> n.setFeatures(VdpaSim.NET_FEATURES));
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void backendFeatures(VdpaProfile p) throws Exception {
        VdpaSim n = net(p);
        assertEquals(0x17E, n.backendFeatures());
        errno(Errno.EOPNOTSUPP, () -> n.setBackendFeatures(1));
        errno(Errno.EOPNOTSUPP, () -> n.setBackendFeatures(1L << 9));
        errno(Errno.EINVAL, () -> n.setBackendFeatures(1L << 7));
        errno(Errno.EOPNOTSUPP, () -> n.setBackendFeatures(1L << 7 | 1L << 3));
        n.setBackendFeatures(0x17E);
        assertEquals(0x17E, n.ackedBackendFeatures());
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void ownershipAndVringIoctls(VdpaProfile p) throws Exception {
        VdpaSim n = net(p);
        errno(Errno.EPERM, () -> n.setVringNum(0, 64));
        errno(Errno.EPERM, () -> n.setVringNum(7, 64));    // EPERM comes before ENOBUFS
        errno(Errno.EPERM, () -> n.vringGroup(0));
        errno(Errno.EPERM, () -> n.setVringEnable(0, true));
        n.setOwner();
        errno(Errno.EBUSY, n::setOwner);
        for (Executable e : List.<Executable>of(() -> n.setVringNum(3, 64), () -> n.setVringAddr(3, 0, 0, 0, 0, 0),
                () -> n.setVringBase(3, 0), () -> n.vringBase(3), () -> n.setVringKick(3), () -> n.setVringCall(3, null),
                () -> n.setVringEnable(3, true), () -> n.vringGroup(3), () -> n.vringDescGroup(3), () -> n.vringSize(3),
                () -> n.setGroupAsid(3, 0), () -> n.setVringNum(-1, 64))) {
            errno(Errno.ENOBUFS, e);
        }
        for (int bad : new int[] {0, 3, 512, 0x10000, 100}) {
            errno(Errno.EINVAL, () -> n.setVringNum(0, bad));
        }
        n.setVringNum(0, 256);
        n.setVringNum(0, 1);
        errno(Errno.EOPNOTSUPP, () -> n.setVringAddr(0, 2, 0, 0, 0, 0));
        errno(Errno.EINVAL, () -> n.setVringAddr(0, 0, 0, 1, 0, 0));
        errno(Errno.EINVAL, () -> n.setVringAddr(0, 0, 0, 0, 2, 0));
        errno(Errno.EINVAL, () -> n.setVringAddr(0, 1, 0, 0, 0, 2));
        errno(Errno.EINVAL, () -> n.setVringBase(0, 0x10000));
        n.setVringBase(0, 77);
        assertEquals(77, n.vringBase(0));
        assertEquals(List.of(0, 0, 1), List.of(n.vringGroup(0), n.vringGroup(1), n.vringGroup(2)));
        errno(Errno.EOPNOTSUPP, () -> n.vringDescGroup(0));
        errno(Errno.EOPNOTSUPP, () -> n.vringSize(0));      // batch_mapping = 1
        errno(Errno.EINVAL, () -> n.setGroupAsid(2, 0));      // group ≥ ngroups (an index < nvqs)
        errno(Errno.EINVAL, () -> n.setGroupAsid(1, 2));
        n.setGroupAsid(1, 1);
        assertEquals(List.of(0, 0, 1), List.of(n.vringAsid(0), n.vringAsid(1), n.vringAsid(2)));
        // Running: ADDR and BASE refused (after vhost's copy is updated), NUM allowed.
        n.setStatus(VdpaSim.DRIVER_OK);
        errno(Errno.EINVAL, () -> n.setVringAddr(0, 0, 0, 0, 0, 0));
        errno(Errno.EINVAL, () -> n.setVringBase(0, 1));
        n.setVringNum(0, 128);
        n.suspend();
        assertTrue(n.suspended());
        n.setVringAddr(0, 0, 0x1000, 0x2000, 0x3000, 0);
        n.setVringBase(0, 5);
        assertEquals(5, n.vringBase(0));
        n.resume();
        assertFalse(n.suspended());
    }

    @Test
    void vringSizeInTheDmaMapFlavour() throws Exception {
        VdpaSim n = VdpaSim.net(MAC, VdpaSim.Options.defaults().withBatchMapping(false),
                new TestRings(Arena.ofAuto().allocate(64), 0));
        n.setOwner();
        n.setVringNum(1, 64);
        assertEquals(256, n.vringSize(1));
        n.setStatus(VdpaSim.DRIVER_OK);
        assertEquals(64, n.vringSize(1));
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void suspendWithoutDriverOkIsANoOp(VdpaProfile p) throws Exception {
        VdpaSim n = net(p);
        n.suspend();
        assertFalse(n.suspended());
        n.resume();
        n.setStatus(VdpaSim.DRIVER_OK);
        n.suspend();
        assertTrue(n.suspended());
        n.setStatus(0);
        assertFalse(n.suspended(), "a reset clears the mark");
    }

    // ------------------------------------------------------------------ IOTLB

    static byte[] msg(int kind, int asid, int type, long iova, long size, long uaddr, int perm) {
        byte[] b = new byte[72];
        Le.put32(b, 0, kind);
        Le.put32(b, 4, asid);
        Le.put64(b, 8, iova);
        Le.put64(b, 16, size);
        Le.put64(b, 24, uaddr);
        b[32] = (byte) perm;
        b[33] = (byte) type;
        return b;
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void iotlbMessages(VdpaProfile p) throws Exception {
        TestRings host = new TestRings(Arena.ofAuto().allocate(1 << 16), 0);
        long ua = host.uaddr();
        VdpaSim n = VdpaSim.net(MAC, VdpaSim.Options.defaults().withProfile(p), host);
        byte[] up = msg(2, 0, 2, 0x1000, 0x1000, ua, 3);
        errno(Errno.EFAULT, () -> n.write(up, 72));          // not the owner
        n.setOwner();
        assertEquals(List.of(new VdpaSim.Mapping(0, -1L, 0, 3)), n.deviceMappings(0), "pass-through");
        assertEquals(72, n.write(up, 72));
        assertEquals(List.of(new VdpaSim.Mapping(0x1000, 0x1fff, ua, 3)), n.mappings(0));
        assertEquals(n.mappings(0), n.deviceMappings(0));
        assertEquals(72, n.write(msg(1, 0, 2, 0x4000, 0x100, ua, 1), 72));   // v1
        errno(Errno.EFAULT, () -> n.write(msg(2, 0, 2, 0x1800, 0x1000, ua, 3), 72));   // overlap (EEXIST)
        errno(Errno.EINVAL, () -> n.write(msg(2, 0, 2, 0x8000, 0, ua, 3), 72));        // size 0
        errno(Errno.EFAULT, () -> n.write(msg(2, 0, 2, -0x1000, 0x2000, ua, 3), 72));  // wraps
        errno(Errno.EFAULT, () -> n.write(msg(2, 0, 2, 0x9000, 0x100, ua - 0x10000, 3), 72));   // no memory
        errno(Errno.EFAULT, () -> n.write(msg(2, 0, 1, 0x9000, 0x100, ua, 3), 72));    // MISS
        errno(Errno.EFAULT, () -> n.write(msg(2, 0, 4, 0x9000, 0x100, ua, 3), 72));    // ACCESS_FAIL
        errno(Errno.EINVAL, () -> n.write(msg(3, 0, 2, 0x9000, 0x100, ua, 3), 72));    // kind
        errno(Errno.EINVAL, () -> n.write(up, 39));
        if (p == VdpaProfile.V6_12) {
            assertEquals(72, n.write(msg(2, 0, 2, 0x9000, 0x100, ua, 3), 40));
        } else {
            errno(Errno.EINVAL, () -> n.write(msg(2, 0, 2, 0x9000, 0x100, ua, 3), 71));
        }
        // ASID: ignored until acked; then AS 1 and AS ≥ 2 refused.
        assertEquals(72, n.write(msg(2, 1, 2, 0x20000, 0x100, ua, 3), 72));
        assertTrue(n.mappings(1).isEmpty());
        n.setBackendFeatures(VdpaSim.BACKEND_FEATURES);
        assertEquals(72, n.write(msg(2, 1, 2, 0x20000, 0x100, ua, 3), 72));
        assertEquals(1, n.mappings(1).size());
        errno(Errno.EFAULT, () -> n.write(msg(2, 2, 2, 0x20000, 0x100, ua, 3), 72));
        errno(Errno.EFAULT, () -> n.iotlb(1 << 31, VdpaSim.IOTLB_INVALIDATE, 0, 1, 0, 0));
        // Invalidate: everything intersecting; none is fine.
        n.iotlb(0, VdpaSim.IOTLB_INVALIDATE, 0x1fff, 0x2000, 0, 0);
        assertEquals(p == VdpaProfile.V6_12 ? List.of(0x4000L, 0x9000L, 0x20000L) : List.of(0x4000L, 0x20000L),
                n.mappings(0).stream().map(VdpaSim.Mapping::start).toList());
        assertEquals(n.mappings(0), n.deviceMappings(0));
        n.iotlb(0, VdpaSim.IOTLB_INVALIDATE, 0x100000, 0x1000, 0, 0);
        if (p == VdpaProfile.V6_12) {
            n.iotlb(0, VdpaSim.IOTLB_INVALIDATE, 0, 0, 0, 0);    // accepted: [0, 2^64 − 1] goes
            assertTrue(n.mappings(0).isEmpty());
        } else {
            errno(Errno.EINVAL, () -> n.iotlb(0, VdpaSim.IOTLB_INVALIDATE, 0, 0, 0, 0));
        }
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void batchesPushOnceAndStayOnOneAsid(VdpaProfile p) throws Exception {
        TestRings host = new TestRings(Arena.ofAuto().allocate(1 << 16), 0);
        VdpaSim n = VdpaSim.net(MAC, VdpaSim.Options.defaults().withProfile(p), host);
        n.setOwner();
        n.setBackendFeatures(VdpaSim.BACKEND_FEATURES);
        errno(Errno.EFAULT, () -> n.iotlb(1, VdpaSim.IOTLB_BATCH_END, 0, 0, 0, 0));   // AS 1 does not exist
        n.iotlb(0, VdpaSim.IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
        n.iotlb(0, VdpaSim.IOTLB_UPDATE, 0x1000, 0x1000, host.uaddr(), 3);
        errno(Errno.EFAULT, () -> n.iotlb(1, VdpaSim.IOTLB_UPDATE, 0x1000, 0x1000, host.uaddr(), 3));
        assertEquals(1, n.deviceMappings(0).size());
        assertEquals(-1L, n.deviceMappings(0).get(0).last(), "still pass-through inside the batch");
        n.iotlb(0, VdpaSim.IOTLB_BATCH_END, 0, 0, 0, 0);
        assertEquals(n.mappings(0), n.deviceMappings(0));
        assertFalse(n.inBatch());
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void entryLimitInBothFlavours(VdpaProfile p) throws Exception {
        for (boolean batch : new boolean[] {true, false}) {
            TestRings host = new TestRings(Arena.ofAuto().allocate(1 << 16), 0);
            VdpaSim n = VdpaSim.net(MAC, new VdpaSim.Options(p, batch, 4), host);
            n.setOwner();
            for (int i = 0; i < 4; i++) {
                n.iotlb(0, VdpaSim.IOTLB_UPDATE, 0x1000L * i, 0x100, host.uaddr(), 3);
            }
            errno(Errno.EFAULT, () -> n.iotlb(0, VdpaSim.IOTLB_UPDATE, 0x8000, 0x100, host.uaddr(), 3));
            assertEquals(4, n.mappings(0).size(), "the refused entry is dropped from vhost's table");
            assertEquals(batch ? 0 : 4, n.deviceMappings(0).size(), "set_map leaves the simulator's table empty");
            n.iotlb(0, VdpaSim.IOTLB_INVALIDATE, 0, 0x100, 0, 0);
            assertEquals(3, n.deviceMappings(0).size());
        }
    }

    @ParameterizedTest
    @EnumSource(VdpaProfile.class)
    void resetRestoresPassThroughUnlessPersistAcked(VdpaProfile p) throws Exception {
        TestRings host = new TestRings(Arena.ofAuto().allocate(1 << 16), 0);
        VdpaSim n = VdpaSim.net(MAC, VdpaSim.Options.defaults().withProfile(p), host);
        n.setOwner();
        n.iotlb(0, VdpaSim.IOTLB_UPDATE, 0x1000, 0x100, host.uaddr(), 3);
        n.setStatus(1);
        n.setStatus(0);
        assertEquals(-1L, n.deviceMappings(0).get(0).last());
        assertEquals(1, n.mappings(0).size(), "vhost keeps its table");
        n.setBackendFeatures(1L << VdpaSim.B_IOTLB_PERSIST);
        n.iotlb(0, VdpaSim.IOTLB_UPDATE, 0x2000, 0x100, host.uaddr(), 3);
        n.setStatus(1);
        n.setStatus(0);
        assertEquals(2, n.deviceMappings(0).size());
        n.release();
        assertFalse(n.owned());
        assertTrue(n.mappings(0).isEmpty());
    }
}
