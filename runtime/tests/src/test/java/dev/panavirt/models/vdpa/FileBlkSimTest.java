package dev.panavirt.models.vdpa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.vhost.FileBlkBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The block simulator over a disk image file ({@link FileBlkBackend}), driven by hand-built rings as
 * {@link VdpaSimDatapathTest} drives the RAM disk: the capacity in config space and in the range checks is the
 * file's, WRITE_ZEROES and DISCARD, a read-only image, and a failing file answered with IOERR.
 */
class FileBlkSimTest {
    static final long SECTORS = 2049;

    @TempDir
    Path dir;
    final VdpaSimDatapathTest rings = new VdpaSimDatapathTest();
    FileBlkBackend disk;

    @AfterEach
    void close() {
        if (disk != null) {
            disk.close();
        }
    }

    Path image(long sectors, int fill) throws Exception {
        byte[] b = new byte[(int) sectors * 512];
        Arrays.fill(b, (byte) fill);
        return Files.write(dir.resolve("disk.img"), b);
    }

    VdpaSim start(Path img, boolean readOnly) throws Exception {
        disk = FileBlkBackend.open(img, readOnly);
        VdpaSim s = VdpaSim.blk(VdpaSim.Options.defaults(), rings.r, disk);
        return rings.start(s, s.features());
    }

    int request(VdpaSim s, int type, long sector, int dataLen, boolean in) {
        return rings.blkRequest(s, 0, type, sector, dataLen, in);
    }

    @Test
    void theCapacityIsTheFilesInConfigSpaceAndInTheRangeChecks() throws Exception {
        Path img = image(SECTORS, 0x11);
        VdpaSim s = start(img, false);
        byte[] cfg = new byte[8];
        s.getConfig(0, cfg, 8);
        assertEquals(SECTORS, Le.get64(cfg, 0));
        assertEquals(0, s.features() & 1L << VdpaSim.BLK_F_RO, "RO not offered for a writable image");
        assertEquals(0, request(s, BlkSim.T_IN, SECTORS - 1, 512, true));          // the last sector
        assertArrayEquals(concat(new byte[] {0x11}, 512), rings.r.get(VdpaSimDatapathTest.BUF + 0x1000, 512));
        assertEquals(1, request(s, BlkSim.T_IN, SECTORS - 1, 1024, true));         // runs past the end
        assertEquals(1, request(s, BlkSim.T_IN, SECTORS, 512, true));              // starts at the capacity
        assertEquals(1, request(s, BlkSim.T_OUT, SECTORS - 1, 513, false));        // one byte past the end
        assertEquals(1, request(s, BlkSim.T_IN, VdpaSim.BLK_CAPACITY - 1, 512, true), "not the RAM disk's size");
        assertEquals(0, s.blkIoErrors());
        assertArrayEquals(concat(new byte[] {0x11}, SECTORS * 512), Files.readAllBytes(img), "nothing written");
    }

    @Test
    void writeZeroesReachesTheFileAndDiscardKeepsData() throws Exception {
        Path img = image(SECTORS, 0x22);
        VdpaSim s = start(img, false);
        byte[] seg = new byte[16];
        Le.put64(seg, 0, 8);
        Le.put32(seg, 8, 3);
        rings.r.put(VdpaSimDatapathTest.BUF + 0x1000, seg);
        assertEquals(0, request(s, BlkSim.T_DISCARD, 0, 16, false));
        assertArrayEquals(concat(new byte[] {0x22}, SECTORS * 512), Files.readAllBytes(img));
        assertEquals(0, request(s, BlkSim.T_WRITE_ZEROES, 0, 16, false));
        byte[] file = Files.readAllBytes(img);
        assertArrayEquals(new byte[3 * 512], Arrays.copyOfRange(file, 8 * 512, 11 * 512));
        assertEquals(0x22, file[8 * 512 - 1]);
        assertEquals(0x22, file[11 * 512]);
        Le.put64(seg, 0, SECTORS - 1);
        Le.put32(seg, 8, 2);
        rings.r.put(VdpaSimDatapathTest.BUF + 0x1000, seg);
        assertEquals(1, request(s, BlkSim.T_WRITE_ZEROES, 0, 16, false));          // past the end
        assertEquals(0x22, Files.readAllBytes(img)[(int) (SECTORS - 1) * 512]);
    }

    @Test
    void aReadOnlyImageRefusesEveryWrite() throws Exception {
        Path img = image(SECTORS, 0x33);
        VdpaSim s = start(img, true);
        assertEquals(1L << VdpaSim.BLK_F_RO, s.driverFeatures() & 1L << VdpaSim.BLK_F_RO, "RO offered and taken");
        byte[] data = new byte[512];
        rings.r.put(VdpaSimDatapathTest.BUF + 0x1000, data);
        assertEquals(1, request(s, BlkSim.T_OUT, 0, 512, false));
        byte[] seg = new byte[16];
        Le.put32(seg, 8, 1);
        rings.r.put(VdpaSimDatapathTest.BUF + 0x1000, seg);
        assertEquals(1, request(s, BlkSim.T_WRITE_ZEROES, 0, 16, false));
        assertEquals(1, request(s, BlkSim.T_DISCARD, 0, 16, false));
        assertEquals(0, request(s, BlkSim.T_FLUSH, 0, 0, false));
        assertEquals(0, request(s, BlkSim.T_IN, 4, 512, true));
        assertArrayEquals(concat(new byte[] {0x33}, 512), rings.r.get(VdpaSimDatapathTest.BUF + 0x1000, 512));
        assertArrayEquals(concat(new byte[] {0x33}, SECTORS * 512), Files.readAllBytes(img));
        assertEquals(0, request(s, BlkSim.T_GET_ID, 0, 20, true));
        assertEquals("disk.img", new String(rings.r.get(VdpaSimDatapathTest.BUF + 0x1000, 8)));
        assertEquals(0, rings.r.get(VdpaSimDatapathTest.BUF + 0x1000 + 8, 1)[0], "NUL-padded");
    }

    @Test
    void aFailingFileIsIoerrNotACrash() throws Exception {
        VdpaSim s = start(image(SECTORS, 0x44), false);
        disk.close();                                                               // every call now EBADF
        assertEquals(1, request(s, BlkSim.T_IN, 0, 512, true));
        assertEquals(1, request(s, BlkSim.T_OUT, 0, 512, false));
        assertEquals(1, request(s, BlkSim.T_FLUSH, 0, 0, false));
        assertEquals(3, s.blkIoErrors());
        assertEquals(0, s.deviceErrors(), "each request was answered, with IOERR");
        assertEquals(3, rings.q(0).usedIdx());
    }

    @Test
    void aDiskOfNoSectorsIsRefused() throws Exception {
        BlkBackend none = new BlkStore(0);
        assertThrows(IllegalArgumentException.class, () -> VdpaSim.blk(VdpaSim.Options.defaults(), rings.r, none));
    }

    /** {@code unit} repeated to {@code length} bytes. */
    static byte[] concat(byte[] unit, long length) {
        byte[] b = new byte[(int) length];
        for (int i = 0; i < b.length; i++) {
            b[i] = unit[i % unit.length];
        }
        return b;
    }
}
