package dev.panavirt.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.RequiresDevice;
import dev.panavirt.vhost.VhostVdpa;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A KVM guest's virtio-net queues served by the kernel's vdpa_sim_net through /dev/vhost-vdpa-0: panavirt
 * emulates only the virtio-mmio registers ({@link VirtioMmioVdpa}); the guest's notifies reach the device
 * through ioeventfds and the device's completions reach the guest through irqfds, so the frame goes out and
 * comes back without an exit to the VMM on the data path. Runs in the nested lane, which has both /dev/kvm and
 * /dev/vhost-vdpa-N.
 */
@Tag("kvm")
@Tag("vdpa")
@RequiresDevice({"kvm", "vdpa"})
class VirtioNetDatapathTest {
    static final Duration T = Duration.ofSeconds(60);

    @Test
    void theGuestSendsAFrameAndReceivesItBackThroughTheKernelDevice() throws Exception {
        try (VhostVdpa vdpa = VhostVdpa.open("/dev/vhost-vdpa-0");
                TestGuest g = TestGuest.create(Guests.c(VirtioNetGuest.source()), true,
                        Options.defaults().withIrqchip().withSharedMemory())) {
            try (VirtioMmioVdpa net = VirtioMmioVdpa.attach(g.vm(), g.mmio(), VirtioNetGuest.BASE,
                    VirtioNetGuest.GSI, vdpa)) {
                assertEquals(VirtioNetGuest.HEADER + VirtioNetGuest.FRAME, g.runToDone(0, T));
                assertEquals(0, net.trappedNotifies(), "every notify went through an ioeventfd");
            }
            byte[] sent = g.memory().read(VirtioNetGuest.TX_BUF + VirtioNetGuest.HEADER, VirtioNetGuest.FRAME);
            byte[] received = g.memory().read(VirtioNetGuest.RX_BUF + VirtioNetGuest.HEADER, VirtioNetGuest.FRAME);
            assertArrayEquals(sent, received, "the frame came back through vdpa_sim_net's loopback");
            assertArrayEquals(new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56}, java.util.Arrays.copyOf(sent, 6),
                    "addressed to the MAC the guest read from config space");
        }
    }
}
