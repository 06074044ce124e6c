package dev.panavirt.vhost.driver;

import dev.panavirt.testsupport.RequiresDevice;
import dev.panavirt.vhost.VdpaDevice;
import dev.panavirt.vhost.VhostVdpa;
import org.junit.jupiter.api.Tag;

/** {@link VirtioBlkDriverContract} on the kernel's vdpa_sim_blk, /dev/vhost-vdpa-1 of the nested lane. */
@Tag("vdpa")
@RequiresDevice("vdpa")
class KernelVirtioBlkDriverTest extends VirtioBlkDriverContract {
    @Override
    VdpaDevice openDevice() throws Exception {
        return VhostVdpa.open(1);
    }
}
