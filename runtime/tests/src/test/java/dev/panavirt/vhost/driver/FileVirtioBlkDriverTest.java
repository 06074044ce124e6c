package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vdpa.BlkBackend;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.vhost.FileBlkBackend;
import dev.panavirt.vhost.ModelVdpa;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link VirtioBlkDriver} over the vDPA model's block device with a disk image file behind it
 * ({@link ModelVdpa#blk(Path, boolean)}): the capacity is the file's, what the driver writes is in the file and
 * what the host wrote is read, FLUSH reaches {@code fdatasync}, a read-only image offers {@code VIRTIO_BLK_F_RO}
 * and fails writes with IOERR, sizes that are not whole sectors are refused, closing the device closes the file.
 */
class FileVirtioBlkDriverTest {
    static final int QUEUE = 64;
    static final long SECTORS = 2049;                 // an odd size: 1 MiB and one sector

    @TempDir
    Path dir;
    final Arena arena = Arena.ofConfined();
    ModelVdpa device;
    VirtioBlkDriver driver;

    @AfterEach
    void close() {
        if (driver != null) {
            driver.close();
        }
        if (device != null) {
            device.close();
        }
        arena.close();
    }

    /** An image of {@code sectors} sectors, sector n filled with byte n. */
    Path image(String name, long sectors) throws IOException {
        byte[] b = new byte[(int) sectors * 512];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i >>> 9);
        }
        return Files.write(dir.resolve(name), b);
    }

    void open(BlkBackend disk) throws ErrnoException {
        device = ModelVdpa.blk(disk, VdpaSim.Options.defaults());
        driver = VirtioBlkDriver.open(device, QUEUE, 0);
    }

    static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    static byte[] fileBytes(Path file, long offset, int length) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(file), (int) offset, (int) offset + length);
    }

    @Test
    void capacityIdAndContentsComeFromTheFile() throws Exception {
        Path img = image("root-disk.img", SECTORS);
        device = ModelVdpa.blk(img, false);
        driver = VirtioBlkDriver.open(device, QUEUE, 0);
        assertEquals(SECTORS, driver.capacity());
        assertFalse(driver.readOnly());
        assertEquals("root-disk.img", driver.id());
        MemorySegment s = arena.allocate(1024);
        driver.read(SECTORS - 2, s);                  // the last two sectors, as the host wrote them
        assertArrayEquals(fileBytes(img, (SECTORS - 2) * 512, 1024), bytes(s));
        assertEquals((byte) (SECTORS - 1), s.get(ValueLayout.JAVA_BYTE, 1023));
    }

    @Test
    void anIdLongerThanTwentyBytesIsCut() throws Exception {
        device = ModelVdpa.blk(image("a-rather-long-disk-image-name.raw", 8), true);
        driver = VirtioBlkDriver.open(device, QUEUE, 0);
        assertEquals("a-rather-long-disk-i", driver.id());
    }

    @Test
    void writesReachTheFileAndLargeTransfersSpanBounceBuffers() throws Exception {
        Path img = image("disk.img", SECTORS);
        device = ModelVdpa.blk(img, false);
        driver = VirtioBlkDriver.open(device, QUEUE, 0);
        MemorySegment one = VirtioBlkDriverContract.pattern(arena, 512, 11);
        driver.write(1, one);
        assertArrayEquals(bytes(one), fileBytes(img, 512, 512), "sector 1 in the file, before any flush");
        assertArrayEquals(fileBytes(image("ref.img", 2), 0, 512), fileBytes(img, 0, 512), "sector 0 untouched");
        // 300 KiB from sector 100: several requests, each crossing 64 KiB boundaries of the disk.
        int bytes = 300 * 1024;
        MemorySegment big = VirtioBlkDriverContract.pattern(arena, bytes, 12);
        driver.write(100, big);
        assertArrayEquals(bytes(big), fileBytes(img, 100 * 512, bytes));
        MemorySegment back = arena.allocate(bytes);
        driver.read(100, back);
        assertArrayEquals(bytes(big), bytes(back));
        // What the host writes behind the device's back is what the next read sees (no cache in between).
        byte[] host = new byte[512];
        Arrays.fill(host, (byte) 0xc3);
        try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(host), 7 * 512);
        }
        MemorySegment seven = arena.allocate(512);
        driver.read(7, seven);
        assertArrayEquals(host, bytes(seven));
    }

    @Test
    void flushReachesTheBackend() throws Exception {
        Path img = image("disk.img", SECTORS);
        CountingDisk disk = new CountingDisk(FileBlkBackend.open(img, false));
        open(disk);
        driver.write(5, VirtioBlkDriverContract.pattern(arena, 4096, 13));
        assertEquals(0, disk.flushes);
        driver.flush();
        driver.flush();
        assertEquals(2, disk.flushes);
        disk.failFlush = true;                        // a failing fdatasync is the guest's IOERR
        VirtioBlkDriver.BlkException e = assertThrows(VirtioBlkDriver.BlkException.class, driver::flush);
        assertEquals(VirtioBlkDriver.S_IOERR, e.status());
        assertEquals(1, device.model().blkIoErrors());
    }

    @Test
    void aReadOnlyImageOffersRoAndFailsWrites() throws Exception {
        Path img = image("ro.img", SECTORS);
        byte[] before = Files.readAllBytes(img);
        device = ModelVdpa.blk(img, true);
        assertTrue((device.features() & 1L << VdpaSim.BLK_F_RO) != 0, "VIRTIO_BLK_F_RO offered");
        driver = VirtioBlkDriver.open(device, QUEUE, 0);
        assertTrue(driver.readOnly());
        VirtioBlkDriver.BlkException e = assertThrows(VirtioBlkDriver.BlkException.class,
                () -> driver.write(3, VirtioBlkDriverContract.pattern(arena, 1024, 14)));
        assertEquals(VirtioBlkDriver.S_IOERR, e.status());
        MemorySegment s = arena.allocate(512);
        driver.read(3, s);                            // reads still work
        assertArrayEquals(Arrays.copyOfRange(before, 3 * 512, 4 * 512), bytes(s));
        driver.flush();
        assertArrayEquals(before, Files.readAllBytes(img), "the image is unchanged");
        assertEquals(0, device.model().blkIoErrors(), "refused by the device, not failed by the file");
    }

    @Test
    void imagesThatAreNotWholeSectorsAreRefused() throws IOException {
        Path empty = Files.write(dir.resolve("empty.img"), new byte[0]);
        Path odd = Files.write(dir.resolve("odd.img"), new byte[1000]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelVdpa.blk(empty, false));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelVdpa.blk(odd, false));
        assertTrue(e.getMessage().contains("1000 bytes is not a whole number of 512-byte sectors"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelVdpa.blk(dir, true));
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        assertThrows(NoSuchFileException.class, () -> ModelVdpa.blk(dir.resolve("missing.img"), false));
    }

    @Test
    void closingTheDeviceClosesTheFile() throws Exception {
        FileBlkBackend disk = FileBlkBackend.open(image("disk.img", 8), false);
        open(disk);
        driver.close();
        driver = null;
        device.close();
        ErrnoException e = assertThrows(ErrnoException.class, () -> disk.read(0, new byte[512], 0, 512));
        assertEquals(Errno.EBADF, e.errno());
    }

    @Test
    void requestsAllocateNothing() throws Exception {
        C2.assume();
        open(FileBlkBackend.open(image("disk.img", SECTORS), false));
        MemorySegment data = VirtioBlkDriverContract.pattern(arena, 4096, 15);
        MemorySegment back = arena.allocate(4096);
        Allocations.Body body = () -> {
            driver.write(64, data);
            driver.read(64, back);
            driver.flush();
        };
        for (int i = 0; i < 200; i++) {
            body.run();
        }
        long bytes = Allocations.untilZero(Duration.ofSeconds(30), body);
        assertEquals(0, bytes, "write, read and flush allocated " + bytes + " bytes");
        assertArrayEquals(bytes(data), bytes(back));
    }

    /** A file disk whose flushes are counted and can be made to fail. */
    static final class CountingDisk implements BlkBackend {
        final FileBlkBackend file;
        int flushes;
        boolean failFlush;

        CountingDisk(FileBlkBackend file) {
            this.file = file;
        }

        @Override
        public long capacity() {
            return file.capacity();
        }

        @Override
        public boolean readOnly() {
            return file.readOnly();
        }

        @Override
        public byte[] id() {
            return file.id();
        }

        @Override
        public void read(long offset, byte[] dst, int off, int len) throws IOException {
            file.read(offset, dst, off, len);
        }

        @Override
        public void write(long offset, byte[] src, int off, int len) throws IOException {
            file.write(offset, src, off, len);
        }

        @Override
        public void flush() throws IOException {
            if (failFlush) {
                throw new ErrnoException("fdatasync", Errno.EIO, "made to fail by the test");
            }
            file.flush();
            flushes++;
        }

        @Override
        public void zero(long offset, long length) throws IOException {
            file.zero(offset, length);
        }

        @Override
        public void close() {
            file.close();
        }
    }
}
