package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VdpaDevice;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioNetDriverContract} on the vDPA model's vdpa_sim_net ({@link ModelVdpa}) in the host's default run:
 * the same test methods as on the kernel's device, so the data path moves the same bytes on both.
 */
class ModelVirtioNetDriverTest extends VirtioNetDriverContract {
    static final String MAC = "52:54:00:12:34:56";

    @Override
    VdpaDevice openDevice() {
        return ModelVdpa.net(HexFormat.ofDelimiter(":").parseHex(MAC), VdpaSim.Options.defaults());
    }

    @Override
    String expectedMac() {
        return MAC;
    }

    @Test
    void plainDescriptorsAsOnTheSimulator() {
        assertFalse(driver.txQueue().indirect());
        assertFalse(driver.txQueue().eventIdx());
    }
}
