package dev.panavirt.vmm;

/**
 * A non-empty range of bus addresses, {@code [base, end()]} with an inclusive end.
 *
 * <p>Addresses and sizes are unsigned 64-bit values held in {@code long}s: {@code 0xFFFF_FFFF_FFFF_F000L} is a
 * high address, not a negative one, and every comparison here is unsigned. The end is inclusive so that a range
 * may end at the very last address, {@code 2^64 - 1}, which an exclusive end could not express.
 *
 * @param base first address in the range
 * @param size number of addresses, unsigned, at least 1
 */
public record BusRange(long base, long size) {

    /**
     * Validates size and overflow.
     *
     * @throws BusException {@link BusException.Kind#ZERO_SIZED_RANGE} if {@code size} is 0,
     *     {@link BusException.Kind#INVALID_RANGE} if the range would run past {@code 2^64 - 1}
     */
    public BusRange {
        if (size == 0) {
            throw new BusException(BusException.Kind.ZERO_SIZED_RANGE,
                    "range at 0x" + Long.toHexString(base) + " has size 0");
        }
        // The last address base + size - 1 must not wrap: size - 1 may use at most the room left above base.
        if (Long.compareUnsigned(size - 1, -1L - base) > 0) {
            throw new BusException(BusException.Kind.INVALID_RANGE,
                    "range at 0x" + Long.toHexString(base) + " of size 0x" + Long.toHexString(size)
                            + " runs past the end of the 64-bit address space");
        }
    }

    /** {@return the last address in the range (inclusive)} */
    public long end() {
        return base + size - 1;
    }

    /**
     * Tells whether an address lies in this range.
     *
     * @param addr an unsigned address
     * @return true if {@code base <= addr <= end()}, compared unsigned
     */
    public boolean contains(long addr) {
        // One unsigned comparison: addresses below base wrap to huge offsets.
        return Long.compareUnsigned(addr - base, size - 1) <= 0;
    }

    /**
     * Tells whether this range shares at least one address with another.
     *
     * @param other the other range
     * @return true if the ranges overlap
     */
    public boolean overlaps(BusRange other) {
        return Long.compareUnsigned(base, other.end()) <= 0 && Long.compareUnsigned(other.base, end()) <= 0;
    }

    @Override
    public String toString() {
        return "[0x" + Long.toHexString(base) + "..0x" + Long.toHexString(end()) + "]";
    }
}
