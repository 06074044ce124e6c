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
     * Programs the IOAPIC and local APIC, installs an IDT gate for vector 0x30, and halts until the
     * interrupt arrives. With LEVEL set, the redirection entry is level-triggered.
     */
    static String irqGuest(boolean level) {
        return """
                #define LEVEL %d
                #define APIC 0xfee00000ull
                #define IOAPIC 0xfec00000ull
                struct gate { u16 lo; u16 sel; u8 ist; u8 type; u16 mid; u32 hi; u32 zero; } __attribute__((packed));
                static struct gate idt[256] __attribute__((aligned(16)));
                volatile u32 irq_count;
                void isr30(void);
                __asm__(".global isr30\\n"
                        "isr30:\\n"
                        "  push %%rax\\n"
                        "  lock incl irq_count(%%rip)\\n"
                        "  mov $0xfee000b0, %%eax\\n"
                        "  movl $0, (%%rax)\\n"
                        "  pop %%rax\\n"
                        "  iretq\\n");
                static void ioapic_write(u32 reg, u32 v) { mmio_write32(IOAPIC, reg); mmio_write32(IOAPIC + 0x10, v); }
                int main(void) {
                    u64 h = (u64)isr30;
                    idt[0x30].lo = h; idt[0x30].sel = 0x08; idt[0x30].type = 0x8e;
                    idt[0x30].mid = h >> 16; idt[0x30].hi = h >> 32;
                    struct { u16 limit; u64 base; } __attribute__((packed)) d = { sizeof idt - 1, (u64)idt };
                    __asm__ volatile("lidt %%0" : : "m"(d));
                    outb(0x21, 0xff); outb(0xa1, 0xff);    /* mask the 8259s: KVM wires the BSP's LINT0 to them */
                    mmio_write32(APIC + 0xf0, 0x1ff);      /* enable, spurious vector 0xff */
                    mmio_write32(APIC + 0x80, 0);          /* TPR: accept all */
                    ioapic_write(0x10 + 2 * 5 + 1, 0);     /* pin 5 -> APIC 0 */
                    ioapic_write(0x10 + 2 * 5, 0x30 | (LEVEL ? 0x8000 : 0));
                    GUEST_SYNC(1);
                    while (irq_count == 0) __asm__ volatile("sti; hlt; cli");
                    return irq_count;
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
