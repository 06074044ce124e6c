package dev.panavirt.vhost;

import static dev.panavirt.vhost.VhostVdpaRig.ACKNOWLEDGE;
import static dev.panavirt.vhost.VhostVdpaRig.BLK;
import static dev.panavirt.vhost.VhostVdpaRig.B_DESC_ASID;
import static dev.panavirt.vhost.VhostVdpaRig.B_ENABLE_AFTER_DRIVER_OK;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_ASID;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_BATCH;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_MSG_V2;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_PERSIST;
import static dev.panavirt.vhost.VhostVdpaRig.B_RESUME;
import static dev.panavirt.vhost.VhostVdpaRig.B_SUSPEND;
import static dev.panavirt.vhost.VhostVdpaRig.DRIVER;
import static dev.panavirt.vhost.VhostVdpaRig.DRIVER_OK;
import static dev.panavirt.vhost.VhostVdpaRig.FEATURES_OK;
import static dev.panavirt.vhost.VhostVdpaRig.F_ACCESS_PLATFORM;
import static dev.panavirt.vhost.VhostVdpaRig.F_VERSION_1;
import static dev.panavirt.vhost.VhostVdpaRig.NET;
import static dev.panavirt.vhost.VhostVdpaRig.assertErrno;
import static dev.panavirt.vhost.VhostVdpaRig.assertPlainErrno;
import static dev.panavirt.vhost.VhostVdpaRig.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.NotSupportedException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.testsupport.RequiresDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every device-level and per-virtqueue ioctl of {@link VhostVdpa} against the kernel's vhost-vdpa with the vDPA
 * simulators of the lane (/dev/vhost-vdpa-0 vdpasim_net with MAC 52:54:00:12:34:56, /dev/vhost-vdpa-1
 * vdpasim_blk), with the rules and errnos of drivers/vhost/vdpa.c and vhost.c. The IOTLB is
 * {@link VhostVdpaIotlbTest}'s.
 */
@Tag("vdpa")
@RequiresDevice("vdpa")
class VhostVdpaTest {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** vdpa_sim's offers: VDPASIM_FEATURES (ANY_LAYOUT, VERSION_1, ACCESS_PLATFORM) and the device's. */
    private static final long NET_FEATURES = 0x3_0883_0028L, BLK_FEATURES = 0x3_0800_7646L;
    /** vhost-vdpa's three, SUSPEND and RESUME (vdpa_sim has both), IOTLB_PERSIST (it has reset_map), its own. */
    private static final long SIM_BACKEND_FEATURES = B_IOTLB_MSG_V2 | B_IOTLB_BATCH | B_IOTLB_ASID | B_SUSPEND | B_RESUME
            | B_IOTLB_PERSIST | B_ENABLE_AFTER_DRIVER_OK;

    @Test
    void recordsWhatTheKernelAnswers() throws ErrnoException {
        for (String node : List.of(NET, BLK)) {
            try (VhostVdpa d = VhostVdpa.open(node); Arena a = Arena.ofConfined()) {
                MemorySegment cfg = a.allocate(d.configSize());
                d.readConfig(0, cfg);
                System.out.printf("vhost-vdpa %s: device id %d, features %s, backend features %s, config size %d,"
                                + " config %s, vring num max %d, vqs %d, groups %d, address spaces %d, %s,"
                                + " vdpa_sim batch_mapping=%s max_iotlb_entries=%s use_va=%s%n",
                        node, d.deviceId(), hex(d.features()), hex(d.backendFeatures()), d.configSize(),
                        HexFormat.of().formatHex(cfg.toArray(ValueLayout.JAVA_BYTE)), d.vringNumMax(), d.vqsCount(),
                        d.groupCount(), d.addressSpaceCount(), d.iovaRange(), VhostVdpaRig.simParam("batch_mapping"),
                        VhostVdpaRig.simParam("max_iotlb_entries"), VhostVdpaRig.simParam("use_va"));
            }
        }
    }

