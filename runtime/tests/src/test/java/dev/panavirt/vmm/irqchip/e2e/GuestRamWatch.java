package dev.panavirt.vmm.irqchip.e2e;

import dev.panavirt.kvm.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * Watches named ranges of a real guest's RAM and turns what the guest wrote there into {@code mem-write}
 * lines: {@link #record} compares each range, 8 bytes at a time, with what was last recorded (all zeros at
 * first, like the heap RAM a replay starts with) and writes one line per changed word. {@link #absorb} takes
 * the current contents without recording them, for changes the model itself made (a replayed model makes
 * them again).
 */
final class GuestRamWatch {
    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One watched range.
     *
     * @param describe a comment for the word at a GPA, or null; called for changed words only
     */
    record Range(String name, long base, int size, LongFunction<String> describe) {
        Range {
            if ((base & 7) != 0 || (size & 7) != 0) {
                throw new IllegalArgumentException(name + ": 8-byte aligned ranges only");
            }
        }
    }

    private final GuestMemory memory;
    private final List<Range> ranges = new ArrayList<>();
    private final List<long[]> shadows = new ArrayList<>();
    private long wordsRecorded;

    GuestRamWatch(GuestMemory memory) {
        this.memory = memory;
    }

    GuestRamWatch watch(String name, long base, int size, LongFunction<String> describe) {
        ranges.add(new Range(name, base, size, describe));
        shadows.add(new long[size / 8]);
        return this;
    }

    List<Range> ranges() {
        return List.copyOf(ranges);
    }

    /** Writes a {@code mem-write GPA 8 VALUE} line for every word that changed since the last call. */
    void record(SessionScript script) {
        for (int r = 0; r < ranges.size(); r++) {
            Range range = ranges.get(r);
            long[] shadow = shadows.get(r);
            MemorySegment now = memory.slice(range.base(), range.size());
            boolean announced = false;
            for (int i = 0; i < shadow.length; i++) {
                long v = now.get(LE_LONG, 8L * i);
                if (v == shadow[i]) {
                    continue;
                }
                if (!announced) {
                    script.comment("the guest wrote its " + range.name());
                    announced = true;
                }
                long gpa = range.base() + 8L * i;
                String note = range.describe() == null ? null : range.describe().apply(gpa);
                script.op("mem-write 0x" + Long.toHexString(gpa) + " 8 0x" + Long.toHexString(v), note);
                shadow[i] = v;
                wordsRecorded++;
            }
        }
    }

    /** Takes the current contents as recorded (the model wrote them; a replayed model writes them too). */
    void absorb() {
        for (int r = 0; r < ranges.size(); r++) {
            Range range = ranges.get(r);
            MemorySegment now = memory.slice(range.base(), range.size());
            long[] shadow = shadows.get(r);
            for (int i = 0; i < shadow.length; i++) {
                shadow[i] = now.get(LE_LONG, 8L * i);
            }
        }
    }

    /** The current contents of a range. */
    byte[] contents(Range range) {
        return memory.read(range.base(), range.size());
    }

    long wordsRecorded() {
        return wordsRecorded;
    }
}
