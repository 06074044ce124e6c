package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** ELF parsing with hand-built headers: good files load, malformed ones are reported, never over-read. */
class GuestLoaderTest {

    /** A minimal ELF64 x86-64 executable with one PT_LOAD segment of {@code code} at {@code paddr}. */
    static byte[] elf64(long paddr, byte[] code, long memsz) {
        ByteBuffer b = ByteBuffer.allocate(64 + 56 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) 62).putInt(1).putLong(paddr).putLong(64).putLong(0).putInt(0)
                .putShort((short) 64).putShort((short) 56).putShort((short) 1);
        b.position(64);
        b.putInt(1).putInt(5).putLong(120).putLong(paddr).putLong(paddr).putLong(code.length).putLong(memsz)
                .putLong(0x1000);
        b.put(code);
        return b.array();
    }

    @Test
    void loadsElf64Segments() throws Exception {
        byte[] code = {(byte) 0xf4, (byte) 0x90};
        GuestLoader.Elf e = GuestLoader.elf(elf64(0x200000, code, 0x3000));
        assertTrue(e.is64());
        assertEquals(0x200000, e.entry());
        assertEquals(1, e.segments().size());
        assertArrayEquals(code, e.segments().getFirst().fileBytes());
        assertEquals(0x3000, e.segments().getFirst().memSize());
        assertEquals(0x200000, e.lowest());
        assertEquals(0x203000, e.highest());
    }

    @Test
    void rejectsMalformedFiles() {
        assertFalse(GuestLoader.isElf(new byte[] {1, 2}));
        assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(new byte[10]));
        byte[] good = elf64(0x200000, new byte[] {1}, 1);
        byte[] wrongMachine = good.clone();
        wrongMachine[18] = 40;   // EM_ARM
        assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(wrongMachine));
        byte[] bigEndian = good.clone();
        bigEndian[5] = 2;
        assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(bigEndian));
        byte[] truncated = java.util.Arrays.copyOf(good, 100);   // program header past the end
        assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(truncated));
        byte[] fileszPastEnd = good.clone();
        ByteBuffer.wrap(fileszPastEnd).order(ByteOrder.LITTLE_ENDIAN).putLong(64 + 32, 1L << 40);
        var ex = assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(fileszPastEnd));
        assertTrue(ex.getMessage().contains("malformed"), ex.getMessage());
        byte[] memszBelowFilesz = elf64(0x200000, new byte[] {1, 2, 3}, 1);
        assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(memszBelowFilesz));
        assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.flat(new byte[0], 0));
    }

    @Test
    void fuzzedHeadersNeverEscapeAsUncheckedExceptions() {
        java.util.Random r = new java.util.Random(42);
        byte[] base = elf64(0x200000, new byte[64], 64);
        for (int i = 0; i < 20_000; i++) {
            byte[] f = base.clone();
            for (int k = 0; k < 4; k++) {
                f[8 + r.nextInt(f.length - 8)] = (byte) r.nextInt();
            }
            try {
                GuestLoader.elf(f);
            } catch (GuestLoader.GuestFormatException expected) {
                // reported, not thrown as a runtime exception
            }
        }
    }

    @Test
    void offsetsNearTwoToTheSixtyThirdDoNotOverflowTheBoundsChecks() {
        byte[] segment = elf64(0x200000, new byte[] {(byte) 0xf4}, 0x1000);
        ByteBuffer.wrap(segment).order(ByteOrder.LITTLE_ENDIAN).putLong(64 + 8, Long.MAX_VALUE - 4);  // p_offset
        GuestLoader.GuestFormatException e = assertThrows(GuestLoader.GuestFormatException.class,
                () -> GuestLoader.elf(segment));
        assertTrue(e.getMessage().contains("segment 0 is malformed"), e.getMessage());

        byte[] headers = elf64(0x200000, new byte[] {(byte) 0xf4}, 0x1000);
        ByteBuffer.wrap(headers).order(ByteOrder.LITTLE_ENDIAN).putLong(32, Long.MAX_VALUE - 16);      // e_phoff
        e = assertThrows(GuestLoader.GuestFormatException.class, () -> GuestLoader.elf(headers));
        assertTrue(e.getMessage().contains("program headers lie outside the file"), e.getMessage());
    }

    @Test
    void anElf64HeaderCutShortIsReportedAsSuch() {
        byte[] whole = elf64(0x200000, new byte[] {(byte) 0xf4}, 0x1000);
        for (int n = 6; n < 64; n++) {
            byte[] cut = java.util.Arrays.copyOf(whole, n);
            GuestLoader.GuestFormatException e = assertThrows(GuestLoader.GuestFormatException.class,
                    () -> GuestLoader.elf(cut), "length " + n);
            assertEquals("ELF header cut short: " + n + " of 64 bytes", e.getMessage());
        }
    }

    @Test
    void segmentsCannotCopyTheFileMoreThanOnce() throws Exception {
        // Two PT_LOAD headers both naming the whole file: once a few bytes, with many headers gigabytes.
        byte[] one = elf64(0x200000, new byte[64], 64);
        ByteBuffer b = ByteBuffer.allocate(64 + 2 * 56).order(ByteOrder.LITTLE_ENDIAN);
        b.put(one, 0, 64).putShort(56, (short) 2);
        for (int i = 0; i < 2; i++) {
            long paddr = 0x200000 + i * 0x10000L;
            b.putInt(1).putInt(5).putLong(0).putLong(paddr).putLong(paddr).putLong(64 + 2 * 56).putLong(0x1000)
                    .putLong(0x1000);
        }
        byte[] overlapping = b.array();
        GuestLoader.GuestFormatException e = assertThrows(GuestLoader.GuestFormatException.class,
                () -> GuestLoader.elf(overlapping));
        assertEquals("ELF segments hold more file bytes (352 by segment 1) than the file has (176): their file"
                + " ranges overlap", e.getMessage());
        // Disjoint ranges adding up to the whole file still load.
        assertEquals(1, GuestLoader.elf(one).segments().size());
    }
}
