package dev.panavirt.testsupport;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.vfio.EduModelDevice;

/**
 * One DMA transfer of the edu model, driven through its BAR0 registers and waited for: what tests that keep the
 * device busy beside something else (an IOMMU's dirty tracking, a migration) need, without {@code EduDriver}'s
 * checks for QEMU's device (which refuse a whole 4 KiB transfer).
 */
public final class EduModelDma {
    private EduModelDma() {
    }

    /** Programs source, destination, count and {@code cmd | DMA_RUN}, then spins until the engine is idle. */
    public static void run(EduModelDevice edu, long src, long dst, long count, long cmd) throws ErrnoException {
        edu.write(0, EduDevice.DMA_SRC, 8, src);
        edu.write(0, EduDevice.DMA_DST, 8, dst);
        edu.write(0, EduDevice.DMA_COUNT, 8, count);
        edu.write(0, EduDevice.DMA_CMD, 8, cmd | EduDevice.DMA_RUN);
        while ((edu.read(0, EduDevice.DMA_CMD, 8) & EduDevice.DMA_RUN) != 0) {
            Thread.onSpinWait();
        }
    }
}