    // --- open and close (vhost_vdpa_open, vhost_vdpa_release) ---------------------------------------------------

    @Test
    void oneOpenerAtATime() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            ErrnoException e = assertErrno(Errno.EBUSY, () -> VhostVdpa.open(NET).close());
            assertEquals("open", e.operation());
            assertEquals(1, d.deviceId());
        }
        try (VhostVdpa again = VhostVdpa.open(0)) { // closing released it
            assertEquals(NET, again.path());
        }
    }

    @Test
    void closeResetsAndLaterCallsThrowIllegalState() throws ErrnoException {
        VhostVdpa d = VhostVdpa.open(NET);
        d.setStatus(ACKNOWLEDGE | DRIVER);
        d.close();
        d.close(); // idempotent
        assertTrue(d.isClosed());
        assertThrows(IllegalStateException.class, d::status);
        assertThrows(IllegalStateException.class, () -> d.setVringNum(0, 1));
        assertThrows(IllegalStateException.class, () -> d.iotlbBatchBegin(0));
        assertThrows(IllegalStateException.class, d::rawFd);
        try (VhostVdpa next = VhostVdpa.open(NET)) {
            assertEquals(0, next.status(), "open (and close) reset the device");
        }
    }

    // --- device-level ioctls: no ownership needed ---------------------------------------------------------------

    @Test
    void netDeviceAnswers() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            assertEquals(1, d.deviceId());
            assertEquals(hex(NET_FEATURES), hex(d.features()));
            assertEquals(hex(SIM_BACKEND_FEATURES), hex(d.backendFeatures()));
            assertEquals(256, d.vringNumMax());
            assertEquals(3, d.vqsCount());
            assertEquals(2, d.groupCount());
            assertEquals(2, d.addressSpaceCount());
            assertEquals(new IovaRange(0, -1), d.iovaRange());
            assertEquals(24, d.configSize(), "sizeof(struct virtio_net_config)");
            assertEquals(0, d.status());
        }
    }

    @Test
    void blockDeviceAnswers() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(BLK)) {
            assertEquals(2, d.deviceId());
            assertEquals(hex(BLK_FEATURES), hex(d.features()));
            assertEquals(hex(SIM_BACKEND_FEATURES), hex(d.backendFeatures()));
            assertEquals(256, d.vringNumMax());
            assertEquals(1, d.vqsCount());
            assertEquals(1, d.groupCount());
            assertEquals(1, d.addressSpaceCount());
            assertEquals(new IovaRange(0, -1), d.iovaRange());
            assertEquals(96, d.configSize(), "sizeof(struct virtio_blk_config)");
        }
    }

    @Test
    void netConfigHasTheLanesMacLinkUpAndDefaultMtu() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET); Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(24);
            d.readConfig(0, c);
            assertArrayEquals(new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, c.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE));
            assertEquals(1, c.get(LE16, 6), "status: VIRTIO_NET_S_LINK_UP");
            assertEquals(0, c.get(LE16, 8), "max_virtqueue_pairs");
            assertEquals(1500, c.get(LE16, 10), "mtu");
            // a slice in the middle, into a heap segment
            MemorySegment mtu = MemorySegment.ofArray(new byte[2]);
            d.readConfig(10, mtu);
            assertEquals(1500, mtu.get(LE16, 0));
        }
    }

    @Test
    void netConfigWritesLast() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET); Arena a = Arena.ofConfined()) {
            MemorySegment mac = a.allocate(6);
            MemorySegment original = a.allocate(6);
            d.readConfig(0, original);
            try {
                mac.copyFrom(MemorySegment.ofArray(new byte[] {0x02, 0, 0, 0, 0, 0x07}));
                d.writeConfig(0, mac);
                MemorySegment back = a.allocate(6);
                d.readConfig(0, back);
                assertArrayEquals(mac.toArray(ValueLayout.JAVA_BYTE), back.toArray(ValueLayout.JAVA_BYTE));
            } finally {
                d.writeConfig(0, original);
            }
        }
    }

    @Test
    void blockConfigIsRegeneratedOnEveryRead() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(BLK); Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(d.configSize());
            d.readConfig(0, c);
            assertEquals(0x40000, c.get(LE64, 0), "capacity (sectors)");
            assertEquals(4096, c.get(LE32, 8), "size_max");
            assertEquals(32, c.get(LE32, 12), "seg_max");
            assertEquals(512, c.get(LE32, 20), "blk_size");
            assertEquals(1, c.get(LE16, 26), "min_io_size");
            assertEquals(1, c.get(LE32, 28), "opt_io_size");
            assertEquals(1, c.get(LE16, 34), "num_queues");
            assertEquals(0xFFFFFFFF, c.get(LE32, 36), "max_discard_sectors");
            assertEquals(1, c.get(LE32, 40), "max_discard_seg");
            assertEquals(512, c.get(LE32, 44), "discard_sector_alignment");
            assertEquals(0xFFFFFFFF, c.get(LE32, 48), "max_write_zeroes_sectors");
            assertEquals(1, c.get(LE32, 52), "max_write_zeroes_seg");
            MemorySegment capacity = a.allocate(8);
            capacity.set(LE64, 0, 7);
            d.writeConfig(0, capacity); // accepted...
            d.readConfig(0, capacity);
            assertEquals(0x40000, capacity.get(LE64, 0), "...but vdpasim_blk_get_config rebuilds the config");
        }
    }

    @Test
    void configAccessOutsideTheConfigIsEinval() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET); Arena a = Arena.ofConfined()) {
            int size = d.configSize();
            assertPlainErrno(Errno.EINVAL, () -> d.readConfig(0, a.allocate(0)));
            assertPlainErrno(Errno.EINVAL, () -> d.readConfig(size, a.allocate(1)));
            assertPlainErrno(Errno.EINVAL, () -> d.readConfig(size + 1, a.allocate(1)));
            assertPlainErrno(Errno.EINVAL, () -> d.readConfig(size - 4, a.allocate(8)));
            assertPlainErrno(Errno.EINVAL, () -> d.readConfig(0, a.allocate(size + 1)));
            assertPlainErrno(Errno.EINVAL, () -> d.readConfig(0, a.allocate(4096))); // beyond the 256-byte buffer
            assertPlainErrno(Errno.EINVAL, () -> d.writeConfig(0, a.allocate(0)));
            assertPlainErrno(Errno.EINVAL, () -> d.writeConfig(size - 2, a.allocate(4)));
            d.readConfig(size - 1, a.allocate(1)); // the last byte is fine
        }
    }

    @Test
    void statusBitsAreOnlyAddedOrResetToZero() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setStatus(ACKNOWLEDGE);
            d.setStatus(ACKNOWLEDGE | DRIVER);
            assertEquals(ACKNOWLEDGE | DRIVER, d.status());
            assertPlainErrno(Errno.EINVAL, () -> d.setStatus(ACKNOWLEDGE));
            assertPlainErrno(Errno.EINVAL, () -> d.setStatus(DRIVER | FEATURES_OK));
            assertEquals(ACKNOWLEDGE | DRIVER, d.status(), "a refused status changes nothing");
            d.setStatus(ACKNOWLEDGE | DRIVER); // the same bits again are fine
            d.setStatus(ACKNOWLEDGE | DRIVER | DRIVER_OK); // vhost-vdpa does not check the handshake order
            assertEquals(ACKNOWLEDGE | DRIVER | DRIVER_OK, d.status());
            d.setStatus(0);
            assertEquals(0, d.status());
        }
    }

    @Test
    void featuresNeedAccessPlatformAndFreezeAtFeaturesOk() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            assertPlainErrno(Errno.EINVAL, () -> d.setFeatures(F_VERSION_1));
            assertPlainErrno(Errno.EINVAL, () -> d.setFeatures(0));
            d.setFeatures(F_VERSION_1 | F_ACCESS_PLATFORM);
            d.setFeatures(-1L); // more than offered: the device keeps the intersection
            d.setFeatures(d.features());
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
            assertPlainErrno(Errno.EBUSY, () -> d.setFeatures(F_VERSION_1 | F_ACCESS_PLATFORM));
            d.setStatus(0);
            d.setFeatures(F_VERSION_1 | F_ACCESS_PLATFORM); // a reset reopens negotiation
        }
    }

    @Test
    void backendFeaturesTakeOnlyWhatIsOffered() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            assertPlainErrno(Errno.EOPNOTSUPP, () -> d.setBackendFeatures(1L << 9));
            assertPlainErrno(Errno.EOPNOTSUPP, () -> d.setBackendFeatures(1L)); // bit 0 is no backend feature
            assertPlainErrno(Errno.EINVAL, () -> d.setBackendFeatures(B_DESC_ASID));
            assertPlainErrno(Errno.EOPNOTSUPP, () -> d.setBackendFeatures(B_DESC_ASID | B_IOTLB_ASID));
            d.setBackendFeatures(d.backendFeatures());
            d.setBackendFeatures(0);
            d.setBackendFeatures(B_IOTLB_MSG_V2 | B_IOTLB_BATCH);
        }
    }

    @Test
    void configCallTakesAnEventFdOrUnbinds() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET); EventFd call = EventFd.create(0); EventFd other = EventFd.create(0)) {
            d.setConfigCall(call);
            d.setConfigCall(null);
            int closedFd = other.rawFd();
            other.close();
            assertPlainErrno(Errno.EBADF, () -> d.setConfigCall(closedFd));
            assertPlainErrno(Errno.EINVAL, () -> d.setConfigCall(d.rawFd())); // not an eventfd
            d.setConfigCall(-1);
        }
    }

    @Test
    void dirtyLogAndResetOwnerAreNotSupported() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            assertNotSupported(Errno.ENOTTY, () -> d.setLogBase(0x1000));
            assertNotSupported(Errno.ENOTTY, () -> d.setLogFd(-1));
            assertPlainErrno(Errno.EPERM, d::resetOwner); // vhost core's owner check comes first
            d.setOwner();
            assertNotSupported(Errno.ENOTTY, d::resetOwner);
            assertNotSupported(Errno.ENOTTY, () -> d.setLogBase(0x1000));
        }
    }

    @Test
    void descriptorGroupIsNotSupportedByTheSimulator() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            assertNotSupported(Errno.EOPNOTSUPP, () -> d.vringDescGroup(0));
        }
    }

    // --- ownership (vhost_dev_ioctl) --------------------------------------------------------------------------

    @Test
    void perVirtqueueIoctlsNeedTheOwner() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET); EventFd e = EventFd.create(0)) {
            for (Executable call : perVqCalls(d, 0, e)) {
                assertPlainErrno(Errno.EPERM, call);
            }
            assertEquals(1, d.deviceId(), "device-level ioctls need no owner");
            d.suspend();
            d.setOwner();
            assertPlainErrno(Errno.EBUSY, d::setOwner);
            d.setVringNum(0, 256);
            assertEquals(0, d.vringGroup(0));
        }
    }

    @Test
    void virtqueueIndexAtOrAboveTheCountIsEnobufs() throws ErrnoException {
        for (String node : List.of(NET, BLK)) {
            try (VhostVdpa d = VhostVdpa.open(node); EventFd e = EventFd.create(0)) {
                d.setOwner();
                int n = d.vqsCount();
                for (int index : new int[] {n, n + 1, 0xFFFF, -1}) {
                    for (Executable call : perVqCalls(d, index, e)) {
                        assertPlainErrno(Errno.ENOBUFS, call);
                    }
                }
            }
        }
    }

    /** One call of every per-virtqueue ioctl on {@code index}, with arguments otherwise valid. */
    private static List<Executable> perVqCalls(VhostVdpa d, int index, EventFd e) {
        return List.of(
                () -> d.setVringNum(index, 64),
                () -> d.setVringAddr(index, 0x10000, 0x11000, 0x12000),
                () -> d.setVringBase(index, 0),
                () -> d.vringBase(index),
                () -> d.setVringKick(index, e),
                () -> d.setVringCall(index, e),
                () -> d.setVringEnable(index, false),
                () -> d.vringGroup(index),
                () -> d.vringDescGroup(index),
                () -> d.vringSize(index),
                () -> d.setGroupAsid(index, 0));
    }

    // --- per-virtqueue ioctls ---------------------------------------------------------------------------------

    @Test
    void vringGroupsOfTheSimulators() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            assertEquals(0, d.vringGroup(0));
            assertEquals(0, d.vringGroup(1));
            assertEquals(1, d.vringGroup(2), "the control queue has a group of its own");
        }
        try (VhostVdpa d = VhostVdpa.open(BLK)) {
            d.setOwner();
            assertEquals(0, d.vringGroup(0));
        }
    }

    @Test
    void groupAsidWantsAnExistingGroupAndAddressSpace() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            d.setGroupAsid(1, 1);
            d.setGroupAsid(1, 0);
            d.setGroupAsid(0, 1);
            d.setGroupAsid(0, 0);
            assertPlainErrno(Errno.EINVAL, () -> d.setGroupAsid(0, 2)); // asid >= nas
            assertPlainErrno(Errno.EINVAL, () -> d.setGroupAsid(2, 0)); // a vq index but no group
            assertPlainErrno(Errno.ENOBUFS, () -> d.setGroupAsid(3, 0)); // checked against the vq count first
        }
        try (VhostVdpa d = VhostVdpa.open(BLK)) {
            d.setOwner();
            d.setGroupAsid(0, 0);
            assertPlainErrno(Errno.EINVAL, () -> d.setGroupAsid(0, 1));
        }
    }

    @Test
    void vringNumIsAPowerOfTwoUpToTheMaximum() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            for (int num : new int[] {1, 2, 64, 256}) {
                d.setVringNum(0, num);
            }
            for (int num : new int[] {0, 3, 100, 512, 0x8000, 0x10000, -1}) {
                assertPlainErrno(Errno.EINVAL, () -> d.setVringNum(1, num));
            }
            d.setStatus(ACKNOWLEDGE | DRIVER | DRIVER_OK);
            d.setVringNum(2, 128); // no DRIVER_OK restriction
        }
    }

    @Test
    void vringAddrAlignmentFlagsAndRunningState() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            d.setVringAddr(0, 0x10000, 0x11000, 0x12000);
            d.setVringAddr(0, 0x10001, 0x11002, 0x12004); // the descriptor table is not checked
            assertPlainErrno(Errno.EINVAL, () -> d.setVringAddr(0, 0x10000, 0x11001, 0x12000)); // avail: 2 bytes
            assertPlainErrno(Errno.EINVAL, () -> d.setVringAddr(0, 0x10000, 0x11000, 0x12002)); // used: 4 bytes
            d.setVringAddr(0, 1, 0x10000, 0x11000, 0x12000, 0x13000); // VHOST_VRING_F_LOG
            assertPlainErrno(Errno.EINVAL, () -> d.setVringAddr(0, 1, 0x10000, 0x11000, 0x12000, 0x13002));
            assertPlainErrno(Errno.EOPNOTSUPP, () -> d.setVringAddr(0, 2, 0x10000, 0x11000, 0x12000, 0));
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
            d.setVringAddr(1, 0x20000, 0x21000, 0x22000); // FEATURES_OK is no gate
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            assertPlainErrno(Errno.EINVAL, () -> d.setVringAddr(0, 0x10000, 0x11000, 0x12000));
            d.suspend();
            d.setVringAddr(0, 0x30000, 0x31000, 0x32000);
            d.resume();
            assertPlainErrno(Errno.EINVAL, () -> d.setVringAddr(0, 0x10000, 0x11000, 0x12000));
            d.setStatus(0);
            d.setVringAddr(0, 0x10000, 0x11000, 0x12000); // the reset ended the run
        }
    }

    @Test
    void vringBaseRoundTripsUnlessRunning() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            assertEquals(0, d.vringBase(0));
            d.setVringBase(0, 5);
            assertEquals(5, d.vringBase(0));
            d.setVringBase(1, 0xFFFF);
            assertEquals(0xFFFF, d.vringBase(1));
            assertPlainErrno(Errno.EINVAL, () -> d.setVringBase(0, 0x10000));
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            assertPlainErrno(Errno.EINVAL, () -> d.setVringBase(0, 7));
            assertEquals(5, d.vringBase(0), "GET asks the device, which kept its index");
            d.suspend();
            d.setVringBase(0, 9);
            assertEquals(9, d.vringBase(0));
            d.resume();
            assertPlainErrno(Errno.EINVAL, () -> d.setVringBase(0, 7));
        }
    }

    @Test
    void kickAndCallTakeEventFdsOrUnbind() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET); EventFd kick = EventFd.create(0); EventFd call = EventFd.create(0);
                EventFd gone = EventFd.create(0)) {
            d.setOwner();
            for (int vq = 0; vq < 3; vq++) {
                d.setVringKick(vq, kick);
                d.setVringCall(vq, call);
            }
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK); // wires the calls to the device
            d.setVringCall(0, call); // rewired while running
            d.setVringKick(0, null);
            d.setVringCall(0, null);
            int closedFd = gone.rawFd();
            gone.close();
            assertPlainErrno(Errno.EBADF, () -> d.setVringKick(1, closedFd));
            assertPlainErrno(Errno.EBADF, () -> d.setVringCall(1, closedFd));
            assertPlainErrno(Errno.EINVAL, () -> d.setVringKick(1, d.rawFd())); // not an eventfd
            assertPlainErrno(Errno.EINVAL, () -> d.setVringCall(1, d.rawFd()));
        }
    }

    @Test
    void enableNeedsNoDriverOk() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(NET)) {
            d.setOwner();
            d.setVringNum(0, 64);
            d.setVringAddr(0, 0x10000, 0x11000, 0x12000);
            d.setVringEnable(0, true);
            d.setVringEnable(0, false);
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            d.setVringEnable(1, true); // late enable: ENABLE_AFTER_DRIVER_OK is offered
            d.setVringEnable(1, false);
        }
    }

    @Test
    void suspendAndResumeAreNoOpsWithoutDriverOk() throws ErrnoException {
        try (VhostVdpa d = VhostVdpa.open(BLK)) {
            d.suspend();
            d.resume();
            d.resume();
            d.setOwner();
            d.suspend(); // not marked suspended: the ring may still change because the device does not run
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            assertPlainErrno(Errno.EINVAL, () -> d.setVringBase(0, 1)); // that earlier suspend did not count
            d.suspend();
            d.suspend();
            d.setVringBase(0, 1);
            d.resume();
            d.resume();
            assertPlainErrno(Errno.EINVAL, () -> d.setVringBase(0, 1));
            d.suspend();
            d.setStatus(0); // a reset ends the suspension
            d.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            assertPlainErrno(Errno.EINVAL, () -> d.setVringBase(0, 1));
        }
    }

    private static void assertNotSupported(int errno, Executable call) {
        ErrnoException e = assertErrno(errno, call);
        assertInstanceOf(NotSupportedException.class, e, e.getMessage());
        assertTrue(e.getMessage().contains("not supported by this kernel"), e.getMessage());
    }

    static void assertNotSupportedException(int errno, Executable call) {
        assertNotSupported(errno, call);
    }
}
