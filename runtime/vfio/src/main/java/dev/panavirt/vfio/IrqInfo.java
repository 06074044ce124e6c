package dev.panavirt.vfio;

/**
 * {@code struct vfio_irq_info}.
 *
 * @param index the interrupt index
 * @param flags {@code VFIO_IRQ_INFO_*}: EVENTFD 1, MASKABLE 2, AUTOMASKED 4, NORESIZE 8
 * @param count vectors (0: the device does not offer this interrupt)
 */
public record IrqInfo(int index, int flags, int count) {

    /** Whether the interrupt is masked each time it fires and needs {@link VfioDevice#unmaskIrq} (INTx). */
    public boolean automasked() {
        return (flags & 4) != 0;
    }
}
