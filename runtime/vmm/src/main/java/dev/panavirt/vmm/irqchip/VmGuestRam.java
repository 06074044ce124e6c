package dev.panavirt.vmm.irqchip;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.kvm.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * {@link GuestRam} over the memory slots of a real VM ({@link GuestMemory}), so the ITS model reads the
 * command queue and tables a guest wrote into its own RAM. An access outside the VM's regions becomes
 * {@code EFAULT}, as {@code kvm_read_guest} reports it.
 *
 * <p>One difference from the kernel: an access must lie inside a single region, whereas
 * {@code kvm_read_guest} also succeeds across two adjacent slots. ITS table entries are 8-byte aligned
 * and commands 32-byte aligned, so only a command queue or table deliberately straddling two slots is
 * affected.
 */
public final class VmGuestRam implements GuestRam {

    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestMemory memory;

    /** Wraps the memory of a VM. */
    public VmGuestRam(GuestMemory memory) {
        this.memory = Objects.requireNonNull(memory, "memory");
    }

    private MemorySegment slice(String op, long gpa, long length) throws ErrnoException {
        try {
            return memory.slice(gpa, length);
        } catch (IndexOutOfBoundsException e) {
            throw GuestRam.fault(op, gpa, length);
        }
    }

    @Override
    public boolean isMapped(long gpa) {
        return memory.isMapped(gpa, 1);
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
        if (length > 0) {
            MemorySegment.copy(slice("read", gpa, length), ValueLayout.JAVA_BYTE, 0, dst, offset, length);
        }
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) throws ErrnoException {
        Objects.checkFromIndexSize(offset, length, src.length);
        if (length > 0) {
            MemorySegment.copy(src, offset, slice("write", gpa, length), ValueLayout.JAVA_BYTE, 0, length);
        }
    }
}
