package dev.panavirt.vmm.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vfio.EduModelDevice;
import dev.panavirt.vfio.ModelIommu;
import dev.panavirt.vmm.vfio.AssignedDevice.BarAccess;
import dev.panavirt.vmm.vfio.AssignedDevice.Placement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The edu guest driver of {@link DeviceAssignmentTest}, unchanged, against the edu model behind the type1
 * model: the same {@link AssignedDevice} code puts the model's BAR0 in the guest (trapped: a model has no
 * mmap), maps the guest's RAM into the model IOMMU, and wires the model's MSI eventfd to an irqfd. So a host
 * with /dev/kvm but no VFIO assigns a device too, and the model's DMA really writes the guest's memory.
 */
@KvmTest
class ModelDeviceAssignmentTest {
    static final Duration T = Duration.ofSeconds(60);
    static final long BAR = 0xe000_0000L;

    @ParameterizedTest(name = "precise={0}")
    @ValueSource(booleans = {false, true})
    void theGuestDriverRunsOnTheModel(boolean precise) throws Exception {
        try (ModelIommu iommu = ModelIommu.open();
                TestGuest g = TestGuest.create(Guests.c(EduGuest.source(BAR)), true, Options.defaults().withIrqchip())) {
            EduModelDevice edu = EduModelDevice.create(iommu, precise, EduDevice.Timing.IMMEDIATE);
            try (AssignedDevice assigned = AssignedDevice.assign(g.vm(), g.mmio(), iommu, edu,
                    new Placement(0, BAR, BarAccess.TRAP, 5, 10, 0xfee0_0000L, EduGuest.VECTOR))) {
                assertEquals(3, g.runToDone(0, T), "interrupts the guest took: factorial, two DMAs");
            }
            assertArrayEquals(EduGuest.pattern(), g.memory().read(EduGuest.DST, EduGuest.LENGTH),
                    "the model's DMA wrote the guest's destination buffer");
            assertEquals(0, edu.model().dmaFaults(), "no DMA fault");
            assertEquals(0, edu.model().dmaRangeErrors(), "no out-of-range DMA");
            assertEquals(0, iommu.unmapAll(), "unassigning unmapped the guest's RAM");
            edu.close();
        }
    }

    @Test
    void aModelBarCannotBeMapped() throws Exception {
        try (ModelIommu iommu = ModelIommu.open();
                TestGuest g = TestGuest.create(Guests.c(EduGuest.source(BAR)), true, Options.defaults().withIrqchip())) {
            EduModelDevice edu = EduModelDevice.create(iommu, false, EduDevice.Timing.IMMEDIATE);
            var e = assertThrows(IllegalArgumentException.class, () -> AssignedDevice.assign(g.vm(), g.mmio(), iommu,
                    edu, new Placement(0, BAR, BarAccess.MAP, 5, 10, 0xfee0_0000L, EduGuest.VECTOR)));
            assertEquals("0000:00:03.0 region 0 cannot be mapped (flags 0x3); use TRAP", e.getMessage());
            assertEquals(0, iommu.unmapAll(), "nothing stayed mapped");
            edu.close();
        }
    }
}
