package dev.panavirt.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vhost.ModelVdpa;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The guest of {@link VirtioNetDatapathTest}, unchanged, against the vDPA model of vdpa_sim_net: the same
 * {@link VirtioMmioVdpa} transport; the guest's notifies signal the kick eventfds (KVM ioeventfds) that the
 * model's worker watches, and the model's completions signal the call eventfds (KVM irqfds). So a host with
 * /dev/kvm but no vhost-vdpa runs the datapath too.
 */
@KvmTest
class ModelVirtioNetDatapathTest {
    static final Duration T = Duration.ofSeconds(60);
    static final byte[] MAC = {0x52, 0x54, 0, 0x12, 0x34, 0x56};

    @Test
    void theGuestSendsAFrameAndReceivesItBackThroughTheModel() throws Exception {
        try (ModelVdpa vdpa = ModelVdpa.net(MAC, VdpaSim.Options.defaults());
                TestGuest g = TestGuest.create(Guests.c(VirtioNetGuest.source()), true,
                        Options.defaults().withIrqchip().withSharedMemory())) {
            try (VirtioMmioVdpa net = VirtioMmioVdpa.attach(g.vm(), g.mmio(), VirtioNetGuest.BASE,
                    VirtioNetGuest.GSI, vdpa)) {
                assertEquals(VirtioNetGuest.HEADER + VirtioNetGuest.FRAME, g.runToDone(0, T));
                assertEquals(0, net.trappedNotifies(), "every notify went through an ioeventfd");
            }
            byte[] sent = g.memory().read(VirtioNetGuest.TX_BUF + VirtioNetGuest.HEADER, VirtioNetGuest.FRAME);
            byte[] received = g.memory().read(VirtioNetGuest.RX_BUF + VirtioNetGuest.HEADER, VirtioNetGuest.FRAME);
            assertArrayEquals(sent, received, "the frame came back through the model's loopback");
            assertArrayEquals(MAC, java.util.Arrays.copyOf(sent, 6), "addressed to the model's MAC");
        }
    }
}
