package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link EduDriver} on an edu device behind a type1 IOMMU: registers, the factorial unit, DMA through the
 * IOMMU's mappings with the bytes checked, and interrupts by INTx and by MSI. Written once, run on every
 * backend: {@link EduDriverTest} on the genuine device through the kernel's VFIO (the nested lane),
 * {@link ModelEduDriverTest} on the models (any host). The same driver,
 * the same test methods, the same assertions; where a backend legitimately differs in something the driver
 * could see, a flavour method states it ({@link #bar0Mappable()}).
 */
abstract class EduDriverContract {
    static final Duration WAIT = Duration.ofSeconds(20);
    static final long SRC_IOVA = 0x100000, DST_IOVA = 0x200000;

    EduBackend edu;
    EduDriver driver;
    Arena arena;

    /** Opens the backend: an edu device in a fresh type1v2 container. */
    abstract EduBackend open() throws ErrnoException, IOException;

    /**
     * Whether BAR0 can be mmapped. vfio-pci offers it for a memory BAR of at least a page
     * ({@code vfio_pci_probe_mmaps} sets {@code bar_mmap_supported}, which {@code vfio_pci_core_mmap} and the
     * region's {@code VFIO_REGION_INFO_FLAG_MMAP} follow; the lane's edu BAR0 is 1 MiB); the edu
     * model cannot see stores into a plain segment, so it offers no mmap and fails {@code map} with
     * {@code EINVAL}, as vfio-pci does for a BAR without mmap. {@link EduDriver} uses read/write only.
     */
    abstract boolean bar0Mappable();

    @BeforeEach
    void openBackend() throws ErrnoException, IOException {
        arena = Arena.ofShared();
        edu = open();
        driver = new EduDriver(edu.device(), edu.iommu());
        driver.enableBusMaster();
    }

    @AfterEach
    void closeBackend() {
        if (edu != null) {
            edu.close(); // unmaps the DMA buffers before their memory goes
        }
        arena.close();
    }

    @Test
    void identification() throws ErrnoException {
        assertEquals(EduDriver.IDENTIFICATION, driver.identification());
    }

    @Test
    void liveness() throws ErrnoException {
        assertEquals(~0x12345678, driver.liveness(0x12345678));
        assertEquals(~0xcafe0000, driver.liveness(0xcafe0000));
        assertEquals(-1, driver.liveness(0));
    }

    @Test
    void factorial() throws ErrnoException {
        assertEquals(3628800, driver.factorial(10, WAIT));
        assertEquals(1, driver.factorial(0, WAIT));
        assertEquals(479001600, driver.factorial(12, WAIT));
        assertEquals(0, driver.status() & EduDriver.STATUS_COMPUTING);
    }

    @Test
    void dmaFromRamToDeviceAndBack() throws ErrnoException {
        MemorySegment src = arena.allocate(4096, 4096);
        MemorySegment dst = arena.allocate(4096, 4096);
        for (int i = 0; i < 4096; i++) {
            src.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 3));
        }
        dst.fill((byte) 0xee);
        driver.mapBuffer(SRC_IOVA, src, Iommu.READ);
        driver.mapBuffer(DST_IOVA, dst, Iommu.WRITE);

        int n = EduDriver.MAX_TRANSFER;
        driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER, n, false);
        driver.awaitDma(WAIT);
        driver.dmaToRam(EduDriver.BUFFER, DST_IOVA, n, false);
        driver.awaitDma(WAIT);
        assertArrayEquals(src.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), dst.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
        assertEquals((byte) 0xee, dst.get(ValueLayout.JAVA_BYTE, n), "the byte after the transfer is untouched");

        // A part of the buffer to another offset: only those bytes change.
        dst.fill((byte) 0);
        driver.dmaToRam(EduDriver.BUFFER + 0x10, DST_IOVA + 0x100, 100, false);
        driver.awaitDma(WAIT);
        for (int i = 0; i < 4096; i++) {
            byte want = i >= 0x100 && i < 0x100 + 100 ? src.get(ValueLayout.JAVA_BYTE, i - 0x100 + 0x10) : 0;
            assertEquals(want, dst.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
        }
    }

    @Test
    void dmaRangesAreCheckedBeforeTheEngineIsProgrammed() throws ErrnoException {
        MemorySegment buf = arena.allocate(8192, 4096);
        driver.mapBuffer(SRC_IOVA, buf, Iommu.READ);
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER + 1, 4095, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER, 4096, false),
                "QEMU 7.2 aborts on a transfer reaching the buffer's last byte");
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER + 4000, 96, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER - 8, 8, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER, 0, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER, 4097, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(SRC_IOVA + 8192 - 8, EduDriver.BUFFER, 16, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToDevice(DST_IOVA, EduDriver.BUFFER, 16, false));
        assertThrows(IllegalArgumentException.class, () -> driver.dmaToRam(EduDriver.BUFFER, SRC_IOVA, 16, false),
                "a read-only mapping is no target");
        assertThrows(IllegalArgumentException.class, () -> driver.mapBuffer(EduDriver.DMA_LIMIT - 4096, buf, Iommu.READ));
        assertEquals(0, driver.dmaBusy() ? 1 : 0, "nothing was started");
    }

    @Test
    void bar0MappingAsTheBackendOffersIt() throws ErrnoException {
        RegionInfo bar0 = edu.device().regionInfo(EduDriver.BAR0);
        assertEquals(1 << 20, bar0.size());
        assertTrue(bar0.readable() && bar0.writable());
        assertEquals(bar0Mappable(), bar0.mappable(), bar0.toString());
        if (bar0Mappable()) {
            MemorySegment mmio = edu.device().map(EduDriver.BAR0);
            assertEquals(EduDriver.IDENTIFICATION, mmio.get(ValueLayout.JAVA_INT_UNALIGNED, EduDriver.REG_ID));
        } else {
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> edu.device().map(EduDriver.BAR0)));
        }
    }

    @Test
    void interruptsByIntx() throws ErrnoException {
        IrqInfo intx = edu.device().irqInfo(EduDriver.INTX);
        assertEquals(1, intx.count());
        assertEquals(true, intx.automasked(), "INTx is automasked: " + intx);
        interrupts(EduDriver.IrqMode.INTX);
    }

    @Test
    void interruptsByMsi() throws ErrnoException {
        assertEquals(1, edu.device().irqInfo(EduDriver.MSI).count());
        assertEquals(0, edu.device().irqInfo(EduDriver.MSIX).count(), "edu has no MSI-X");
        interrupts(EduDriver.IrqMode.MSI);
    }

    private void interrupts(EduDriver.IrqMode mode) throws ErrnoException {
        try (EventFd efd = EventFd.create(0)) {
            driver.useInterrupts(mode, efd);
            // raise/ack, twice: the second shows the line was unmasked (INTx) after the first
            for (int bits : new int[] {0x10000, 0x20000}) {
                driver.raiseIrq(bits);
                assertEquals(bits, driver.awaitInterrupt(WAIT), mode + " raise 0x" + Integer.toHexString(bits));
                assertEquals(0, driver.irqStatus());
            }
            // factorial done
            driver.startFactorial(10, true);
            assertEquals(EduDriver.IRQ_FACTORIAL, driver.awaitInterrupt(WAIT), mode + " factorial");
            assertEquals(3628800, driver.factorialResult());
            // DMA done
            MemorySegment src = arena.allocate(4096, 4096);
            MemorySegment dst = arena.allocate(4096, 4096);
            src.fill((byte) 0x5a);
            driver.mapBuffer(SRC_IOVA, src, Iommu.READ);
            driver.mapBuffer(DST_IOVA, dst, Iommu.WRITE);
            driver.dmaToDevice(SRC_IOVA, EduDriver.BUFFER, 2048, true);
            assertEquals(EduDriver.IRQ_DMA, driver.awaitInterrupt(WAIT), mode + " DMA to device");
            driver.dmaToRam(EduDriver.BUFFER, DST_IOVA, 512, true);
            assertEquals(EduDriver.IRQ_DMA, driver.awaitInterrupt(WAIT), mode + " DMA to RAM");
            assertEquals(0x5a5a5a5a, dst.get(ValueLayout.JAVA_INT, 508));
            assertEquals(0, dst.get(ValueLayout.JAVA_INT, 512));
            // nothing pending
            assertEquals(0, driver.awaitInterrupt(Duration.ofMillis(200)));
            driver.useInterrupts(EduDriver.IrqMode.NONE, null);
        }
    }
}
