package dev.panavirt.vmm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** Test device: records every access and answers reads with a value derived from the offset. */
final class RecordingDevice implements BusDevice {

    /** One recorded access. */
    record Access(boolean write, long base, long offset, int width, long value) {
    }

    final List<Access> accesses = new ArrayList<>();
    private final long readTag;

    /** @param readTag added to the offset to form the value returned by reads */
    RecordingDevice(long readTag) {
        this.readTag = readTag;
    }

    RecordingDevice() {
        this(0x1000);
    }

    /** The value this device answers a read at {@code offset} with, truncated to {@code width}. */
    long valueAt(long offset, int width) {
        long v = readTag + offset;
        return width == 8 ? v : v & ((1L << (8 * width)) - 1);
    }

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        int width = (int) data.byteSize();
        long v = valueAt(offset, width);
        BusData.set(data, v);
        accesses.add(new Access(false, base, offset, width, v));
    }

    @Override
    public synchronized void write(long base, long offset, MemorySegment data) {
        accesses.add(new Access(true, base, offset, (int) data.byteSize(), BusData.get(data)));
    }

    synchronized Access last() {
        return accesses.getLast();
    }
}
