package dev.panavirt.machine.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.machine.GuestLoader;
import dev.panavirt.machine.GuestLoader.GuestFormatException;

/**
 * A guest file as {@code panavirt run GUEST} reads it: an ELF when it starts with the ELF magic, else a flat
 * binary. Only {@link GuestFormatException} with a message may come out, and what loads stays within what
 * the file can justify: every segment's bytes come from the file (at most its length in all, so a file
 * cannot make the loader allocate more than itself), no more than the segment's memory size, at most 4 GiB
 * of memory per segment, at an address range that does not wrap.
 */
class GuestLoaderFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void elfOrFlatGuest(byte[] file) {
        try {
            if (GuestLoader.isElf(file)) {
                checkElf(GuestLoader.elf(file), file);
            } else {
                GuestImage image = GuestLoader.flat(file, 0x10_0000);
                assertArrayEquals(file, image.bytes());
            }
        } catch (GuestFormatException e) {
            FuzzChecks.message(e);
        }
    }

    private static void checkElf(GuestLoader.Elf elf, byte[] file) {
        assertFalse(elf.segments().isEmpty(), "an ELF loads at least one segment");
        long copied = 0;
        for (GuestLoader.Segment s : elf.segments()) {
            long length = s.fileBytes().length;
            copied += length;
            assertTrue(length <= s.memSize() && s.memSize() <= 1L << 32, "segment sizes " + length + "/" + s.memSize());
            assertTrue(s.physAddr() >= 0 && s.physAddr() + s.memSize() >= s.physAddr(),
                    "segment at 0x" + Long.toHexString(s.physAddr()) + " wraps");
        }
        assertTrue(copied <= file.length, copied + " segment bytes from a " + file.length + "-byte file");
        assertTrue(elf.lowest() <= elf.highest());
    }
}
