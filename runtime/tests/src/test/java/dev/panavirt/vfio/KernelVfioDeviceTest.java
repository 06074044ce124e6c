package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.fd.EventFd;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link KernelVfioDevice} on the lane's edu device (vfio-pci): device, region and interrupt info, region
 * access by pread/pwrite and by mmap, the kernel's errnos for bad accesses, eventfd loopback, reset.
 */
@Tag("vfio")
@RequiresDevice("vfio")
class KernelVfioDeviceTest {
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void infoRegionsAndAccess() throws ErrnoException, IOException {
        try (KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU()); Arena arena = Arena.ofConfined()) {
            KernelVfioDevice d = edu.device;
            assertEquals(edu.name, d.name());
            DeviceInfo info = d.info();
            System.out.println("edu device info " + info);
            assertTrue(info.isPci());
            assertEquals(vfio_h.VFIO_PCI_NUM_REGIONS(), info.numRegions());
            assertEquals(vfio_h.VFIO_PCI_NUM_IRQS(), info.numIrqs());
            RegionInfo bar0 = d.regionInfo(EduDriver.BAR0);
            System.out.println("edu BAR0 " + bar0 + " config " + d.regionInfo(EduDriver.CONFIG));
            assertEquals(1 << 20, bar0.size());
            assertTrue(bar0.readable() && bar0.writable() && bar0.mappable(), bar0.toString());
            assertEquals(0, d.regionInfo(1).size(), "BAR1 is not implemented");
            assertTrue(d.regionInfo(EduDriver.CONFIG).size() >= 256);
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.regionInfo(99)));

            // config space
            assertEquals(0x1234, d.read(EduDriver.CONFIG, 0, 2));
            assertEquals(0x11e8, d.read(EduDriver.CONFIG, 2, 2));
            assertEquals(0x11e81234L, d.read(EduDriver.CONFIG, 0, 4));
            // BAR0 by pread/pwrite, by width and by segment
            assertEquals(EduDriver.IDENTIFICATION, (int) d.read(EduDriver.BAR0, 0, 4));
            d.write(EduDriver.BAR0, EduDriver.REG_LIVENESS, 4, 0x0f0f0f0fL);
            assertEquals(0xf0f0f0f0L, d.read(EduDriver.BAR0, EduDriver.REG_LIVENESS, 4));
            MemorySegment four = arena.allocate(4, 4);
            d.read(EduDriver.BAR0, 0, four);
            assertEquals(EduDriver.IDENTIFICATION, four.get(LE_INT, 0));
            // vfio-pci passes an aligned 8-byte pread on as one 8-byte access: edu answers all ones below 0x80
            // (32-bit registers only) and takes it from 0x80 on (the DMA registers; no transfer is started)
            assertEquals(-1L, d.read(EduDriver.BAR0, 0, 8));
            d.write(EduDriver.BAR0, EduDriver.REG_DMA_SRC, 8, 0x0123456789abcdefL);
            assertEquals(0x0123456789abcdefL, d.read(EduDriver.BAR0, EduDriver.REG_DMA_SRC, 8));
            MemorySegment eight = arena.allocate(8, 8);
            d.read(EduDriver.BAR0, EduDriver.REG_DMA_SRC, eight);
            assertEquals(0x0123456789abcdefL, eight.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
            // BAR0 mapped
            MemorySegment mmio = d.map(EduDriver.BAR0);
            assertEquals(1 << 20, mmio.byteSize());
            assertEquals(EduDriver.IDENTIFICATION, mmio.get(LE_INT, 0));
            mmio.set(LE_INT, EduDriver.REG_LIVENESS, 0x12345678);
            assertEquals(~0x12345678, (int) d.read(EduDriver.BAR0, EduDriver.REG_LIVENESS, 4));

            // the kernel's answers to bad accesses
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.read(EduDriver.BAR0, 1 << 20, 4)), "past BAR0");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.read(1, 0, 4)), "empty BAR1");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.read(99, 0, 4)), "no region 99");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.map(1)), "BAR1 cannot be mapped");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.map(EduDriver.CONFIG)), "config space is not mappable");
            // and what never reaches it
            assertThrows(IllegalArgumentException.class, () -> d.read(EduDriver.BAR0, 0, 3));
            assertThrows(IllegalArgumentException.class, () -> d.read(EduDriver.BAR0, -4, 4));
            assertThrows(IllegalArgumentException.class, () -> d.read(EduDriver.BAR0, 0, MemorySegment.ofArray(new byte[4])));

            d.close();
            assertThrows(IllegalStateException.class, () -> mmio.get(LE_INT, 0), "the mapping went with the device");
        }
    }

    @Test
    void interruptInfoAndEventfdLoopback() throws ErrnoException, IOException {
        try (KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU());
                EventFd intx = EventFd.create(0); EventFd msi = EventFd.create(0)) {
            KernelVfioDevice d = edu.device;
            for (int i = 0; i < d.info().numIrqs(); i++) {
                try {
                    System.out.println("edu irq " + d.irqInfo(i));
                } catch (ErrnoException e) {
                    System.out.println("edu irq " + i + ": " + e.getMessage());
                }
            }
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.irqInfo(vfio_h.VFIO_PCI_ERR_IRQ_INDEX())),
                    "the error interrupt is for PCI Express functions only; edu is conventional PCI");
            IrqInfo intxInfo = d.irqInfo(EduDriver.INTX);
            assertEquals(1, intxInfo.count());
            assertTrue((intxInfo.flags() & vfio_h.VFIO_IRQ_INFO_EVENTFD()) != 0);
            assertEquals(1, d.irqInfo(EduDriver.MSI).count());
            assertEquals(0, d.irqInfo(EduDriver.MSIX).count());
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.irqInfo(99)));

            d.enableIrqs(EduDriver.INTX, 0, intx);
            d.triggerIrq(EduDriver.INTX, 0);
            assertEquals(1, intx.await(5000), "INTx loopback");
            d.unmaskIrq(EduDriver.INTX, 0);
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.enableIrqs(EduDriver.MSI, 0, msi)),
                    "INTx is on: one interrupt type at a time");
            d.disableIrqs(EduDriver.INTX);
            d.enableIrqs(EduDriver.MSI, 0, msi);
            d.triggerIrq(EduDriver.MSI, 0);
            assertEquals(1, msi.await(5000), "MSI loopback");
            assertEquals(Errno.ENOTTY, VfioContainerTest.errno(() -> d.unmaskIrq(EduDriver.MSI, 0)),
                    "vfio-pci has no MSI masking");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.unmaskIrq(EduDriver.INTX, 0)), "INTx is off");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.enableIrqs(EduDriver.MSI, 1, msi)), "edu has one MSI vector");
            assertEquals(Errno.EINVAL, VfioContainerTest.errno(() -> d.enableIrqs(EduDriver.MSIX, 0, msi)), "no MSI-X");
            d.disableIrqs(EduDriver.MSI);
        }
    }

    @Test
    void reset() throws ErrnoException, IOException {
        try (KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU())) {
            KernelVfioDevice d = edu.device;
            if (d.info().canReset()) {
                d.reset();
                assertEquals(EduDriver.IDENTIFICATION, (int) d.read(EduDriver.BAR0, 0, 4));
            } else {
                assertEquals(Errno.EINVAL, VfioContainerTest.errno(d::reset), "no reset offered");
            }
            System.out.println("edu reset offered: " + d.info().canReset());
        }
    }
}
