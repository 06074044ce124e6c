package dev.panavirt.models.gicv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.base.LongMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The guest-memory abstraction the ITS reads through, and the allocation-free map behind its tables. */
class ItsGuestRamTest {

    @Test
    void heapRamReadsZeroUntilWrittenAndIsLittleEndian() throws ErrnoException {
        HeapGuestRam ram = new HeapGuestRam(0x1000, 0x3000);
        assertEquals(0, ram.readLong(0x1000));
        ram.writeLong(0x1008, 0x0102_0304_0506_0708L);
        assertEquals(0x08, ram.readByte(0x1008));
        assertEquals(0x01, ram.readByte(0x100F));
        assertEquals(0x0102_0304_0506_0708L, ram.readLong(0x1008));
    }

    @Test
    void heapRamAccessesMayCrossPagesInsideSlots() throws ErrnoException {
        HeapGuestRam ram = new HeapGuestRam(0x1000, 0x2000);
        ram.writeLong(0x1FFC, -2L);
        assertEquals(-2L, ram.readLong(0x1FFC));
        byte[] data = new byte[100];
        new Random(1).nextBytes(data);
        ram.write(0x1FD0, data, 0, data.length);
        byte[] back = new byte[100];
        ram.read(0x1FD0, back, 0, back.length);
        assertArrayEquals(data, back);
    }

    @Test
    void unbackedAccessesFailWithEfault() {
        HeapGuestRam ram = new HeapGuestRam(0x1000, 0x1000);
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.readLong(0x2000));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.readLong(0x1FFC));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.writeLong(0x0FFC, 1));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.readByte(0xFFF));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.writeByte(0x2000, 1));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.write(0x1FF0, new byte[32], 0, 32));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.read(-8, new byte[16], 0, 16));
    }

    @Test
    void partialWritesWriteNothing() throws ErrnoException {
        HeapGuestRam ram = new HeapGuestRam(0x1000, 0x1000);
        assertThrows(ErrnoException.class, () -> ram.writeLong(0x1FFC, -1L));
        assertEquals(0, ram.readByte(0x1FFC));
    }

    @Test
    void isMappedFollowsSlots() {
        HeapGuestRam ram = new HeapGuestRam().map(0x1000, 0x1000).map(0x10_0000, 0x2000);
        assertTrue(ram.isMapped(0x1000));
        assertTrue(ram.isMapped(0x1FFF));
        assertFalse(ram.isMapped(0x2000));
        assertTrue(ram.isMapped(0x10_1FFF));
        assertFalse(ram.isMapped(0));
        assertEquals(2, ram.slots().size());
    }

    @Test
    void unmapForgetsContentsAndFaults() throws ErrnoException {
        HeapGuestRam ram = new HeapGuestRam(0x1000, 0x1000);
        ram.writeLong(0x1000, 5);
        assertTrue(ram.unmap(0x1000));
        assertFalse(ram.unmap(0x1000));
        ItsRig.assertErrno(Errno.EFAULT, () -> ram.readLong(0x1000));
        ram.map(0x1000, 0x1000);
        assertEquals(0, ram.readLong(0x1000));
    }

    @Test
    void slotsMustBeAlignedAndDisjoint() {
        HeapGuestRam ram = new HeapGuestRam(0x1000, 0x2000);
        assertThrows(IllegalArgumentException.class, () -> ram.map(0x2000, 0x1000));
        assertThrows(IllegalArgumentException.class, () -> ram.map(0x800, 0x1000));
        assertThrows(IllegalArgumentException.class, () -> ram.map(0x8000, 0x800));
        assertThrows(IllegalArgumentException.class, () -> ram.map(0x8000, 0));
        assertThrows(IllegalArgumentException.class, () -> ram.map(-0x1000, 0x1000));
    }

    @Test
    void faultExceptionCarriesEfault() {
        ErrnoException e = GuestRam.fault("read", 0x1234, 8);
        assertEquals(Errno.EFAULT, e.errno());
        assertTrue(e.getMessage().contains("0x1234"));
    }

    @Test
    void longMapBehavesLikeAHashMapUnderRandomChurn() {
        LongMap<Long> map = new LongMap<>();
        Map<Long, Long> ref = new HashMap<>();
        Random rnd = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            long key = rnd.nextInt(3000) * 0x1_0000_0001L;
            switch (rnd.nextInt(3)) {
                case 0 -> {
                    map.put(key, (long) i);
                    ref.put(key, (long) i);
                }
                case 1 -> assertEquals(ref.remove(key), map.remove(key));
                default -> assertEquals(ref.get(key), map.get(key));
            }
            assertEquals(ref.size(), map.size());
        }
        for (Map.Entry<Long, Long> e : ref.entrySet()) {
            assertEquals(e.getValue(), map.get(e.getKey()));
        }
        map.clear();
        assertEquals(0, map.size());
    }

    @Test
    void longMapReservesMinValue() {
        LongMap<String> map = new LongMap<>();
        assertNull(map.get(Long.MIN_VALUE));
        assertNull(map.remove(Long.MIN_VALUE));
        assertThrows(IllegalArgumentException.class, () -> map.put(Long.MIN_VALUE, "x"));
        map.put(-1L, "neg");
        assertEquals("neg", map.get(-1L));
    }
}
