package dev.panavirt.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vhost.ModelVdpa;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A KVM guest's virtio-blk driver ({@link VirtioBlkGuest}) on a disk image file: {@link VirtioMmioVdpa} in front
 * of the vDPA model's block device with the file behind it ({@link ModelVdpa#blk(java.nio.file.Path, boolean)}),
 * what a VMM's {@code --disk FILE[,ro]} gives a Linux guest. The guest reads the sector the host wrote, its
 * write is in the file, FLUSH and GET_ID answer; a read-only image offers RO and fails the write.
 */
@KvmTest
class ModelVirtioBlkGuestTest {
    static final Duration T = Duration.ofSeconds(60);
    static final int SECTORS = 4097;                   // 2 MiB and one sector
    static final int OK = 0, IOERR = 1;

    @TempDir
    Path dir;

    Path image() throws Exception {
        byte[] b = new byte[SECTORS * 512];
        for (int i = 0; i < 512; i++) {
            b[i] = (byte) (0xa0 ^ i);
        }
        return Files.write(dir.resolve("guest-disk.img"), b);
    }

    /** One run's outcome: the status word GUEST_DONE gave, the result area, the three buffers. */
    record Run(long statuses, ByteBuffer result, byte[] read, byte[] written, byte[] id) {
        int status(int request) {
            return (int) (statuses >>> (8 * request)) & 0xff;
        }

        long capacity() {
            return result.getLong(8);
        }

        int usedLength(int request) {
            return result.getInt(16 + 4 * request);
        }

        boolean offersRo() {
            return (result.getInt(0) & 1 << VdpaSim.BLK_F_RO) != 0;
        }
    }

    Run run(Path img, boolean readOnly) throws Exception {
        try (ModelVdpa vdpa = ModelVdpa.blk(img, readOnly);
                TestGuest g = TestGuest.create(Guests.c(VirtioBlkGuest.source()), true,
                        Options.defaults().withIrqchip().withSharedMemory())) {
            long statuses;
            try (VirtioMmioVdpa blk = VirtioMmioVdpa.attach(g.vm(), g.mmio(), VirtioBlkGuest.BASE,
                    VirtioBlkGuest.GSI, vdpa)) {
                statuses = g.runToDone(0, T);
                assertEquals(0, blk.trappedNotifies(), "every notify went through an ioeventfd");
            }
            ByteBuffer result = ByteBuffer.wrap(g.memory().read(VirtioBlkGuest.RESULT, 32))
                    .order(ByteOrder.LITTLE_ENDIAN);
            long data = VirtioBlkGuest.DATA;
            return new Run(statuses, result, g.memory().read(data, 512), g.memory().read(data + 0x1000, 512),
                    g.memory().read(data + 0x2000, 20));
        }
    }

    @Test
    void theGuestReadsWritesFlushesAndGetsTheIdOfAFile() throws Exception {
        Path img = image();
        byte[] before = Files.readAllBytes(img);
        Run r = run(img, false);
        for (int i = 0; i < 4; i++) {
            assertEquals(OK, r.status(i), "request " + i);
        }
        assertEquals(SECTORS, r.capacity(), "capacity from config space");
        assertFalse(r.offersRo(), "RO not offered for a writable image");
        assertArrayEquals(Arrays.copyOf(before, 512), r.read(), "sector 0 as the host wrote it");
        byte[] after = Files.readAllBytes(img);
        assertArrayEquals(VirtioBlkGuest.written(), Arrays.copyOfRange(after, 512, 1024), "sector 1 in the file");
        assertArrayEquals(Arrays.copyOfRange(before, 1024, before.length),
                Arrays.copyOfRange(after, 1024, after.length), "nothing else changed");
        assertEquals("guest-disk.img", new String(r.id(), StandardCharsets.US_ASCII).replace("\0", ""));
        assertEquals(513, r.usedLength(0), "IN: data and status");
        assertEquals(1, r.usedLength(1), "OUT: status");
        assertEquals(1, r.usedLength(2), "FLUSH: status");
        assertEquals(21, r.usedLength(3), "GET_ID: id and status");
    }

    @Test
    void aReadOnlyImageFailsTheGuestsWrite() throws Exception {
        Path img = image();
        byte[] before = Files.readAllBytes(img);
        Run r = run(img, true);
        assertTrue(r.offersRo(), "VIRTIO_BLK_F_RO offered");
        assertEquals(OK, r.status(0));
        assertEquals(IOERR, r.status(1), "the write");
        assertEquals(OK, r.status(2));
        assertEquals(OK, r.status(3));
        assertArrayEquals(Arrays.copyOf(before, 512), r.read());
        assertArrayEquals(before, Files.readAllBytes(img), "the image is unchanged");
    }
}
