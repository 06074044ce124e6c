package dev.panavirt.testsupport;

import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** A bus device that records every access and answers reads with {@code readValue(offset, width)}. */
public class RecordingDevice implements BusDevice {
    /** One access: offset within the device, width in bytes, the value, and the direction. */
    public record Access(long offset, int width, long value, boolean write) {}

    private final List<Access> accesses = new ArrayList<>();

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        long v = readValue(offset, (int) data.byteSize());
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (v >>> (8 * i)));
        }
        long mask = data.byteSize() >= 8 ? -1L : (1L << (8 * data.byteSize())) - 1;
        accesses.add(new Access(offset, (int) data.byteSize(), v & mask, false));
    }

    @Override
    public synchronized void write(long base, long offset, MemorySegment data) {
        long v = 0;
        for (int i = 0; i < data.byteSize(); i++) {
            v |= (data.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        accesses.add(new Access(offset, (int) data.byteSize(), v, true));
    }

    /** The value a read of {@code width} bytes at {@code offset} returns; override to change. */
    protected long readValue(long offset, int width) {
        return 0x1122_3344_5566_7788L + offset;
    }

    public synchronized List<Access> accesses() {
        return List.copyOf(accesses);
    }
}
