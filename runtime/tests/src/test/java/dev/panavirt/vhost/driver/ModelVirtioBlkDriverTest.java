package dev.panavirt.vhost.driver;

import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VdpaDevice;

/**
 * {@link VirtioBlkDriverContract} on the vDPA model's vdpa_sim_blk ({@link ModelVdpa}) in the host's default run:
 * the same test methods as on the kernel's device.
 */
class ModelVirtioBlkDriverTest extends VirtioBlkDriverContract {
    @Override
    VdpaDevice openDevice() {
        return ModelVdpa.blk(VdpaSim.Options.defaults());
    }
}
