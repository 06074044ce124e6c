package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.kvm.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * {@link GuestRam} over the memory of one {@link MemoryRegion}, so a device model and {@link PrecopySource} (which
 * sends from {@link MemoryRegion#memory()}) see the same bytes without a VM. Little-endian, as guest RAM on arm64.
 */
final class RegionGuestRam implements GuestRam {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemoryRegion region;

    RegionGuestRam(MemoryRegion region) {
        this.region = Objects.requireNonNull(region);
    }

    private MemorySegment slice(String op, long gpa, long length) throws ErrnoException {
        if (!region.contains(gpa, length)) {
            throw GuestRam.fault(op, gpa, length);
        }
        return region.memory().asSlice(gpa - region.guestPhysAddr(), length);
    }

    @Override
    public boolean isMapped(long gpa) {
        return region.contains(gpa, 1);
    }

    @Override
    public int readByte(long gpa) throws ErrnoException {
        return slice("read", gpa, 1).get(ValueLayout.JAVA_BYTE, 0) & 0xFF;
    }

    @Override
    public void writeByte(long gpa, int value) throws ErrnoException {
        slice("write", gpa, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) value);
    }

    @Override
    public long readLong(long gpa) throws ErrnoException {
        return slice("read", gpa, 8).get(LE_LONG, 0);
    }

    @Override
    public void writeLong(long gpa, long value) throws ErrnoException {
        slice("write", gpa, 8).set(LE_LONG, 0, value);
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) throws ErrnoException {
        Objects.checkFromIndexSize(offset, length, dst.length);
        MemorySegment.copy(slice("read", gpa, length), ValueLayout.JAVA_BYTE, 0, dst, offset, length);
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) throws ErrnoException {
        Objects.checkFromIndexSize(offset, length, src.length);
        MemorySegment.copy(src, offset, slice("write", gpa, length), ValueLayout.JAVA_BYTE, 0, length);
    }
}
