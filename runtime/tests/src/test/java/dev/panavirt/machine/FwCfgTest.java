package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.vmm.legacy.FwCfg;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** fw_cfg's port interface, driven the way a guest drives it: 16-bit select, then byte reads. */
class FwCfgTest {
    private final FwCfg fw = FwCfg.forMachine(256L << 20, 4);

    private void select(int key) {
        fw.write(FwCfg.SELECTOR_PORT, 0, MemorySegment.ofArray(new byte[] {(byte) key, (byte) (key >> 8)}));
    }

    private byte[] read(int n) {
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            byte[] one = new byte[1];
            fw.read(FwCfg.SELECTOR_PORT, 1, MemorySegment.ofArray(one));
            out[i] = one[0];
        }
        return out;
    }

    private long readLe(int key, int n) {
        select(key);
        byte[] b = read(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (b[i] & 0xff);
        }
        return v;
    }

    @Test
    void theItemsKvmUnitTestsRead() {
        select(FwCfg.SIGNATURE);
        assertEquals("QEMU", new String(read(4), StandardCharsets.US_ASCII));
        assertEquals(FwCfg.ID_TRADITIONAL, readLe(FwCfg.ID, 4));
        assertEquals(256L << 20, readLe(FwCfg.RAM_SIZE, 8));
        assertEquals(4, readLe(FwCfg.NB_CPUS, 2));
        assertEquals(4, readLe(FwCfg.MAX_CPUS, 2));
        assertEquals(1, readLe(FwCfg.NOGRAPHIC, 2));
        assertEquals(0, readLe(FwCfg.FILE_DIR, 4), "no files");
        select(FwCfg.UUID);
        assertArrayEquals(new byte[16], read(16));
    }

    @Test
    void selectingRewindsAndReadsPastTheEndGiveZero() {
        select(FwCfg.SIGNATURE);
        assertEquals('Q', read(1)[0]);
        assertArrayEquals("EMU\0\0".getBytes(StandardCharsets.US_ASCII), read(5));
        select(FwCfg.SIGNATURE);
        assertEquals('Q', read(1)[0]);
        assertEquals(0, readLe(0x1234, 8), "an item that does not exist reads as zeros");
    }

    @Test
    void widerReadsOfTheDataPortReturnConsecutiveBytes() {
        select(FwCfg.SIGNATURE);
        byte[] four = new byte[4];
        fw.read(FwCfg.SELECTOR_PORT, 1, MemorySegment.ofArray(four));
        assertEquals("QEMU", new String(four, StandardCharsets.US_ASCII));
    }

    @Test
    void otherAccessesAreIgnored() {
        select(FwCfg.NB_CPUS);
        fw.write(FwCfg.SELECTOR_PORT, 0, MemorySegment.ofArray(new byte[] {FwCfg.SIGNATURE}));  // 8-bit select
        fw.write(FwCfg.SELECTOR_PORT, 1, MemorySegment.ofArray(new byte[] {0x55}));            // data write
        byte[] sel = new byte[2];   // the bus hands devices zero-filled read windows
        fw.read(FwCfg.SELECTOR_PORT, 0, MemorySegment.ofArray(sel));
        assertArrayEquals(new byte[2], sel, "the selector reads as 0 and does not advance the data");
        assertArrayEquals(new byte[] {4, 0}, read(2), "still the CPU count, from its first byte");
    }

    @Test
    void itemsCanBeAdded() {
        fw.putLong(0x8000, 0x1122_3344_5566_7788L);
        assertEquals(0x1122_3344_5566_7788L, readLe(0x8000, 8));
        assertArrayEquals(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0x1122_3344_5566_7788L)
                .array(), fw.get(0x8000));
        assertThrows(IllegalArgumentException.class, () -> fw.put(0x10000, new byte[1]));
    }
}
