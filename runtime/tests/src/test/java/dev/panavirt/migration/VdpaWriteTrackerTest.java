package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.models.vdpa.TestRings;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link VdpaWriteTracker} marks exactly the guest pages a device write touched, and allocates nothing doing it. */
class VdpaWriteTrackerTest {
    static final long GPA = 0x100000, SIZE = 64 * 4096;
    final MemorySegment ram = Arena.ofAuto().allocate(SIZE, 4096);
    final List<MemoryRegion> regions = List.of(new MemoryRegion(0, GPA, SIZE, 0, ram));

    @Test
    void marksTheWrittenPagesOnlyWhileTracking() throws Exception {
        VdpaWriteTracker t = new VdpaWriteTracker(new TestRings(ram, 0), regions);
        DirtyPages pages = new DirtyPages(regions);
        t.write(ram.address() + 4096, new byte[8], 0, 8);
        assertEquals(0, t.harvest(pages), "nothing is tracked before start");
        t.start();
        t.write(ram.address() + 3 * 4096 - 4, new byte[8], 0, 8);           // straddles pages 2 and 3
        t.write(ram.address() + 10 * 4096, new byte[4096], 0, 4096);        // exactly page 10
        t.write(ram.address() + 20 * 4096 + 5, new byte[1], 0, 0);          // empty: nothing
        assertEquals(3, t.harvest(pages));
        assertEquals(List.of(GPA + 2 * 4096, GPA + 3 * 4096, GPA + 10 * 4096), marked(pages));
        pages.clear();
        assertEquals(0, t.harvest(pages), "a harvest clears what it reported");
        t.close();
        t.write(ram.address(), new byte[8], 0, 8);
        assertEquals(0, t.harvest(pages), "nothing is tracked after close");
    }

    @Test
    void writesAndHarvestsAllocateNothing() throws Exception {
        VdpaWriteTracker t = new VdpaWriteTracker(new TestRings(ram, 0), regions);
        DirtyPages pages = new DirtyPages(regions);
        byte[] buf = new byte[2048];
        t.start();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long fewest = Long.MAX_VALUE;
        for (long end = System.nanoTime() + 20_000_000_000L; fewest != 0 && System.nanoTime() - end < 0; ) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int p = 0; p < 64; p++) {
                t.write(ram.address() + p * 4096L + 100, buf, 0, buf.length);
            }
            t.harvest(pages);
            fewest = Math.min(fewest, threads.getCurrentThreadAllocatedBytes() - before);
            pages.clear();
        }
        assertTrue(fewest < 64, "bytes allocated by 64 tracked writes and a harvest: " + fewest);
    }

    private static List<Long> marked(DirtyPages pages) {
        List<Long> out = new ArrayList<>();
        for (long i = pages.next(0); i >= 0; i = pages.next(i + 1)) {
            out.add(pages.addressOf(i));
        }
        return out;
    }
}
