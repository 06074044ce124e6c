package dev.panavirt.vhost;

import static dev.panavirt.vhost.VhostVdpaRig.ACKNOWLEDGE;
import static dev.panavirt.vhost.VhostVdpaRig.BLK;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_ASID;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_BATCH;
import static dev.panavirt.vhost.VhostVdpaRig.B_IOTLB_MSG_V2;
import static dev.panavirt.vhost.VhostVdpaRig.DRIVER;
import static dev.panavirt.vhost.VhostVdpaRig.DRIVER_OK;
import static dev.panavirt.vhost.VhostVdpaRig.FEATURES_OK;
import static dev.panavirt.vhost.VhostVdpaRig.NET;
import static dev.panavirt.vhost.VhostVdpaRig.assertErrno;
import static dev.panavirt.vhost.VhostVdpaRig.assertPlainErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.SharedMemory;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import dev.panavirt.testsupport.RequiresDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The IOTLB of {@link VhostVdpa} against the kernel (drivers/vhost/vhost.c {@code vhost_chr_write_iter},
 * drivers/vhost/vdpa.c {@code vhost_vdpa_process_iotlb_msg}) with vdpa_sim's net device, and the ioctls whose
 * answer depends on vdpa_sim's op set. Which op set the simulators have follows the module parameter
 * {@code batch_mapping} the lane loaded vdpa_sim with ({@code lane/run --vdpa-sim-params batch_mapping=0}); the
 * tests read it from sysfs and check the path in force: {@code set_map} (1, the default: vhost-vdpa pushes the whole
 * table outside a batch) or {@code dma_map} (0: one entry at a time, and {@code get_vq_size}). With
 * {@code max_iotlb_entries} at most 64 the simulator's entry limit is checked too.
 */
@Tag("vdpa")
@RequiresDevice("vdpa")
class VhostVdpaIotlbTest {
    private static final long PAGE = 4096;
    private static final long IOVA = 0x100_0000;

    private Arena arena;
    private MemorySegment shared;
    private VhostVdpa net;

    @BeforeEach
    void open() throws ErrnoException {
        arena = Arena.ofShared();
        shared = SharedMemory.map(arena, 16 * PAGE, "vhost-vdpa-iotlb-test");
        net = VhostVdpa.open(NET);
    }

    @AfterEach
    void close() {
        if (net != null) {
            net.close(); // before the memory goes: the release drops the mappings
        }
        arena.close();
    }

