package dev.panavirt.vhost.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.MemorySegment;
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

    /**
     * Kicks sent straight to the model ({@link SplitVirtqueue#notifyDirectly}) are served before {@code send}
     * returns, on this thread: with interrupts off the frame is back at once (no waiting), and neither kick
     * eventfd nor call eventfd was ever written, so the adapter's worker had nothing to do.
     */
    @Test
    void directNotificationsServeOnTheCallersThread() throws Exception {
        ModelVdpa model = (ModelVdpa) (device instanceof IndirectOffering offer ? offer.inner() : device);
        for (SplitVirtqueue q : new SplitVirtqueue[] {driver.txQueue(), driver.rxQueue()}) {
            q.notifyDirectly(model.model()::kick);
            q.interrupts(false);
        }
        byte[] mac = driver.mac();
        MemorySegment f = frame(arena, mac, mac, 64, 3);
        MemorySegment got = arena.allocate(VirtioNetDriver.MAX_FRAME);
        long before = driver.txQueue().notifications();
        for (int i = 0; i < 3 * QUEUE; i++) {
            assertTrue(driver.send(f));
            assertEquals(64, driver.receive(got, 0), "frame " + i + " back without waiting");
            assertEquals(-1, got.asSlice(0, 64).mismatch(f));
        }
        assertEquals(before + 3 * QUEUE, driver.txQueue().notifications());
        assertEquals(0, driver.txQueue().kickFd().read(), "TX kick eventfd never written");
        assertEquals(0, driver.rxQueue().callFd().read(), "no interrupts asked for, none given");
        driver.txQueue().notifyDirectly(null);                 // back to the eventfd: the worker serves it
        driver.rxQueue().interrupts(true);
        assertTrue(driver.send(f));
        assertEquals(64, driver.receive(got, TIMEOUT));
    }
}
