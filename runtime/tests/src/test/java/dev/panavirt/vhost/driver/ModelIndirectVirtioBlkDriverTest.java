package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.vhost.VdpaDevice;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioBlkDriverContract} with every request (header, up to 32 data segments, status) in an indirect
 * table, walked by the model's ring code (see {@link IndirectOffering}).
 */
class ModelIndirectVirtioBlkDriverTest extends ModelVirtioBlkDriverTest {
    @Override
    VdpaDevice openDevice() {
        return new IndirectOffering(super.openDevice());
    }

    @Override
    long wantedFeatures() {
        return 1L << SplitVirtqueue.F_INDIRECT_DESC;
    }

    @Test
    void requestsTravelInIndirectTables() throws Exception {
        assertTrue(driver.queue().indirect());
        assertEquals(QUEUE, driver.queue().indirectMax());
        driver.flush();
        assertEquals(QUEUE, driver.queue().numFree());
    }
}