    @Test
    void updateOverlapAndInvalidate() throws ErrnoException {
        net.setOwner();
        net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE);
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE));
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA + 15 * PAGE, shared.asSlice(0, 2 * PAGE), VdpaDevice.READ));
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA - PAGE, shared.asSlice(0, 2 * PAGE), VdpaDevice.WRITE));
        net.iotlbUpdate(0, IOVA + 16 * PAGE, shared.asSlice(0, PAGE), VdpaDevice.READ); // adjacent: no overlap
        net.iotlbUpdate(0, IOVA - PAGE, shared.asSlice(PAGE, PAGE), VdpaDevice.READ);
        net.iotlbInvalidate(0, IOVA, 16 * PAGE);
        net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE); // gone, so free again
        net.iotlbInvalidate(0, IOVA + PAGE, PAGE); // an entry intersecting the range goes whole...
        if (VhostVdpaRig.simParam("use_va").equals("Y")) {
            // ...and vhost_vdpa_va_map made one entry of the whole VMA. vhost_vdpa_pa_map (use_va=0) makes one per
            // physically contiguous run of pages instead, so there what goes depends on the page frames.
            net.iotlbUpdate(0, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ);
        }
        net.iotlbInvalidate(0, 0x7000_0000_0000L, PAGE); // nothing there: no error
        net.iotlbInvalidate(0, 0, -1L); // everything
        net.iotlbUpdate(0, IOVA - PAGE, shared.asSlice(0, PAGE), VdpaDevice.READ);
    }

    @Test
    void iotlbMessagesNeedTheOwner() throws ErrnoException {
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE));
        assertIotlbEfault(() -> net.iotlbInvalidate(0, IOVA, PAGE));
        assertIotlbEfault(() -> net.iotlbBatchBegin(0));
        net.setOwner();
        net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE);
    }

    @Test
    void sizeZeroIsEinvalAndRangesOutsideTheIovaRangeEfault() throws ErrnoException {
        net.setOwner();
        assertEquals(new IovaRange(0, -1), net.iovaRange());
        // vhost_chr_write_iter refuses an empty UPDATE before the handler: EINVAL, not EFAULT
        assertPlainErrno(Errno.EINVAL, () -> net.iotlbUpdate(0, IOVA, 0, shared.address(), VdpaDevice.READ));
        // the range covers all of u64, so only a wrapping range is outside it
        assertIotlbEfault(() -> net.iotlbUpdate(0, -PAGE, 2 * PAGE, shared.address(), VdpaDevice.READ));
        net.iotlbUpdate(0, -PAGE, PAGE, shared.address(), VdpaDevice.READ); // the last page is fine
        net.iotlbUpdate(0, 0, PAGE, shared.address(), VdpaDevice.READ); // and so is the first
        // an address with no mapping above it (find_vma finds none)
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, PAGE, 0x7FFF_FFFF_F000L, VdpaDevice.READ));
        // on 6.12 an empty INVALIDATE is not refused
        net.iotlbInvalidate(0, IOVA, 0);
    }

    @Test
    void anonymousMemoryIsSkippedSilentlyWithUseVa() throws ErrnoException {
        boolean useVa = VhostVdpaRig.simParam("use_va").equals("Y");
        net.setOwner();
        MemorySegment anon = Mmap.map(arena, 4 * PAGE, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, null, 0, "anonymous");
        net.iotlbUpdate(0, IOVA, anon, VdpaDevice.READ_WRITE);
        if (useVa) {
            // vhost_vdpa_va_map entered nothing, so the same IOVAs are still free
            net.iotlbUpdate(0, IOVA, anon, VdpaDevice.READ_WRITE);
            net.iotlbUpdate(0, IOVA, shared.asSlice(0, 4 * PAGE), VdpaDevice.READ_WRITE);
        } else {
            // vhost_vdpa_pa_map pins anonymous pages as well
            assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, anon, VdpaDevice.READ_WRITE));
        }
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ));
        assertThrows(IllegalArgumentException.class,
                () -> net.iotlbUpdate(0, IOVA, MemorySegment.ofArray(new byte[4096]), VdpaDevice.READ));
    }

    @Test
    void asidIsReadOnlyOnceIotlbAsidIsAcked() throws ErrnoException {
        net.setOwner();
        // not acked: the field is skipped, every message is for address space 0
        net.iotlbUpdate(1, IOVA, shared, VdpaDevice.READ_WRITE);
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE));
        net.iotlbUpdate(7, IOVA + 16 * PAGE, shared, VdpaDevice.READ_WRITE); // even one the device lacks
        net.iotlbInvalidate(0, 0, -1L);

        net.setBackendFeatures(B_IOTLB_MSG_V2 | B_IOTLB_BATCH | B_IOTLB_ASID);
        assertIotlbEfault(() -> net.iotlbInvalidate(1, IOVA, PAGE)); // address space 1 does not exist yet
        net.iotlbUpdate(1, IOVA, shared, VdpaDevice.READ_WRITE); // creates it
        net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE); // a table of its own
        assertIotlbEfault(() -> net.iotlbUpdate(1, IOVA, shared, VdpaDevice.READ_WRITE));
        assertIotlbEfault(() -> net.iotlbUpdate(2, IOVA, shared, VdpaDevice.READ_WRITE)); // nas is 2
        assertIotlbEfault(() -> net.iotlbBatchBegin(2));
        net.iotlbInvalidate(1, IOVA, 16 * PAGE);
        net.iotlbUpdate(1, IOVA, shared, VdpaDevice.READ_WRITE);
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE));
    }

    @Test
    void batchesTakeOneAddressSpace() throws ErrnoException {
        net.setOwner();
        net.setBackendFeatures(B_IOTLB_MSG_V2 | B_IOTLB_BATCH | B_IOTLB_ASID);
        // vhost_vdpa_open makes no address space: UPDATE and BATCH_BEGIN create them, the others need one
        assertIotlbEfault(() -> net.iotlbBatchEnd(0));
        assertIotlbEfault(() -> net.iotlbBatchEnd(1));
        net.iotlbBatchBegin(0);
        for (int i = 0; i < 8; i++) {
            net.iotlbUpdate(0, IOVA + i * 2 * PAGE, shared.asSlice(i * PAGE, PAGE), VdpaDevice.READ);
        }
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ)); // overlap in the batch
        assertIotlbEfault(() -> net.iotlbUpdate(1, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ)); // another AS
        assertIotlbEfault(() -> net.iotlbBatchBegin(1));
        net.iotlbInvalidate(0, IOVA, 2 * PAGE);
        net.iotlbBatchEnd(0);
        net.iotlbUpdate(1, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ); // the batch is over
        net.iotlbBatchBegin(0);
        net.iotlbBatchBegin(0); // again: still one batch
        net.iotlbBatchEnd(0);
        net.iotlbBatchEnd(0);
        // a status reset does not end a batch (only open and release clear in_batch, vhost_vdpa_reset)
        net.iotlbBatchBegin(0);
        net.setStatus(ACKNOWLEDGE);
        net.setStatus(0);
        assertIotlbEfault(() -> net.iotlbUpdate(1, IOVA + PAGE, shared.asSlice(0, PAGE), VdpaDevice.READ));
        net.iotlbBatchEnd(0);
        net.iotlbUpdate(1, IOVA + PAGE, shared.asSlice(0, PAGE), VdpaDevice.READ);
    }

    @Test
    void shortAndOddWrites() throws ErrnoException {
        net.setOwner();
        MemorySegment m = arena.allocate(128, 8);
        fillV2(m, 2, 0, IOVA, PAGE, shared.address(), VdpaDevice.READ);
        for (int len : new int[] {0, 1, 3, 4, 8, 39}) {
            long n = len;
            ErrnoException e = assertErrno(Errno.EINVAL, () -> net.writeIotlb(m.asSlice(0, n)));
            assertTrue(e.getMessage().contains(len + " bytes"), e.getMessage());
        }
        // 40 bytes are a whole message (kind, asid or padding, struct vhost_iotlb_msg); 6.12 answers 72 all the same
        assertEquals(72, net.writeIotlb(m.asSlice(0, 40)));
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ)); // it was entered
        fillV2(m, 2, 0, IOVA + PAGE, PAGE, shared.address(), VdpaDevice.READ);
        assertEquals(72, net.writeIotlb(m.asSlice(0, 71)));
        fillV2(m, 2, 0, IOVA + 2 * PAGE, PAGE, shared.address(), VdpaDevice.READ);
        assertEquals(72, net.writeIotlb(m.asSlice(0, 72)));
        fillV2(m, 2, 0, IOVA + 3 * PAGE, PAGE, shared.address(), VdpaDevice.READ);
        assertEquals(72, net.writeIotlb(m), "bytes past the message are not read");
        // v1: struct vhost_msg, 4 bytes of padding where v2 has the ASID
        fillV2(m, 1, 0, IOVA + 4 * PAGE, PAGE, shared.address(), VdpaDevice.READ);
        assertEquals(72, net.writeIotlb(m.asSlice(0, 72)));
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA + 4 * PAGE, shared.asSlice(0, PAGE), VdpaDevice.READ));
        // unknown kinds
        for (int kind : new int[] {0, 3, -1}) {
            fillV2(m, kind, 0, IOVA + 5 * PAGE, PAGE, shared.address(), VdpaDevice.READ);
            assertPlainErrno(Errno.EINVAL, () -> net.writeIotlb(m.asSlice(0, 72)));
        }
        // message types the handler does not take: MISS (1), ACCESS_FAIL (4), unknown (9)
        for (int type : new int[] {1, 4, 9}) {
            fillV2(m, 2, 0, IOVA + 5 * PAGE, PAGE, shared.address(), VdpaDevice.READ);
            m.set(ValueLayout.JAVA_BYTE, 8 + 25, (byte) type);
            assertPlainErrno(Errno.EFAULT, () -> net.writeIotlb(m.asSlice(0, 72)));
        }
        // with IOTLB_ASID acked the ASID is read, and still 40 bytes make a message
        net.setBackendFeatures(B_IOTLB_MSG_V2 | B_IOTLB_ASID);
        fillV2(m, 2, 1, IOVA, PAGE, shared.address(), VdpaDevice.READ);
        assertEquals(72, net.writeIotlb(m.asSlice(0, 40)));
        assertIotlbEfault(() -> net.iotlbUpdate(1, IOVA, shared.asSlice(0, PAGE), VdpaDevice.READ));
        assertPlainErrno(Errno.EINVAL, () -> net.writeIotlb(m.asSlice(0, 7)));
        assertThrows(IllegalArgumentException.class, () -> net.writeIotlb(MemorySegment.ofArray(new byte[72])));
    }

    /** A {@code vhost_msg_v2} (or, with kind 1, {@code vhost_msg}) {@code UPDATE} in {@code m}. */
    private static void fillV2(MemorySegment m, int kind, int asid, long iova, long size, long uaddr, int perm) {
        m.fill((byte) 0);
        m.set(ValueLayout.JAVA_INT, 0, kind);
        m.set(ValueLayout.JAVA_INT, 4, asid);
        m.set(ValueLayout.JAVA_LONG, 8, iova);
        m.set(ValueLayout.JAVA_LONG, 16, size);
        m.set(ValueLayout.JAVA_LONG, 24, uaddr);
        m.set(ValueLayout.JAVA_BYTE, 32, (byte) perm);
        m.set(ValueLayout.JAVA_BYTE, 33, (byte) 2); // VHOST_IOTLB_UPDATE
    }

    @Test
    void vhostKeepsItsTableAcrossAStatusReset() throws ErrnoException {
        net.setOwner();
        net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE);
        net.setStatus(ACKNOWLEDGE);
        net.setStatus(0);
        // the reset cleans the device's map (VDPA_RESET_F_CLEAN_MAP without IOTLB_PERSIST: vdpa_sim goes back to
        // pass-through), not vhost-vdpa's table, which only the release empties
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE));
        net.setBackendFeatures(B_IOTLB_MSG_V2 | VhostVdpaRig.B_IOTLB_PERSIST);
        net.setStatus(ACKNOWLEDGE);
        net.setStatus(0);
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE));
    }

    // --- what depends on the op set (batch_mapping) ----------------------------------------------------------------

    @Test
    void vdpaSimHasTheParametersTheLaneWasAskedFor() {
        String asked = System.getProperty("panavirt.lane.vdpaSimParams", "");
        assumeTrue(!asked.isBlank(), "lane/run was given no --vdpa-sim-params");
        for (String word : asked.strip().split("\\s+")) {
            String[] kv = word.split("=", 2);
            String value = kv[1].equals("1") ? "Y" : kv[1].equals("0") ? "N" : kv[1];
            String actual = VhostVdpaRig.simParam(kv[0]);
            assertTrue(actual.equals(kv[1]) || actual.equals(value), word + " asked, vdpa_sim has " + kv[0] + "=" + actual);
        }
    }

    @Test
    void vringSizeFollowsTheOpSet() throws ErrnoException {
        net.setOwner();
        if (VhostVdpaRig.batchMapping()) {
            VhostVdpaTest.assertNotSupportedException(Errno.EOPNOTSUPP, () -> net.vringSize(0));
        } else {
            assertEquals(256, net.vringSize(0), "before DRIVER_OK: VDPASIM_QUEUE_MAX");
            net.setVringNum(0, 64);
            assertEquals(256, net.vringSize(0));
            net.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            assertEquals(64, net.vringSize(0), "with DRIVER_OK: the queue's size");
        }
    }

    @Test
    void updatesBeyondTheSimulatorsEntryLimitAreRefused() throws ErrnoException {
        int limit = Integer.parseInt(VhostVdpaRig.simParam("max_iotlb_entries"));
        assumeTrue(limit > 0 && limit <= 64, "vdpa_sim max_iotlb_entries=" + limit + " (run the lane with"
                + " --vdpa-sim-params max_iotlb_entries=16 to check the limit)");
        net.setOwner();
        MemorySegment page = shared.asSlice(0, PAGE);
        for (int i = 0; i < limit; i++) {
            net.iotlbUpdate(0, IOVA + i * PAGE * 2, page, VdpaDevice.READ);
        }
        // set_map: the push of limit+1 entries fails; dma_map: the device's own add fails (ENOSPC inside)
        assertIotlbEfault(() -> net.iotlbUpdate(0, IOVA + limit * PAGE * 2, page, VdpaDevice.READ));
        // the refused entry is not in vhost-vdpa's table either
        net.iotlbInvalidate(0, IOVA, PAGE);
        net.iotlbUpdate(0, IOVA + limit * PAGE * 2, page, VdpaDevice.READ);
        if (VhostVdpaRig.batchMapping()) {
            // inside a batch nothing is pushed, and the push at BATCH_END has no way to report its failure
            net.iotlbBatchBegin(0);
            net.iotlbUpdate(0, IOVA, page, VdpaDevice.READ);
            net.iotlbUpdate(0, IOVA + (limit + 1) * PAGE * 2, page, VdpaDevice.READ);
            net.iotlbBatchEnd(0);
        }
    }

    @Test
    void blockDeviceHasOneAddressSpace() throws ErrnoException {
        net.close();
        net = null;
        try (VhostVdpa blk = VhostVdpa.open(BLK)) {
            blk.setOwner();
            blk.setBackendFeatures(B_IOTLB_MSG_V2 | B_IOTLB_ASID);
            blk.iotlbUpdate(0, IOVA, shared, VdpaDevice.READ_WRITE);
            assertIotlbEfault(() -> blk.iotlbUpdate(1, IOVA, shared, VdpaDevice.READ_WRITE));
            blk.iotlbInvalidate(0, IOVA, 16 * PAGE);
        }
    }

    private static void assertIotlbEfault(org.junit.jupiter.api.function.Executable call) {
        ErrnoException e = assertPlainErrno(Errno.EFAULT, call);
        assertTrue(e.operation().startsWith("VHOST_IOTLB_"), e.getMessage());
    }
}
