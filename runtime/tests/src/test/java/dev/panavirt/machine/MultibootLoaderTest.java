package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.machine.GuestLoader.GuestFormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Finding the multiboot header and loading kernels by ELF program headers or by the header's address fields. */
class MultibootLoaderTest {
    static final int MAGIC = Multiboot.HEADER_MAGIC;

    /** A 12-byte header (or 32 bytes with the address fields) with a correct checksum. */
    static byte[] header(int flags, long... addresses) {
        ByteBuffer b = ByteBuffer.allocate(12 + addresses.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(flags).putInt(-(MAGIC + flags));
        for (long a : addresses) {
            b.putInt((int) a);
        }
        return b.array();
    }

    /**
     * A minimal ELF32 i386 executable: one PT_LOAD of {@code data} at {@code vaddr}/{@code paddr} (memory size
     * {@code memsz}), entry {@code entry}. The data starts at file offset 0x54.
     */
    static byte[] elf32(long vaddr, long paddr, byte[] data, long memsz, long entry) {
        ByteBuffer b = ByteBuffer.allocate(52 + 32 + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) 3).putInt(1).putInt((int) entry).putInt(52).putInt(0).putInt(0)
                .putShort((short) 52).putShort((short) 32).putShort((short) 1);
        b.position(52);
        b.putInt(1).putInt(84).putInt((int) vaddr).putInt((int) paddr).putInt(data.length).putInt((int) memsz)
                .putInt(7).putInt(0x1000);
        b.put(data);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    @Test
    void findsTheFirstAlignedHeaderWithAValidChecksum() {
        byte[] file = new byte[64];
        System.arraycopy(header(0), 0, file, 8, 12);
        assertEquals(8, Multiboot.findHeader(file).orElseThrow().offset());

        byte[] misaligned = new byte[64];
        System.arraycopy(header(0), 0, misaligned, 6, 12);
        assertFalse(Multiboot.isMultiboot(misaligned));

        byte[] badSum = header(0);
        badSum[8]++;
        assertFalse(Multiboot.isMultiboot(concat(badSum, new byte[16])));

        byte[] twice = concat(badSum, header(Multiboot.FLAG_MEMORY_INFO));
        assertEquals(12, Multiboot.findHeader(twice).orElseThrow().offset());
        assertEquals(Multiboot.FLAG_MEMORY_INFO, Multiboot.findHeader(twice).orElseThrow().flags());
    }

    @Test
    void theHeaderMustLieInTheFirst8KiB() {
        byte[] inside = concat(new byte[Multiboot.SEARCH_LIMIT - 12], header(0));
        assertTrue(Multiboot.isMultiboot(inside));
        byte[] straddling = concat(new byte[Multiboot.SEARCH_LIMIT - 8], header(0));
        assertFalse(Multiboot.isMultiboot(straddling));
    }

    @Test
    void loadsAnElfKernelAtItsPhysicalAddresses() throws Exception {
        byte[] code = concat(header(0), new byte[] {(byte) 0xf4});
        Multiboot.Kernel k = Multiboot.parse(elf32(0x100000, 0x100000, code, 0x3000, 0x10000c));
        assertTrue(k.elf());
        assertEquals(0x10000c, k.entry());
        assertEquals(1, k.segments().size());
        assertArrayEquals(code, k.segments().getFirst().fileBytes());
        assertEquals(0x100000, k.lowest());
        assertEquals(0x103000, k.highest());
        assertTrue(k.overlaps(0x102fff, 1));
        assertFalse(k.overlaps(0x103000, 0x1000));
        assertFalse(k.overlaps(0xff000, 0x1000));
    }

    @Test
    void anEntryGivenAsAVirtualAddressIsTranslated() throws Exception {
        // Linked at 3 GiB + 1 MiB, loaded at 1 MiB: the entry moves with the segment.
        byte[] code = concat(header(0), new byte[16]);
        Multiboot.Kernel k = Multiboot.parse(elf32(0xc0100000L, 0x100000, code, code.length, 0xc0100010L));
        assertEquals(0x100010, k.entry());
        assertEquals(0x100000, k.lowest());
    }

    @Test
    void aSixtyFourBitElfIsRefusedWithAHint() {
        byte[] elf = GuestLoaderTest.elf64(0x200000, concat(header(0), new byte[4]), 0x1000);
        GuestFormatException e = assertThrows(GuestFormatException.class, () -> Multiboot.parse(elf));
        assertTrue(e.getMessage().contains("objcopy -O elf32-i386"), e.getMessage());
    }

    @Test
    void withoutAddressFieldsTheKernelMustBeElf() {
        byte[] flat = concat(header(0), new byte[32]);
        GuestFormatException e = assertThrows(GuestFormatException.class, () -> Multiboot.parse(flat));
        assertTrue(e.getMessage().contains("must be an ELF"), e.getMessage());
        e = assertThrows(GuestFormatException.class, () -> Multiboot.parse(new byte[100]));
        assertTrue(e.getMessage().contains("no multiboot header"), e.getMessage());
    }

    @Test
    void unknownRequirementsAreRefused() {
        byte[] code = concat(header(1 << 3), new byte[4]);
        GuestFormatException e = assertThrows(GuestFormatException.class,
                () -> Multiboot.parse(elf32(0x100000, 0x100000, code, code.length, 0x100000)));
        assertTrue(e.getMessage().contains("flags 0x8"), e.getMessage());
        // Bits 16-31 are optional features: an unknown one is not an error.
        byte[] optional = concat(header(1 << 20), new byte[4]);
        assertThrowsNothing(() -> Multiboot.parse(elf32(0x100000, 0x100000, optional, optional.length, 0x100000)));
    }

    @Test
    void addressFieldsLoadAFlatFile() throws Exception {
        // File: 16 bytes of padding, the header (at file offset 16 = address 0x200010), code; bss to 0x203000.
        byte[] pad = new byte[16];
        byte[] h = header(Multiboot.FLAG_ADDRESS, 0x200010, 0x200000, 0, 0x203000, 0x200030);
        byte[] code = new byte[16];
        code[0] = (byte) 0xf4;
        byte[] file = concat(pad, h, code);
        Multiboot.Kernel k = Multiboot.parse(file);
        assertFalse(k.elf());
        assertEquals(0x200030, k.entry());
        assertEquals(1, k.segments().size());
        assertEquals(0x200000, k.segments().getFirst().physAddr());
        assertArrayEquals(file, k.segments().getFirst().fileBytes(), "load_end_addr 0: the whole file");
        assertEquals(0x3000, k.segments().getFirst().memSize());
    }

    @Test
    void addressFieldsLoadPartOfAFile() throws Exception {
        // Load only from the header on (load_addr = header_addr), up to 0x100020; no bss.
        byte[] file = concat(new byte[8], header(Multiboot.FLAG_ADDRESS, 0x100000, 0x100000, 0x100020, 0,
                0x100010), new byte[64]);
        Multiboot.Kernel k = Multiboot.parse(file);
        assertEquals(0x20, k.segments().getFirst().fileBytes().length);
        assertEquals(MAGIC, ByteBuffer.wrap(k.segments().getFirst().fileBytes()).order(ByteOrder.LITTLE_ENDIAN)
                .getInt(0));
        assertEquals(0x20, k.segments().getFirst().memSize());
    }

    @Test
    void inconsistentAddressFieldsAreReported() {
        String[][] cases = {
            // header_addr, load_addr, load_end, bss_end, entry -> message part
            {"100000", "100010", "0", "0", "100010", "above header_addr"},
            {"100100", "100000", "0", "0", "100100", "larger than the header's file offset"},
            {"100000", "100000", "200000", "0", "100000", "outside the file"},
            {"100000", "100000", "100020", "100010", "100000", "below load_end_addr"},
            {"100000", "100000", "100020", "0", "100020", "not inside the loaded bytes"},
        };
        for (String[] c : cases) {
            byte[] file = concat(header(Multiboot.FLAG_ADDRESS, Long.parseLong(c[0], 16), Long.parseLong(c[1], 16),
                    Long.parseLong(c[2], 16), Long.parseLong(c[3], 16), Long.parseLong(c[4], 16)), new byte[64]);
            GuestFormatException e = assertThrows(GuestFormatException.class, () -> Multiboot.parse(file),
                    String.join(",", c));
            assertTrue(e.getMessage().contains(c[5]), e.getMessage());
        }
    }

    @Test
    void malformedKernelsNeverThrowAnythingElse() {
        Random r = new Random(7);
        byte[] base = elf32(0x100000, 0x100000, concat(header(0), new byte[64]), 0x2000, 0x100000);
        for (int i = 0; i < 20_000; i++) {
            byte[] f = base.clone();
            if (i % 3 == 0) {
                f = concat(header(Multiboot.FLAG_ADDRESS, r.nextInt(), r.nextInt(), r.nextInt(), r.nextInt(),
                        r.nextInt()), new byte[r.nextInt(64)]);
            }
            for (int j = r.nextInt(6); j >= 0; j--) {
                f[r.nextInt(f.length)] = (byte) r.nextInt();
            }
            try {
                Multiboot.Kernel k = Multiboot.parse(f);
                assertTrue(k.segments().stream().allMatch(s -> s.memSize() >= s.fileBytes().length));
            } catch (GuestFormatException expected) {
                // fine: reported, not thrown as something else
            }
        }
    }

    private static void assertThrowsNothing(org.junit.jupiter.api.function.Executable e) {
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(e);
    }
}
