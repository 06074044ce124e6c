package dev.panavirt.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.fd.EventFd;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link VfioContainer} and {@link VfioGroup} against the genuine type1 IOMMU (the nested lane's edu group):
 * the API version, the extensions, GET_INFO's capability chain, group and close rules, and (inherited from
 * {@link Type1RulesContract}, which {@link ModelType1RulesTest} runs on the model) every errno of MAP_DMA,
 * UNMAP_DMA and DIRTY_PAGES that userspace can drive the kernel into (SEMANTICS.md D.5-D.7), on 6.12's rules.
 */
@Tag("vfio")
@RequiresDevice("vfio")
class VfioContainerTest extends Type1RulesContract {
    @Override
    EduBackend open(int type) throws ErrnoException, IOException {
        return KernelEduFixture.open(type);
    }

    @Override
    void mapRaw(Iommu iommu, long iova, long vaddr, long size, int flags) throws ErrnoException {
        ((VfioContainer) iommu).map(iova, vaddr, size, flags);
    }

    /** Debian's 6.12 still answers EINVAL for a wrapping range; newer kernels EOVERFLOW (SEMANTICS D.9). */
    @Override
    int wrapErrno() {
        return System.getProperty("os.version").startsWith("6.12") ? Errno.EINVAL : Errno.EOVERFLOW;
    }

    @Test
    void freshContainer() throws ErrnoException {
        try (VfioContainer c = VfioContainer.open()) {
            assertEquals(0, c.apiVersion());
            assertEquals(1, c.checkExtension(vfio_h.VFIO_TYPE1_IOMMU()));
            assertEquals(1, c.checkExtension(vfio_h.VFIO_TYPE1v2_IOMMU()));
            assertEquals(1, c.checkExtension(vfio_h.VFIO_UNMAP_ALL()));
            if (System.getProperty("os.version").startsWith("6.12")) {
                assertEquals(1, c.checkExtension(vfio_h.VFIO_TYPE1_NESTING_IOMMU()), "6.12 still advertises 6");
            }
            assertEquals(0, c.checkExtension(0x7654));
            assertEquals(0, c.checkExtension(vfio_h.VFIO_UPDATE_VADDR()), "no IOMMU yet to answer it");
            // no group yet: no IOMMU type can be set, and IOMMU ioctls reach no driver
            assertEquals(Errno.EINVAL, errno(() -> c.setIommu(vfio_h.VFIO_TYPE1v2_IOMMU())));
            assertEquals(Errno.EINVAL, errno(c::info));
            assertEquals(Errno.EINVAL, errno(() -> c.map(0x100000, 0x10000, PAGE, Iommu.READ)));
        }
    }

