package dev.panavirt.machine.acpi;

/**
 * One virtio-mmio device window as the guest is told of it: the register block at {@code base} of {@code size}
 * bytes and the global system interrupt (an IOAPIC input) the device raises, edge-triggered and active-high.
 * The virtio specification's MMIO register layout takes 0x100 bytes plus the device's configuration space; a
 * slot is usually one 4 KiB page (virtio 1.2, section 4.2.2).
 *
 * @param base the guest-physical address of the registers, page-aligned, below 4 GiB
 * @param size the window's length in bytes, a positive multiple of 4 KiB
 * @param gsi the global system interrupt, an IOAPIC pin of {@link AcpiTables#IOAPIC_PINS}
 */
public record VirtioMmioSlot(long base, long size, int gsi) {
    /** The usual window: one page. */
    public static final long PAGE = 0x1000;

    /** Checks what the tables can describe: a page-aligned 32-bit window and an IOAPIC pin. */
    public VirtioMmioSlot {
        if (size <= 0 || size % PAGE != 0 || base % PAGE != 0 || base < 0 || base + size > 1L << 32) {
            throw new IllegalArgumentException("virtio-mmio window 0x" + Long.toHexString(base) + "+0x"
                    + Long.toHexString(size) + " is not a page-aligned range below 4 GiB");
        }
        if (gsi < 0 || gsi >= AcpiTables.IOAPIC_PINS) {
            throw new IllegalArgumentException("virtio-mmio GSI " + gsi + " is not an IOAPIC pin (0-"
                    + (AcpiTables.IOAPIC_PINS - 1) + ")");
        }
    }
}
