package dev.panavirt.models.vfio;

import dev.panavirt.base.ErrnoException;

/**
 * The process memory a DMA mapping's {@code vaddr} points into, as the type1 model reaches it: the kernel's
 * {@code copy_to_user}/{@code copy_from_user} on the mapping owner's mm ({@code drivers/vfio/vfio_iommu_type1.c},
 * {@code vfio_iommu_type1_dma_rw_chunk}) and the page pinning of {@code vfio_pin_pages_remote}. Addresses are
 * process virtual addresses; an address range no memory backs fails with {@code EFAULT}, as an unbacked user
 * address does in the kernel.
 */
public interface HostMemory {

    /**
     * Copies {@code length} bytes at {@code vaddr} into {@code dst[offset..]}.
     *
     * @throws ErrnoException {@code EFAULT} if part of the range is not backed
     */
    void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException;

    /**
     * Copies {@code src[offset..offset+length)} to {@code vaddr}.
     *
     * @throws ErrnoException {@code EFAULT} if part of the range is not backed
     */
    void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException;

    /** Whether every byte of {@code [vaddr, vaddr + size)} is backed (what pinning needs). */
    boolean backed(long vaddr, long size);

    /** Memory that backs nothing: every access faults, nothing can be pinned. */
    HostMemory NONE = new HostMemory() {
        @Override
        public void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
            throw new ErrnoException("copy_from_user", dev.panavirt.base.Errno.EFAULT,
                    "vaddr 0x" + Long.toHexString(vaddr) + " is not backed");
        }

        @Override
        public void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
            throw new ErrnoException("copy_to_user", dev.panavirt.base.Errno.EFAULT,
                    "vaddr 0x" + Long.toHexString(vaddr) + " is not backed");
        }

        @Override
        public boolean backed(long vaddr, long size) {
            return false;
        }
    };
}