    @Test
    void extensionsOfAType1v2Container() throws ErrnoException, IOException {
        try (KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU())) {
            VfioContainer c = edu.container;
            assertEquals(vfio_h.VFIO_TYPE1v2_IOMMU(), c.iommuType());
            for (int ext : new int[] {1, 3, 9}) {
                assertEquals(1, c.checkExtension(ext), "extension " + ext);
            }
            if (System.getProperty("os.version").startsWith("6.12")) {
                assertEquals(1, c.checkExtension(6));
            }
            assertEquals(1, c.checkExtension(vfio_h.VFIO_UPDATE_VADDR()), "no emulated (mdev) group");
            assertEquals(0, c.checkExtension(2), "SPAPR");
            assertEquals(0, c.checkExtension(0x7654));
            System.out.println("type1v2: DMA_CC_IOMMU " + c.checkExtension(vfio_h.VFIO_DMA_CC_IOMMU()));
            // a type is set once
            assertEquals(Errno.EINVAL, errno(() -> c.setIommu(vfio_h.VFIO_TYPE1v2_IOMMU())));
        }
    }

    @Test
    void info() throws ErrnoException, IOException {
        try (KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU())) {
            IommuInfo info = edu.container.info();
            System.out.println("type1 GET_INFO: pageSizes 0x" + Long.toHexString(info.pageSizes()) + " iovaRanges "
                    + info.iovaRanges() + " migration " + info.migration() + " dmaAvail " + info.dmaAvail());
            assertTrue((info.pageSizes() & PAGE) != 0, "4 KiB pages");
            assertEquals(PAGE, info.minPageSize());
            assertFalse(info.iovaRanges().isEmpty(), "an IOMMU-backed group has an IOVA list");
            for (IommuInfo.IovaRange r : info.iovaRanges()) {
                assertTrue(Long.compareUnsigned(r.start(), r.end()) <= 0, r.toString());
            }
            IommuInfo.Migration mig = info.migration().orElseThrow();
            assertEquals(0, mig.flags());
            assertEquals(PAGE, mig.pageSizes(), "dirty bitmaps use the smallest page only");
            assertEquals(256L << 20, mig.maxDirtyBitmapSize());
            int avail = info.dmaAvail().orElseThrow();
            assertTrue(avail > 0);
            MemorySegment buf = arena.allocate(2 * PAGE, PAGE);
            edu.container.map(0x100000, buf.asSlice(0, PAGE), Iommu.READ);
            edu.container.map(0x200000, buf.asSlice(PAGE, PAGE), Iommu.READ | Iommu.WRITE);
            assertEquals(avail - 2, edu.container.info().dmaAvail().orElseThrow(), "one entry per MAP_DMA");
            assertEquals(2 * PAGE, edu.container.unmapAll());
            assertEquals(avail, edu.container.info().dmaAvail().orElseThrow());
        }
    }

    @Test
    void groupRules() throws ErrnoException, IOException {
        String name = KernelEduFixture.eduName();
        int number = VfioGroup.groupNumberOf(name);
        try (VfioContainer c = VfioContainer.open(); VfioGroup g = VfioGroup.open(number)) {
            assertEquals(Errno.EBUSY, assertThrows(ErrnoException.class, () -> VfioGroup.open(number)).errno(),
                    "a group is open once at a time");
            VfioGroup.Status s = g.status();
            assertTrue(s.viable(), s.toString());
            assertFalse(s.containerSet());
            assertEquals(Errno.EINVAL, errno(() -> g.device(name)), "no container yet");
            assertEquals(Errno.EINVAL, errno(g::unsetContainer), "no container to unset");
            g.setContainer(c);
            assertTrue(g.status().containerSet());
            assertEquals(List.of(g), c.groups());
            assertEquals(Errno.EINVAL, errno(() -> g.setContainer(c)), "already set");
            assertEquals(Errno.EINVAL, errno(() -> g.device(name)), "no IOMMU type yet");
            c.setIommu(vfio_h.VFIO_TYPE1v2_IOMMU());
            assertEquals(Errno.ENODEV, errno(() -> g.device("0000:ff:1f.7")), "no such device in the group");
            KernelVfioDevice d = g.device(name);
            assertEquals(Errno.EBUSY, errno(g::unsetContainer), "a device is open");
            d.close();
            g.unsetContainer();
            assertFalse(g.status().containerSet());
            assertEquals(List.of(), c.groups());
            assertEquals(0, c.iommuType(), "the last group took the IOMMU with it");
        }
    }

    /** Closing the container closes what hangs off it, in the kernel's order, and everything refuses use after. */
    @Test
    void closeOrderAndUseAfterClose() throws ErrnoException, IOException {
        KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU());
        MemorySegment bar0;
        try (EventFd efd = EventFd.create(0)) {
            edu.container.map(0x100000, arena.allocate(PAGE, PAGE), Iommu.READ);
            bar0 = edu.device.map(EduDriver.BAR0);
            edu.device.enableIrqs(EduDriver.INTX, 0, efd);
            edu.close();
        }
        assertTrue(edu.device.isClosed());
        assertTrue(edu.group.isClosed());
        assertTrue(edu.container.isClosed());
        assertThrows(IllegalStateException.class, () -> bar0.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
        VfioContainer c = edu.container;
        assertThrows(IllegalStateException.class, () -> c.checkExtension(1));
        assertThrows(IllegalStateException.class, c::info);
        assertThrows(IllegalStateException.class, () -> c.map(0x100000, arena.allocate(PAGE, PAGE), Iommu.READ));
        assertThrows(IllegalStateException.class, () -> c.unmap(0x100000, PAGE));
        assertThrows(IllegalStateException.class, c::unmapAll);
        assertThrows(IllegalStateException.class, c::startDirtyTracking);
        assertThrows(IllegalStateException.class, () -> c.readDirty(0, PAGE, PAGE, arena.allocate(8, 8)));
        assertThrows(IllegalStateException.class, edu.group::status);
        assertThrows(IllegalStateException.class, () -> edu.group.device(edu.name));
        assertThrows(IllegalStateException.class, () -> edu.device.read(0, 0, 4));
        assertThrows(IllegalStateException.class, edu.device::info);
        assertThrows(IllegalStateException.class, () -> edu.device.unmaskIrq(0, 0));
        c.close(); // idempotent
        edu.group.close();
        edu.device.close();
        // everything was released: the group opens again
        try (KernelEduFixture again = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU())) {
            assertEquals(EduDriver.IDENTIFICATION, (int) again.device.read(EduDriver.BAR0, 0, 4));
        }
    }
}
