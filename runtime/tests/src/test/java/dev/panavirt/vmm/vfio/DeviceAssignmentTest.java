package dev.panavirt.vmm.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.RequiresDevice;
import dev.panavirt.vfio.KernelEduFixture;
import dev.panavirt.vmm.vfio.AssignedDevice.BarAccess;
import dev.panavirt.vmm.vfio.AssignedDevice.Placement;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * QEMU's edu device on vfio-pci, assigned to a panavirt VM and driven by a gcc-built guest driver
 * ({@link EduGuest}): BAR0 in guest-physical space (mapped through a memory slot over the region's mmap, or
 * trapped and forwarded), the guest's RAM in the IOMMU at IOVA = GPA, the device's MSI delivered through an
 * irqfd, the group added to the KVM-VFIO device. Runs in the nested lane, which has both /dev/kvm and the
 * edu device behind the emulated VT-d.
 */
@Tag("kvm")
@Tag("vfio")
@RequiresDevice({"kvm", "vfio"})
class DeviceAssignmentTest {
    static final Duration T = Duration.ofSeconds(60);
    static final long BAR = 0xe000_0000L;

    @ParameterizedTest
    @EnumSource(BarAccess.class)
    void aGuestDriverComputesCopiesByDmaAndTakesTheInterrupt(BarAccess access) throws Exception {
        try (KernelEduFixture edu = KernelEduFixture.open(vfio_h.VFIO_TYPE1v2_IOMMU());
                TestGuest g = TestGuest.create(Guests.c(EduGuest.source(BAR)), true, Options.defaults().withIrqchip());
                KvmVfio kvmVfio = KvmVfio.create(g.vm())) {
            kvmVfio.add(edu.group.rawFd());
            try (AssignedDevice assigned = AssignedDevice.assign(g.vm(), g.mmio(), edu.container, edu.device,
                    new Placement(0, BAR, access, 5, 10, 0xfee0_0000L, EduGuest.VECTOR))) {
                assertEquals(3, g.runToDone(0, T), "interrupts the guest took: factorial, two DMAs");
            }
            assertArrayEquals(EduGuest.pattern(), g.memory().read(EduGuest.DST, EduGuest.LENGTH),
                    "the device wrote the guest's destination buffer");
            assertEquals(0, edu.container.unmapAll(), "unassigning unmapped the guest's RAM");
            kvmVfio.remove(edu.group.rawFd());
        }
    }
}
