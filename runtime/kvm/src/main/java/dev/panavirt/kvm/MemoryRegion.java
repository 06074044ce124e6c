package dev.panavirt.kvm;

import java.lang.foreign.MemorySegment;

/**
 * A KVM memory slot backed by memory the VM owns: guest-physical range {@code [guestPhysAddr,
 * guestPhysAddr + size)} mapped at {@code memory}.
 *
 * @param slot          the slot id ({@code as_id << 16 | slot} for address spaces other than 0)
 * @param guestPhysAddr first guest-physical address
 * @param size          bytes, a whole number of pages
 * @param flags         {@code KVM_MEM_LOG_DIRTY_PAGES}, {@code KVM_MEM_READONLY}
 * @param memory        the host mapping; valid until the region is removed or the VM closes
 */
public record MemoryRegion(int slot, long guestPhysAddr, long size, int flags, MemorySegment memory) {

    /** Whether {@code [gpa, gpa + length)} lies inside this region. */
    public boolean contains(long gpa, long length) {
        long offset = gpa - guestPhysAddr;
        return length >= 0 && Long.compareUnsigned(gpa, guestPhysAddr) >= 0
                && Long.compareUnsigned(offset, size) <= 0 && length <= size - offset;
    }

    /** Number of 4 KiB pages, as the dirty log counts them. */
    public long pages() {
        return size >>> 12;
    }
}
