package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.testsupport.RecordingDevice;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Memory slots added and removed under a running guest; dirty log and dirty ring reporting. */
@KvmTest
class MemorySlotTest {
    static final Duration T = Duration.ofSeconds(30);
    static final long EXTRA = 0x4000000;   // 64 MiB, outside the 32 MiB of slot 0
    static final long EXTRA_SIZE = 4 << 20; // 1024 pages

    /** The guest writes the page indexes it receives through port 0x500 until it reads 0xffffffff. */
    static final String PAGE_WRITER = """
            int main(void) {
                for (;;) {
                    u32 page = inl(0x500);
                    if (page == 0xffffffffu) break;
                    if (page == 0xfffffffeu) { GUEST_SYNC(1); continue; }
                    *(volatile u64 *)(0x4000000ull + (u64)page * 4096 + 8) = 0x5a5a0000ull + page;
                }
                return 0;
            }
            """;

    /** Feeds page numbers to the PAGE_WRITER guest: each batch ends with a SYNC. */
    static final class PageFeeder extends RecordingDevice {
        private final List<Long> queue = new ArrayList<>();

        synchronized void batch(long... pages) {
            for (long p : pages) {
                queue.add(p);
            }
            queue.add(0xfffffffeL);
        }

        synchronized void finish() {
            queue.add(0xffffffffL);
        }

        @Override
        protected synchronized long readValue(long offset, int width) {
            return queue.isEmpty() ? 0xffffffffL : queue.removeFirst();
        }
    }

    @Test
    void slotAddedAndRemovedWhileTheGuestRuns() throws Exception {
        GuestImage image = Guests.c("""
                int main(void) {
                    volatile u32 *p = (volatile u32 *)0x4000000ull;
                    *p = 0x1111;              /* no slot yet: an MMIO exit */
                    GUEST_SYNC(1);
                    *p = 0x2222;              /* slot present: plain memory */
                    GUEST_ASSERT_EQ(*p, 0x2222);
                    GUEST_SYNC(2);
                    *p = 0x3333;              /* slot removed: MMIO again */
                    return 0;
                }
                """);
        try (TestGuest g = TestGuest.longMode(image)) {
            RecordingDevice mmio = new RecordingDevice();
            g.mmio().insert(mmio, EXTRA, EXTRA_SIZE);
            assertEquals(new TestGuest.Stop(StopKind.SYNC, 1), g.next(0, T));
            assertEquals(List.of(new RecordingDevice.Access(0, 4, 0x1111, true)), mmio.accesses());

            MemoryRegion r = g.vm().addMemory(1, EXTRA, EXTRA_SIZE, 0);
            assertEquals(new TestGuest.Stop(StopKind.SYNC, 2), g.next(0, T));
            assertEquals(0x2222, r.memory().get(ValueLayout.JAVA_INT, 0));
            assertEquals(0x2222, g.memory().readInt(EXTRA));
            assertEquals(1, mmio.accesses().size(), "no exit while the slot is there");

            g.vm().removeMemory(1);
            assertThrows(IllegalStateException.class, () -> r.memory().get(ValueLayout.JAVA_INT, 0),
                    "the removed slot's memory is unmapped, and its segment says so");
            assertEquals(0, g.runToDone(0, T));
            assertEquals(new RecordingDevice.Access(0, 4, 0x3333, true), mmio.accesses().get(1));
        }
    }

    @Test
    void aSlotTheKernelRefusesLeavesNoMapping() throws Exception {
        try (TestGuest g = TestGuest.longMode(Guests.c("int main(void) { return 0; }"))) {
            g.vm().addMemory(1, EXTRA, EXTRA_SIZE, 0);
            long before = mappings();
            for (int i = 0; i < 50; i++) {
                // Overlaps slot 1: KVM_SET_USER_MEMORY_REGION answers EEXIST.
                ErrnoException e = assertThrows(ErrnoException.class, () -> g.vm().addMemory(2, EXTRA, EXTRA_SIZE, 0));
                assertEquals("EEXIST", e.errnoName());
            }
            assertTrue(mappings() - before < 10, "mappings before " + before + ", after " + mappings());
        }
    }

