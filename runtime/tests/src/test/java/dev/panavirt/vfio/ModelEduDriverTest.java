package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.EduDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * {@link EduDriverContract} on the models, on any host: the edu model in an IOMMU-backed group (as vfio-pci's)
 * behind the type1 model answering as the lane's 6.12 kernel ({@link ModelEduBackend}).
 */
class ModelEduDriverTest extends EduDriverContract {
    @Override
    EduBackend open() throws ErrnoException {
        return ModelEduBackend.open(false);
    }

    /** The model cannot trap stores into a plain segment, so BAR0 is read/write only. */
    @Override
    boolean bar0Mappable() {
        return false;
    }

    /**
     * Pinned difference, model only: a transfer reaching the buffer's last byte (0x40000 + 4096). The model
     * follows current QEMU's {@code edu_check_range} (the end may equal the buffer's end) and moves all 4096
     * bytes; the lane's QEMU 7.2 checks the end with {@code within(end, start, end2)}, strictly inside, and
     * aborts the whole VM ({@code hw_error}), so this cannot run in the kernel flavour and {@link EduDriver}
     * stops every transfer at {@link EduDriver#MAX_TRANSFER} bytes on both. Programmed here through the
     * registers, past the driver's check.
     */
    @Test
    void aWholeBufferTransferCompletesOnTheModel() throws ErrnoException {
        MemorySegment src = arena.allocate(4096, 4096);
        MemorySegment dst = arena.allocate(4096, 4096);
        src.fill((byte) 0x3c);
        driver.mapBuffer(SRC_IOVA, src, Iommu.READ);
        driver.mapBuffer(DST_IOVA, dst, Iommu.WRITE);
        VfioDevice d = edu.device();
        for (long[] t : new long[][] {{SRC_IOVA, EduDriver.BUFFER, 0}, {EduDriver.BUFFER, DST_IOVA, EduDriver.DMA_TO_RAM}}) {
            d.write(EduDriver.BAR0, EduDriver.REG_DMA_SRC, 4, t[0]);
            d.write(EduDriver.BAR0, EduDriver.REG_DMA_DST, 4, t[1]);
            d.write(EduDriver.BAR0, EduDriver.REG_DMA_COUNT, 4, EduDriver.BUFFER_SIZE);
            d.write(EduDriver.BAR0, EduDriver.REG_DMA_CMD, 4, t[2] | EduDriver.DMA_START);
            driver.awaitDma(WAIT);
        }
        assertEquals(0x3c3c3c3c, dst.get(ValueLayout.JAVA_INT, 4092), "the buffer's last bytes moved");
        EduDevice model = ((EduModelDevice) edu.device()).model();
        assertEquals(0, model.dmaRangeErrors() + model.dmaFaults());
    }

    /**
     * Why the contract does not run on the emulated (mdev-like) edu: {@link EduDriver} maps its DMA targets
     * write-only, which the hardware IOMMU honours (vfio-pci, and the IOMMU-backed model above), but
     * {@code vfio_dma_rw}, the only way an emulated device reaches memory, refuses any mapping without READ,
     * even for a write ({@code vfio_iommu_type1_dma_rw_chunk}: {@code EPERM}). The transfer faults and moves
     * nothing; the device still completes the command.
     */
    @Test
    void anEmulatedDeviceCannotWriteAWriteOnlyMapping() throws ErrnoException {
        try (ModelEduBackend precise = ModelEduBackend.open(true)) {
            EduDriver d = new EduDriver(precise.device(), precise.iommu());
            d.enableBusMaster();
            MemorySegment dst = arena.allocate(4096, 4096);
            d.mapBuffer(DST_IOVA, dst, Iommu.WRITE);
            d.dmaToRam(EduDriver.BUFFER, DST_IOVA, 16, false);
            d.awaitDma(WAIT);
            assertEquals(1, precise.device().model().dmaFaults());
            assertEquals(0L, dst.get(ValueLayout.JAVA_LONG, 0));
        }
    }
}
