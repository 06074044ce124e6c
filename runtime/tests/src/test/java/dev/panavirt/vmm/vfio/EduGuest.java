package dev.panavirt.vmm.vfio;

/**
 * A gcc-built guest driver for QEMU's edu device (hw/misc/edu.c in QEMU), as a guest kernel's driver would use
 * it once the device is assigned: it checks the identification and liveness registers, computes 10! with the
 * completion interrupt on, copies a 2 KiB pattern from its RAM into the device and back to another place in
 * its RAM by DMA (the addresses it programs are guest-physical: the VMM mapped the guest's RAM into the IOMMU
 * at IOVA = GPA), takes each completion interrupt as MSI vector 0x30 and acknowledges it, and compares the
 * bytes. It ends with GUEST_DONE(the number of interrupts taken).
 */
final class EduGuest {
    /** Where the guest's DMA source and destination buffers sit in its RAM. */
    static final long SRC = 0x40_0000, DST = 0x50_0000;
    /**
     * Bytes per DMA: under 4 KiB, since QEMU 7.2's edu aborts QEMU on a transfer that reaches the last byte of
     * its buffer (an off-by-one in its range check; see EduDriver.MAX_TRANSFER).
     */
    static final int LENGTH = 2048;
    /** The MSI vector the VMM routes the device's interrupt to. */
    static final int VECTOR = 0x30;

    private EduGuest() {
    }

    /** What the guest writes to its source buffer, and so what the device must leave in the destination. */
    static byte[] pattern() {
        byte[] b = new byte[LENGTH];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 7 + 3);
        }
        return b;
    }

    /** The guest's C source, with the BAR at {@code barAddress}. */
    static String source(long barAddress) {
        return """
                #define EDU 0x%xull
                #define SRC 0x%xull
                #define DST 0x%xull
                #define LEN %d
                static void ack(u32 bits) {
                    GUEST_ASSERT_EQ(mmio_read32(EDU + 0x24) & bits, bits);
                    mmio_write32(EDU + 0x64, bits);
                }
                int main(void) {
                    pv_irq_setup(%d);

                    GUEST_ASSERT_EQ(mmio_read32(EDU + 0x00), 0x010000ed);
                    mmio_write32(EDU + 0x04, 0x5a5aa5a5);
                    GUEST_ASSERT_EQ(mmio_read32(EDU + 0x04), ~0x5a5aa5a5u);

                    mmio_write32(EDU + 0x20, 0x80);        /* interrupt when the factorial is done */
                    mmio_write32(EDU + 0x08, 10);
                    pv_wait_irqs(1);
                    ack(0x1);
                    GUEST_ASSERT_EQ(mmio_read32(EDU + 0x20) & 1, 0);
                    GUEST_ASSERT_EQ(mmio_read32(EDU + 0x08), 3628800);

                    volatile u8 *src = (volatile u8 *)SRC, *dst = (volatile u8 *)DST;
                    for (u32 i = 0; i < LEN; i++) { src[i] = (u8)(i * 7 + 3); dst[i] = 0; }
                    mmio_write64(EDU + 0x80, SRC);         /* RAM -> device buffer, interrupt when done */
                    mmio_write64(EDU + 0x88, 0x40000);
                    mmio_write64(EDU + 0x90, LEN);
                    mmio_write64(EDU + 0x98, 1 | 4);
                    pv_wait_irqs(2);
                    ack(0x100);
                    mmio_write64(EDU + 0x80, 0x40000);     /* device buffer -> RAM */
                    mmio_write64(EDU + 0x88, DST);
                    mmio_write64(EDU + 0x90, LEN);
                    mmio_write64(EDU + 0x98, 1 | 2 | 4);
                    pv_wait_irqs(3);
                    ack(0x100);
                    GUEST_ASSERT_EQ(mmio_read32(EDU + 0x98) & 1, 0);
                    for (u32 i = 0; i < LEN; i++) GUEST_ASSERT_EQ(dst[i], (u8)(i * 7 + 3));
                    GUEST_DONE(pv_irq_count);
                    return 0;
                }
                """.formatted(barAddress, SRC, DST, LENGTH, VECTOR);
    }
}
