package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.vhost.VdpaDevice;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioNetDriverContract} with every frame in an indirect table, walked by the model's ring code: the
 * model offers no {@code VIRTIO_F_INDIRECT_DESC} (vdpa_sim does not), so {@link IndirectOffering} offers it in
 * front of it; the model's {@code Vring} follows indirect descriptors as the kernel's vringh does.
 */
class ModelIndirectVirtioNetDriverTest extends ModelVirtioNetDriverTest {
    @Override
    VdpaDevice openDevice() {
        return new IndirectOffering(super.openDevice());
    }

    @Override
    long wantedFeatures() {
        return 1L << SplitVirtqueue.F_INDIRECT_DESC;
    }

    @Override
    @Test
    void plainDescriptorsAsOnTheSimulator() {
        assertTrue(driver.txQueue().indirect());
        assertTrue(driver.rxQueue().indirect());
    }
}