    private static long mappings() throws java.io.IOException {
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/self/maps"))) {
            return lines.count();
        }
    }

    @Test
    void memfdBackedSlotSharesGuestWrites() throws Exception {
        try (TestGuest g = TestGuest.longMode(Guests.c(PAGE_WRITER))) {
            PageFeeder feeder = new PageFeeder();
            g.pio().insert(feeder, 0x500, 4);
            MemoryRegion r = g.vm().addMemory(1, EXTRA, EXTRA_SIZE, 0, true);
            feeder.batch(7);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(0x5a5a0007L, r.memory().get(ValueLayout.JAVA_LONG, 7 * 4096L + 8));
            feeder.finish();
            assertEquals(0, g.runToDone(0, T));
        }
    }

    @Test
    void dirtyLogReportsExactlyThePagesWritten() throws Exception {
        try (TestGuest g = TestGuest.longMode(Guests.c(PAGE_WRITER))) {
            PageFeeder feeder = new PageFeeder();
            g.pio().insert(feeder, 0x500, 4);
            g.vm().addMemory(1, EXTRA, EXTRA_SIZE, (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES());

            feeder.batch(0, 5, 17, 300, 1023);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(Set.of(0L, 5L, 17L, 300L, 1023L), bits(g.vm().getDirtyLog(1)));

            feeder.batch(5, 2);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(Set.of(2L, 5L), bits(g.vm().getDirtyLog(1)), "the previous get cleared the log");

            assertEquals(Set.of(), bits(g.vm().getDirtyLog(1)), "nothing written since");
            feeder.finish();
            assertEquals(0, g.runToDone(0, T));
            assertEquals(0x5a5a0000L + 1023, g.memory().readLong(EXTRA + 1023 * 4096L + 8));
        }
    }

    @Test
    void dirtyLogWithManualProtectClearsOnlyWhatIsCleared() throws Exception {
        try (TestGuest g = TestGuest.longMode(Guests.c(PAGE_WRITER))) {
            PageFeeder feeder = new PageFeeder();
            g.pio().insert(feeder, 0x500, 4);
            g.vm().enableManualDirtyLogProtect(false);
            g.vm().addMemory(1, EXTRA, EXTRA_SIZE, (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES());

            feeder.batch(1, 64, 65);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(Set.of(1L, 64L, 65L), bits(g.vm().getDirtyLog(1)));
            // Without a clear, the bits stay: GET no longer re-protects.
            assertEquals(Set.of(1L, 64L, 65L), bits(g.vm().getDirtyLog(1)));
            // Clear pages 64..127 only (page 64 and 65), then the guest writes page 65 again.
            g.vm().clearDirtyLog(1, 64, 64, new long[] {0b11});
            feeder.batch(65);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(Set.of(1L, 65L), bits(g.vm().getDirtyLog(1)));
            feeder.finish();
            assertEquals(0, g.runToDone(0, T));
        }
    }

    @Test
    void dirtyRingReportsExactlyThePagesWritten() throws Exception {
        Options o = Options.defaults().withDirtyRing(4096);
        try (TestGuest g = TestGuest.create(Guests.c(PAGE_WRITER), true, o)) {
            PageFeeder feeder = new PageFeeder();
            g.pio().insert(feeder, 0x500, 4);
            g.vm().addMemory(1, EXTRA, EXTRA_SIZE, (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES());
            DirtyRing ring = g.vcpu(0).dirtyRing().orElseThrow();
            assertEquals(4096 / 16, ring.capacity());

            feeder.batch(3, 9, 512, 1000);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(Set.of(3L, 9L, 512L, 1000L), harvest(ring, g.vm()));

            feeder.batch(9, 10);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(Set.of(9L, 10L), harvest(ring, g.vm()), "a reset page is reported again when rewritten");
            feeder.finish();
            assertEquals(0, g.runToDone(0, T));
        }
    }

    private static Set<Long> harvest(DirtyRing ring, Vm vm) throws Exception {
        Set<Long> pages = new TreeSet<>();
        List<Integer> slots = new ArrayList<>();
        ring.harvest((slot, page) -> {
            slots.add(slot);
            pages.add(page);
        });
        vm.resetDirtyRings();
        assertEquals(Set.of(1), Set.copyOf(slots), "only slot 1 logs dirty pages");
        return pages;
    }

    static Set<Long> bits(long[] bitmap) {
        Set<Long> s = new TreeSet<>();
        for (int w = 0; w < bitmap.length; w++) {
            for (int b = 0; b < 64; b++) {
                if ((bitmap[w] >>> b & 1) != 0) {
                    s.add(w * 64L + b);
                }
            }
        }
        return s;
    }
}
