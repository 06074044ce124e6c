package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Libc;
import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.testsupport.RecordingDevice;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Kernel-side signalling: ioeventfd (guest → host without an exit) and irqfd (host → guest interrupt). */
@KvmTest
class IrqfdIoeventfdTest {
    static final Duration T = Duration.ofSeconds(30);

    @Test
    void ioeventfdSignalsWithoutAnExitAndDatamatchFilters() throws Exception {
        String body = """
                int main(void) {
                    outl(0x600, 1);           /* any value: ioeventfd A */
                    GUEST_SYNC(1);
                    outl(0x604, 7);           /* not the datamatch: exits to the VMM */
                    outl(0x604, 42);          /* the datamatch: ioeventfd B */
                    mmio_write32(0xd0000000ull, 9);   /* MMIO ioeventfd C */
                    GUEST_SYNC(2);
                    return 0;
                }
                """;
        try (TestGuest g = TestGuest.longMode(Guests.c(body));
                EventFd a = EventFd.create(Libc.EFD_NONBLOCK);
                EventFd b = EventFd.create(Libc.EFD_NONBLOCK);
                EventFd c = EventFd.create(Libc.EFD_NONBLOCK)) {
            RecordingDevice ports = new RecordingDevice();
            g.pio().insert(ports, 0x600, 8);
            g.vm().registerIoeventfd(a, IoEventAddress.pio(0x600), 4, Datamatch.ANY);
            g.vm().registerIoeventfd(b, IoEventAddress.pio(0x604), 4, Datamatch.value(42));
            g.vm().registerIoeventfd(c, IoEventAddress.mmio(0xd000_0000L), 4, Datamatch.ANY);

            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(1, a.read());
            assertEquals(List.of(), ports.accesses(), "the matched write never reached the VMM");

            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertEquals(1, b.read());
            assertEquals(1, c.read());
            assertEquals(0, a.read());
            assertEquals(List.of(new RecordingDevice.Access(4, 4, 7, true)), ports.accesses());

            g.vm().unregisterIoeventfd(a, IoEventAddress.pio(0x600), 4, Datamatch.ANY);
            assertEquals(0, g.runToDone(0, T));
        }
    }

    /**
     * Routes IOAPIC pin 5 to vector 0x30 (level-triggered with {@code level}), takes interrupts with the guest
     * header's counting handler, and halts until one arrives.
     */
    static String irqGuest(boolean level) {
        return """
                int main(void) {
                    pv_irq_setup(0x30);
                    pv_ioapic_route(5, 0x30, %d);
                    GUEST_SYNC(1);
                    pv_wait_irqs(1);
                    return pv_irq_count;
                }
                """.formatted(level ? 1 : 0);
    }

    @Test
    void irqfdInjectsAnInterruptIntoAHaltedGuest() throws Exception {
        Options o = Options.defaults().withIrqchip();
        try (TestGuest g = TestGuest.create(Guests.c(irqGuest(false)), true, o);
                EventFd irq = EventFd.create(0)) {
            g.vm().registerIrqfd(irq, 5, null);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(100);
                    irq.signal(1);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertEquals(1, g.runToDone(0, T));
            g.vm().unregisterIrqfd(irq, 5);
        }
    }

    @Test
    void irqfdResampleSignalsWhenTheGuestAcknowledgesALevelInterrupt() throws Exception {
        Options o = Options.defaults().withIrqchip();
        try (TestGuest g = TestGuest.create(Guests.c(irqGuest(true)), true, o);
                EventFd irq = EventFd.create(0);
                EventFd resample = EventFd.create(Libc.EFD_NONBLOCK)) {
            g.vm().registerIrqfd(irq, 5, resample);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            irq.signal(1);
            assertEquals(1, g.runToDone(0, T));
            assertTrue(resample.await(5_000) > 0, "EOI of the level interrupt signalled the resample eventfd");
        }
    }

    @Test
    void msiThroughGsiRoutingAndSignalMsi() throws Exception {
        Options o = Options.defaults().withIrqchip();
        long msiAddress = 0xfee0_0000L;   // local APIC 0, physical destination
        int fixedVector30 = 0x30;          // fixed delivery, edge, vector 0x30
        try (TestGuest g = TestGuest.create(Guests.c(irqGuest(false)), true, o);
                EventFd irq = EventFd.create(0)) {
            g.vm().setGsiRouting(java.util.List.of(
                    new GsiRoute.Irqchip(5, 2 /* KVM_IRQCHIP_IOAPIC */, 5),
                    new GsiRoute.Msi(10, msiAddress, fixedVector30, -1)));
            g.vm().registerIrqfd(irq, 10, null);
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            irq.signal(1);
            assertEquals(1, g.runToDone(0, T), "the MSI route delivered vector 0x30 once");
        }
        try (TestGuest g = TestGuest.create(Guests.c(irqGuest(false)), true, o)) {
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            assertTrue(g.vm().signalMsi(Msi.of(msiAddress, fixedVector30)) > 0, "KVM_SIGNAL_MSI reports delivery");
            assertEquals(1, g.runToDone(0, T));
        }
    }

    @Test
    void irqLineDeliversThroughTheIoapic() throws Exception {
        Options o = Options.defaults().withIrqchip();
        try (TestGuest g = TestGuest.create(Guests.c(irqGuest(false)), true, o)) {
            assertEquals(StopKind.SYNC, g.next(0, T).kind());
            g.vm().setIrqLine(5, true);
            g.vm().setIrqLine(5, false);
            assertEquals(1, g.runToDone(0, T));
        }
    }
}
