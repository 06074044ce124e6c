package dev.panavirt.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BusRangeTest {

    private static final long HIGH = 0xFFFF_FFFF_FFFF_F000L;

    @Test
    void zeroSizeIsRejected() {
        BusException e = assertThrows(BusException.class, () -> new BusRange(0x1000, 0));
        assertEquals(BusException.Kind.ZERO_SIZED_RANGE, e.kind());
        assertTrue(e.getMessage().contains("0x1000"), e.getMessage());
    }

    @Test
    void rangeMayEndAtTheLastAddress() {
        BusRange r = new BusRange(HIGH, 0x1000);
        assertEquals(-1L, r.end());
        assertTrue(r.contains(HIGH));
        assertTrue(r.contains(-1L));
        assertFalse(r.contains(HIGH - 1));
    }

    @Test
    void overflowPastTopOfAddressSpaceIsRejected() {
        assertEquals(BusException.Kind.INVALID_RANGE,
                assertThrows(BusException.class, () -> new BusRange(HIGH, 0x1001)).kind());
        assertEquals(BusException.Kind.INVALID_RANGE,
                assertThrows(BusException.class, () -> new BusRange(-1L, 2)).kind());
        // A size that is "negative" as a signed long is a huge unsigned size.
        assertEquals(BusException.Kind.INVALID_RANGE,
                assertThrows(BusException.class, () -> new BusRange(2, -1L)).kind());
    }

    @Test
    void hugeUnsignedSizesAreAllowedWhenTheyFit() {
        BusRange almostAll = new BusRange(1, -1L);
        assertEquals(-1L, almostAll.end());
        assertTrue(almostAll.contains(Long.MIN_VALUE));
        assertFalse(almostAll.contains(0));
        BusRange lastByte = new BusRange(-1L, 1);
        assertTrue(lastByte.contains(-1L));
        assertFalse(lastByte.contains(-2L));
    }

    @Test
    void containsFirstAndLastButNotNeighbours() {
        BusRange r = new BusRange(0x3F8, 8);
        assertEquals(0x3FF, r.end());
        assertTrue(r.contains(0x3F8));
        assertTrue(r.contains(0x3FF));
        assertFalse(r.contains(0x3F7));
        assertFalse(r.contains(0x400));
        // Unsigned: a "negative" address is far above, not below.
        assertFalse(r.contains(-0x3F8L));
    }

    @Test
    void overlapsIsSymmetricAndIgnoresAdjacency() {
        BusRange a = new BusRange(0x1000, 0x100);
        assertTrue(a.overlaps(a));
        assertOverlap(a, new BusRange(0x0F80, 0x100), true);   // partial, left
        assertOverlap(a, new BusRange(0x10FF, 0x10), true);    // partial, right: shares the last byte
        assertOverlap(a, new BusRange(0x0800, 0x1000), true);  // containing
        assertOverlap(a, new BusRange(0x1010, 0x10), true);    // contained
        assertOverlap(a, new BusRange(0x0F00, 0x100), false);  // adjacent below
        assertOverlap(a, new BusRange(0x1100, 0x100), false);  // adjacent above
        assertOverlap(a, new BusRange(HIGH, 0x1000), false);   // unsigned high
        assertOverlap(new BusRange(Long.MIN_VALUE, 0x10), new BusRange(0x7FFF_FFFF_FFFF_FFF8L, 0x10), true);
    }

    @Test
    void toStringShowsInclusiveHexBounds() {
        assertEquals("[0x3f8..0x3ff]", new BusRange(0x3F8, 8).toString());
    }

    private static void assertOverlap(BusRange a, BusRange b, boolean expected) {
        assertEquals(expected, a.overlaps(b), a + " vs " + b);
        assertEquals(expected, b.overlaps(a), b + " vs " + a);
    }
}
