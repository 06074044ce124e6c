package dev.panavirt.bindings.usage;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs {@link JextractStyleUsage} (whose compiling is the main check) and checks what it read back. */
class JextractStyleUsageTest {

    @Test
    void jextractStyleCodeRunsAgainstTheBindings() {
        JextractStyleUsage.Seen s = JextractStyleUsage.run();
        assertEquals(0xfff0L, s.rip());
        assertEquals(0xfff0L, s.ripAgain(), "reinterpret(addr, arena, null) sees the same memory");
        assertEquals(42L, s.regsInArray(), "reinterpret(addr, 2, arena, null) covers both elements");
        assertTrue(s.cleanupRan(), "the cleanup given to reinterpret runs when its arena closes");
        assertEquals((byte) 0x5a, s.fpr12());
        assertArrayEquals(new long[] {8, 16}, s.fprDims());
        assertEquals(7, s.xcr1());
        assertEquals(0x80000001, s.cpuidFunction());
        assertEquals(0xc0000080, s.msrIndex());
        assertEquals(2, s.msrCount());
        assertEquals(144, s.regsSize());
        assertEquals(8 + 4 * 40, s.cpuidSize());
        assertEquals("vfio-pci", s.pciApi());
        assertEquals(0x1122334455667788L, s.u64Read());
        assertEquals(0x8090ae81L, s.getRegs());
        assertEquals(2, s.exitReason());
    }
}
