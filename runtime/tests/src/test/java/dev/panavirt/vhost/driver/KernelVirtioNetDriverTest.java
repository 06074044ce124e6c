package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.panavirt.testsupport.RequiresDevice;
import dev.panavirt.vhost.VdpaDevice;
import dev.panavirt.vhost.VhostVdpa;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioNetDriverContract} on the kernel's vdpa_sim_net, /dev/vhost-vdpa-0 of the nested lane (created with
 * MAC 52:54:00:12:34:56). vdpa_sim offers neither EVENT_IDX nor INDIRECT_DESC, so the driver runs its plain
 * descriptor and NO_NOTIFY paths here; asking for both shows they are not negotiated.
 */
@Tag("vdpa")
@RequiresDevice("vdpa")
class KernelVirtioNetDriverTest extends VirtioNetDriverContract {
    @Override
    VdpaDevice openDevice() throws Exception {
        return VhostVdpa.open(0);
    }

    @Override
    String expectedMac() {
        return "52:54:00:12:34:56";
    }

    @Override
    long wantedFeatures() {
        return (1L << SplitVirtqueue.F_EVENT_IDX) | (1L << SplitVirtqueue.F_INDIRECT_DESC);
    }

    @Test
    void theSimulatorOffersNeitherEventIndexNorIndirect() {
        assertEquals(0, driver.features() & wantedFeatures());
        assertFalse(driver.txQueue().eventIdx());
        assertFalse(driver.txQueue().indirect());
    }
}
