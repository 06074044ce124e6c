package dev.panavirt.base;


/**
 * Guest-physical memory as the ITS model sees it: the command queue, the device, collection and
 * interrupt translation tables, and the redistributors' LPI property and pending tables all live here.
 *
 * <p>Values are little-endian. An access that touches an address no memory slot backs fails with
 * {@link ErrnoException} carrying {@link Errno#EFAULT}, which is what {@code kvm_read_guest} and
 * {@code kvm_write_guest} return; the model then does what the kernel does with that failure (skip the
 * command, reject the mapping, or return the errno from a table save or restore). {@link #isMapped}
 * answers the kernel's {@code kvm_is_visible_gfn} question without touching memory.
 *
 * <p>Implementations used on the command path must not allocate when an access succeeds.
 */
public interface GuestRam {

    /** Page granule of memory slots and of {@link #isMapped}: 4 KiB. */
    long PAGE_SIZE = 4096;

    /**
     * Whether the page holding {@code gpa} is backed by a memory slot ({@code kvm_is_visible_gfn}).
     *
     * @param gpa a guest-physical address
     * @return {@code true} if an access to that page would succeed
     */
    boolean isMapped(long gpa);

    /**
     * Reads one byte.
     *
     * @param gpa a guest-physical address
     * @return the byte, zero-extended (0 to 255)
     * @throws ErrnoException {@code EFAULT} if the address is not backed
     */
    int readByte(long gpa) throws ErrnoException;

    /**
     * Writes one byte.
     *
     * @param gpa a guest-physical address
     * @param value the byte in the low 8 bits
     * @throws ErrnoException {@code EFAULT} if the address is not backed
     */
    void writeByte(long gpa, int value) throws ErrnoException;

    /**
     * Reads a little-endian 64-bit value; fails if any of its 8 bytes is not backed.
     *
     * @param gpa a guest-physical address, any alignment
     * @return the value
     * @throws ErrnoException {@code EFAULT} if part of the range is not backed
     */
    long readLong(long gpa) throws ErrnoException;

    /**
     * Writes a little-endian 64-bit value; writes nothing if any of its 8 bytes is not backed.
     *
     * @param gpa a guest-physical address, any alignment
     * @param value the value
     * @throws ErrnoException {@code EFAULT} if part of the range is not backed
     */
    void writeLong(long gpa, long value) throws ErrnoException;

    /**
     * Copies {@code length} bytes from guest memory into {@code dst}.
     *
     * @throws ErrnoException {@code EFAULT} if part of the range is not backed
     */
    void read(long gpa, byte[] dst, int offset, int length) throws ErrnoException;

    /**
     * Copies {@code length} bytes from {@code src} into guest memory; writes nothing if part of the
     * range is not backed.
     *
     * @throws ErrnoException {@code EFAULT} if part of the range is not backed
     */
    void write(long gpa, byte[] src, int offset, int length) throws ErrnoException;

    /**
     * The exception every implementation throws for an unbacked access.
     *
     * @param operation {@code "read"} or {@code "write"}
     * @param gpa first address of the access
     * @param length bytes accessed
     * @return an {@code EFAULT} exception naming the range
     */
    static ErrnoException fault(String operation, long gpa, long length) {
        return new ErrnoException("guest memory " + operation, Errno.EFAULT,
                "0x" + Long.toHexString(gpa) + "+" + length + " is not backed by a memory slot");
    }
}
