package dev.panavirt.vmm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reads and writes a bus access window as a little-endian number of its own width.
 *
 * <p>Windows may come from guest memory, from {@code kvm_run} or from a heap array, so every access is unaligned
 * and little-endian regardless of the host's byte order. Nothing here allocates.
 */
public final class BusData {

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BusData() {
    }

    /**
     * Reads a whole window as an unsigned little-endian value.
     *
     * @param data a window of 1 to 8 bytes
     * @return the value, zero-extended to 64 bits
     * @throws IllegalArgumentException if the window is empty or longer than 8 bytes
     */
    public static long get(MemorySegment data) {
        return switch ((int) Math.min(data.byteSize(), Integer.MAX_VALUE)) {
            case 1 -> data.get(ValueLayout.JAVA_BYTE, 0) & 0xFFL;
            case 2 -> data.get(LE_SHORT, 0) & 0xFFFFL;
            case 4 -> data.get(LE_INT, 0) & 0xFFFF_FFFFL;
            case 8 -> data.get(LE_LONG, 0);
            case 3, 5, 6, 7 -> {
                // Odd widths only come from MMIO accesses split at a page boundary.
                long value = 0;
                for (int i = (int) data.byteSize() - 1; i >= 0; i--) {
                    value = (value << 8) | (data.get(ValueLayout.JAVA_BYTE, i) & 0xFFL);
                }
                yield value;
            }
            default -> throw badWidth(data);
        };
    }

    /**
     * Stores the low bytes of a value into a whole window, little-endian.
     *
     * @param data a window of 1 to 8 bytes
     * @param value the value; bits above the window's width are dropped
     * @throws IllegalArgumentException if the window is empty or longer than 8 bytes
     */
    public static void set(MemorySegment data, long value) {
        switch ((int) Math.min(data.byteSize(), Integer.MAX_VALUE)) {
            case 1 -> data.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
            case 2 -> data.set(LE_SHORT, 0, (short) value);
            case 4 -> data.set(LE_INT, 0, (int) value);
            case 8 -> data.set(LE_LONG, 0, value);
            case 3, 5, 6, 7 -> {
                long v = value;
                for (int i = 0; i < data.byteSize(); i++) {
                    data.set(ValueLayout.JAVA_BYTE, i, (byte) v);
                    v >>>= 8;
                }
            }
            default -> throw badWidth(data);
        }
    }

    private static IllegalArgumentException badWidth(MemorySegment data) {
        return new IllegalArgumentException("bus access window must be 1 to 8 bytes, was " + data.byteSize());
    }
}
