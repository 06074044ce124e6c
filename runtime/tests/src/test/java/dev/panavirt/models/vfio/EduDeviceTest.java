package dev.panavirt.models.vfio;

import dev.panavirt.testsupport.HeapHostMemory;
import static dev.panavirt.models.vfio.EduDevice.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** QEMU's edu device ({@code hw/misc/edu.c}) as modelled: registers, factorial, DMA through the IOMMU, interrupts. */
class EduDeviceTest {
    static final long PG = 4096;
    static final long BASE = 0x10_0000;
    static final long RAM = 0x20_0000;            // the IOVA the driver maps its buffer at

    final HeapHostMemory mem = new HeapHostMemory(BASE, 1 << 16);
    final Type1Iommu iommu = Type1Iommu.open(mem);
    final List<String> irqs = new ArrayList<>();

    EduDevice edu(IommuGroupKind kind, Timing timing) throws Exception {
        EduDevice d = new EduDevice(iommu.attachGroup(kind), timing);
        d.interrupts((index, vector) -> irqs.add(index == INTX ? "intx" : "msi"));
        return d;
    }

    @Test
    void identLivenessAndAccessWidths() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        assertEquals(0x010000edL, d.mmioRead(IDENT, 4));
        assertEquals(0, d.mmioRead(LIVENESS, 4));
        d.mmioWrite(LIVENESS, 4, 0x12345678);
        assertEquals(~0x12345678 & 0xffff_ffffL, d.mmioRead(LIVENESS, 4));
        assertEquals(0xffff, d.mmioRead(IDENT, 2), "registers below 0x80 take 4-byte accesses only");
        d.mmioWrite(LIVENESS, 8, 0);
        assertEquals(~0x12345678 & 0xffff_ffffL, d.mmioRead(LIVENESS, 4));
        assertEquals(0xffff_ffffL, d.mmioRead(0x10, 4), "undecoded: all ones");
        d.mmioWrite(DMA_SRC, 8, 0x1_2345_6789L);
        assertEquals(0x1_2345_6789L, d.mmioRead(DMA_SRC, 8));
        assertEquals(0x2345_6789L, d.mmioRead(DMA_SRC, 4));
        d.mmioWrite(DMA_SRC, 4, 0xffff_ffffL);
        assertEquals(0xffff_ffffL, d.mmioRead(DMA_SRC, 8), "a 4-byte write zero-extends");
        assertEquals(-1L, d.mmioRead(DMA_SRC, 2) | ~0xffffL, "2-byte DMA register access: all ones");
    }

    @Test
    void factorialPolled() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        d.mmioWrite(FACTORIAL, 4, 5);
        d.mmioWrite(FACTORIAL, 4, 7);                               // ignored while computing
        assertEquals(STATUS_COMPUTING, d.mmioRead(STATUS, 4), "busy on the first poll");
        assertEquals(0, d.mmioRead(STATUS, 4));
        assertEquals(120, d.mmioRead(FACTORIAL, 4));
        d.mmioWrite(FACTORIAL, 4, 13);
        d.mmioRead(STATUS, 4);
        assertEquals(6227020800L & 0xffff_ffffL, d.mmioRead(FACTORIAL, 4), "32-bit wrap");
        d.mmioWrite(FACTORIAL, 4, 0xffff_ffffL);
        d.mmioRead(STATUS, 4);
        assertEquals(0, d.mmioRead(FACTORIAL, 4));
    }

    /** Under POLLED an operation that raises an interrupt when done completes without a poll, as QEMU's does. */
    @Test
    void polledCompletesWhatAsksForAnInterrupt() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        iommu.map(RAM, BASE, PG, Type1Iommu.READ | Type1Iommu.WRITE);
        d.enableMsi(true);
        d.mmioWrite(STATUS, 4, STATUS_IRQFACT);
        d.mmioWrite(FACTORIAL, 4, 5);
        assertEquals(List.of("msi"), irqs, "factorial done, unpolled");
        assertEquals(STATUS_IRQFACT, d.mmioRead(STATUS, 4));
        assertEquals(120, d.mmioRead(FACTORIAL, 4));
        d.mmioWrite(DMA_SRC, 8, DMA_BUFFER);
        d.mmioWrite(DMA_DST, 8, RAM);
        d.mmioWrite(DMA_COUNT, 8, 16);
        d.mmioWrite(DMA_CMD, 8, DMA_RUN | DMA_TO_RAM | DMA_IRQ);
        assertEquals(List.of("msi", "msi"), irqs, "DMA done, unpolled");
        assertEquals(0, d.mmioRead(DMA_CMD, 8) & DMA_RUN);
        assertEquals(FACT_IRQ | DMA_IRQ_BIT, d.mmioRead(IRQ_STATUS, 4));
    }

    @Test
    void factorialImmediateAndStepped() throws Exception {
        EduDevice now = edu(IommuGroupKind.IOMMU, Timing.IMMEDIATE);
        now.mmioWrite(FACTORIAL, 4, 12);
        assertEquals(0, now.mmioRead(STATUS, 4));
        assertEquals(479001600, now.mmioRead(FACTORIAL, 4));
        EduDevice stepped = edu(IommuGroupKind.IOMMU, Timing.STEPPED);
        stepped.mmioWrite(STATUS, 4, STATUS_IRQFACT);
        stepped.enableMsi(true);
        stepped.mmioWrite(FACTORIAL, 4, 3);
        for (int i = 0; i < 3; i++) {
            assertEquals(STATUS_IRQFACT | STATUS_COMPUTING, stepped.mmioRead(STATUS, 4));
        }
        stepped.step();
        assertEquals(6, stepped.mmioRead(FACTORIAL, 4));
        assertEquals(FACT_IRQ, stepped.mmioRead(IRQ_STATUS, 4));
        assertEquals(List.of("msi"), irqs);
    }

    @Test
    void intxIsAutomaskedUntilUnmasked() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        d.enableIntx(true);
        d.mmioWrite(IRQ_RAISE, 4, 0x10);
        assertEquals(List.of("intx"), irqs);
        assertTrue(d.intxMasked());
        d.mmioWrite(IRQ_RAISE, 4, 0x20);
        assertEquals(1, irqs.size(), "masked");
        d.unmaskIntx();
        assertEquals(2, irqs.size(), "unmasked with the line still high: fires again");
        d.mmioWrite(IRQ_ACK, 4, 0x30);
        assertFalse(d.intxLevel());
        d.unmaskIntx();
        assertEquals(2, irqs.size());
        assertEquals(0, d.mmioRead(IRQ_STATUS, 4));
    }

    @Test
    void msiFiresAtEveryRaise() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        d.enableMsi(true);
        d.mmioWrite(IRQ_RAISE, 4, 1);
        d.mmioWrite(IRQ_RAISE, 4, 1);
        assertEquals(List.of("msi", "msi"), irqs);
        assertFalse(d.intxLevel());
        assertEquals(1, d.configRead(0x42, 2) & 1, "MSI enable in the capability");
    }

    @Test
    void dmaBothWaysThroughTheIommu() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        iommu.map(RAM, BASE, 2 * PG, Type1Iommu.READ | Type1Iommu.WRITE);
        for (int i = 0; i < 16; i++) {
            mem.bytes[100 + i] = (byte) (i + 1);
        }
        d.enableMsi(true);
        dma(d, RAM + 100, DMA_BUFFER + 8, 16, 0);                   // RAM -> buffer
        assertEquals(1, d.buffer()[8]);
        assertEquals(16, d.buffer()[23]);
        dma(d, DMA_BUFFER + 8, RAM + PG + 4 | 0x7000_0000L, 16, DMA_TO_RAM | DMA_IRQ);  // clamped to 28 bits
        assertArrayEquals(Arrays.copyOfRange(mem.bytes, 100, 116), Arrays.copyOfRange(mem.bytes, (int) PG + 4, (int) PG + 20));
        assertEquals(DMA_IRQ_BIT, d.mmioRead(IRQ_STATUS, 4));
        assertEquals(List.of("msi"), irqs);
        assertEquals(0, d.dmaFaults() + d.dmaRangeErrors());
    }

    @Test
    void dmaFaultsAndRangeErrors() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.IMMEDIATE);
        iommu.map(RAM, BASE, PG, Type1Iommu.READ);
        d.enableMsi(true);
        dma(d, DMA_BUFFER, RAM, 16, DMA_TO_RAM | DMA_IRQ);           // read-only mapping: permission fault
        assertEquals(1, d.dmaFaults());
        assertEquals(List.of("msi"), irqs, "a faulted transfer still completes");
        dma(d, DMA_BUFFER, RAM + 8 * PG, 16, DMA_TO_RAM);              // unmapped
        assertEquals(2, d.dmaFaults());
        dma(d, DMA_BUFFER + 4090, RAM, 16, DMA_TO_RAM | DMA_IRQ);      // runs past the 4 KiB buffer
        dma(d, 0, RAM, 16, DMA_IRQ);
        dma(d, -8, RAM, 16, DMA_IRQ);                                   // wraps
        assertEquals(3, d.dmaRangeErrors());
        assertEquals(1, irqs.size(), "dropped commands raise nothing");
        assertEquals(0, d.mmioRead(DMA_CMD, 4) & DMA_RUN);
    }

    @Test
    void dmaRegistersAreFrozenWhileRunning() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.STEPPED);
        iommu.map(RAM, BASE, PG, Type1Iommu.READ | Type1Iommu.WRITE);
        d.mmioWrite(DMA_SRC, 8, RAM);
        d.mmioWrite(DMA_DST, 8, DMA_BUFFER);
        d.mmioWrite(DMA_COUNT, 8, 8);
        d.mmioWrite(DMA_CMD, 8, DMA_RUN);
        d.mmioWrite(DMA_SRC, 8, 0x1234);
        assertEquals(RAM, d.mmioRead(DMA_SRC, 8));
        assertEquals(DMA_RUN, d.mmioRead(DMA_CMD, 8));
        d.step();
        assertEquals(0, d.mmioRead(DMA_CMD, 8));
    }

    @Test
    void preciseDmaDirtiesOnlyWhatItWrites() throws Exception {
        EduDevice d = edu(IommuGroupKind.EMULATED, Timing.IMMEDIATE);
        iommu.map(RAM, BASE, 8 * PG, Type1Iommu.READ | Type1Iommu.WRITE);
        iommu.startDirtyTracking();
        dma(d, DMA_BUFFER, RAM + 2 * PG - 8, 16, DMA_TO_RAM);
        dma(d, RAM + 6 * PG, DMA_BUFFER, 16, 0);                          // a read dirties nothing
        long[] words = {0};
        iommu.getDirtyBitmap(RAM, 8 * PG, PG, 8, 0x1000, BitmapWords.of(words));
        assertEquals(0b110, words[0]);
        iommu.getDirtyBitmap(RAM, 8 * PG, PG, 8, 0x1000, BitmapWords.of(words));
        assertEquals(0, words[0]);
    }

    @Test
    void iommuBackedDmaLeavesEveryPageDirty() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.IMMEDIATE);
        iommu.map(RAM, BASE, 8 * PG, Type1Iommu.READ | Type1Iommu.WRITE);
        iommu.startDirtyTracking();
        dma(d, DMA_BUFFER, RAM, 16, DMA_TO_RAM);
        long[] words = {0};
        iommu.getDirtyBitmap(RAM, 8 * PG, PG, 8, 0x1000, BitmapWords.of(words));
        assertEquals(0xff, words[0]);
        iommu.getDirtyBitmap(RAM, 8 * PG, PG, 8, 0x1000, BitmapWords.of(words));
        assertEquals(0xff, words[0]);
    }

    @Test
    void configSpaceAndReset() throws Exception {
        EduDevice d = edu(IommuGroupKind.IOMMU, Timing.POLLED);
        assertEquals(0x11e8_1234L, d.configRead(0, 4));
        assertEquals(0x00ff_0010L, d.configRead(8, 4) & 0xffff_ffffL, "revision 0x10, class 0x00ff");
        d.configWrite(0x10, 4, 0xffff_ffffL);
        assertEquals(0xfff0_0000L, d.configRead(0x10, 4), "BAR0 sizes as 1 MiB");
        assertEquals(1, d.configRead(0x3d, 1));
        assertEquals(0x40, d.configRead(0x34, 1));
        assertEquals(5, d.configRead(0x40, 1), "MSI capability");
        d.mmioWrite(LIVENESS, 4, 1);
        d.reset();
        assertEquals(0, d.mmioRead(LIVENESS, 4));
        assertEquals(0, d.configRead(0x10, 4));
    }

    private static void dma(EduDevice d, long src, long dst, long count, long cmd) {
        d.mmioWrite(DMA_SRC, 8, src);
        d.mmioWrite(DMA_DST, 8, dst);
        d.mmioWrite(DMA_COUNT, 8, count);
        d.mmioWrite(DMA_CMD, 8, cmd | DMA_RUN);
        d.mmioRead(DMA_CMD, 8);                   // the driver's poll (completes a POLLED transfer)
        d.step();
    }
}
