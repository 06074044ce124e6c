package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.FlavourRules;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.testsupport.RecordingDevice.Access;
import dev.panavirt.testsupport.RecordingDevice;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Real guests on /dev/kvm exercising PIO, MMIO and HLT exits and guest-reported failures. */
@KvmTest
class GuestExitTest {
    static final Duration T = Duration.ofSeconds(20);

    @Test
    void pioOutAndInAtEveryWidth() throws Exception {
        GuestImage image = Guests.c("""
                int main(void) {
                    outb(0x400, 0xab);
                    outw(0x402, 0xbeef);
                    outl(0x404, 0xcafef00d);
                    GUEST_ASSERT_EQ(inb(0x400), 0x88);
                    GUEST_ASSERT_EQ(inw(0x402), 0x778a);
                    GUEST_ASSERT_EQ(inl(0x404), 0x5566778c);
                    return 7;
                }
                """);
        try (TestGuest g = TestGuest.longMode(image)) {
            RecordingDevice dev = new RecordingDevice();
            g.pio().insert(dev, 0x400, 8);
            assertEquals(7, g.runToDone(0, T));
            assertEquals(List.of(new Access(0, 1, 0xab, true), new Access(2, 2, 0xbeef, true),
                    new Access(4, 4, 0xcafef00dL, true), new Access(0, 1, 0x88, false),
                    new Access(2, 2, 0x778a, false), new Access(4, 4, 0x5566778cL, false)), dev.accesses());
        }
    }

    @Test
    void mmioWritesAndReadsAtEveryWidth() throws Exception {
        GuestImage image = Guests.c("""
                #define DEV 0xd0000000ull
                int main(void) {
                    mmio_write8(DEV + 1, 0x12);
                    mmio_write16(DEV + 2, 0x3456);
                    mmio_write32(DEV + 4, 0x789abcde);
                    mmio_write64(DEV + 8, 0x0123456789abcdefull);
                    GUEST_ASSERT_EQ(mmio_read8(DEV + 0x10), 0x98);
                    GUEST_ASSERT_EQ(mmio_read16(DEV + 0x12), 0x779a);
                    GUEST_ASSERT_EQ(mmio_read32(DEV + 0x14), 0x5566779c);
                    GUEST_ASSERT_EQ(mmio_read64(DEV + 0x18), 0x11223344556677a0ull);
                    return 0;
                }
                """);
        try (TestGuest g = TestGuest.longMode(image)) {
            RecordingDevice dev = new RecordingDevice();
            g.mmio().insert(dev, 0xd000_0000L, 0x1000);
            assertEquals(0, g.runToDone(0, T));
            assertEquals(List.of(new Access(1, 1, 0x12, true), new Access(2, 2, 0x3456, true),
                    new Access(4, 4, 0x789abcdeL, true), new Access(8, 8, 0x0123456789abcdefL, true),
                    new Access(0x10, 1, 0x98, false), new Access(0x12, 2, 0x779a, false),
                    new Access(0x14, 4, 0x5566779cL, false), new Access(0x18, 8, 0x11223344556677a0L, false)),
                    dev.accesses());
        }
    }

    @Test
    void unmappedAccessesNeverFailTheVmm() throws Exception {
        GuestImage image = Guests.c("""
                int main(void) {
                    outb(0x999, 1);
                    GUEST_ASSERT_EQ(inl(0x998), 0);
                    mmio_write32(0xe0000000ull, 5);
                    GUEST_ASSERT_EQ(mmio_read64(0xe0001000ull), 0);
                    return 1;
                }
                """);
        try (TestGuest g = TestGuest.longMode(image)) {
            assertEquals(1, g.runToDone(0, T));
            assertEquals(1, g.pio().unmappedReads());
            assertEquals(1, g.pio().unmappedWrites());
            assertEquals(1, g.mmio().unmappedReads());
            assertEquals(1, g.mmio().unmappedWrites());
        }
    }

    @Test
    void realModeGuestOutThenHlt() throws Exception {
        // mov al, 0x41; out 0x80, al; mov dx, 0x3f8; mov al, 0x42; out dx, al; hlt
        GuestImage image = GuestImage.ofBytes(0x7c00, 0xb0, 0x41, 0xe6, 0x80,
                0xba, 0xf8, 0x03, 0xb0, 0x42, 0xee, 0xf4);
        try (TestGuest g = TestGuest.realMode(image)) {
            RecordingDevice port80 = new RecordingDevice();
            RecordingDevice com1 = new RecordingDevice();
            g.pio().insert(port80, 0x80, 1);
            g.pio().insert(com1, 0x3f8, 8);
            assertEquals(StopKind.HALT, g.next(0, T).kind());
            assertEquals(List.of(new Access(0, 1, 0x41, true)), port80.accesses());
            assertEquals(List.of(new Access(0, 1, 0x42, true)), com1.accesses());
        }
    }

    @Test
    void guestAssertionBecomesATestFailureWithFileAndLine() throws Exception {
        GuestImage image = Guests.c("""
                int main(void) {
                    GUEST_PRINT("about to fail");
                    GUEST_ASSERT_EQ(2 + 2, 5);
                    return 0;
                }
                """);
        try (TestGuest g = TestGuest.longMode(image)) {
            AssertionError e = assertThrows(AssertionError.class, () -> g.runToDone(0, T));
            assertTrue(e.getMessage().contains("guest.c:4: 2 + 2 == 5, left 0x4 right 0x5"), e.getMessage());
            assertEquals(List.of("about to fail"), g.prints());
        }
    }

    @Test
    void tripleFaultIsAShutdownExit() throws Exception {
        // An empty IDT makes #UD undeliverable: #UD -> #GP -> #DF -> triple fault.
        GuestImage image = Guests.c("""
                int main(void) {
                    struct { u16 limit; u64 base; } __attribute__((packed)) idt = { 0, 0 };
                    __asm__ volatile("lidt %0; ud2" : : "m"(idt));
                    return 0;
                }
                """);
        try (TestGuest g = TestGuest.longMode(image)) {
            VcpuExit exit = g.vcpu(0).run();
            assertInstanceOf(VcpuExit.Shutdown.class, exit);
            assertEquals(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_EXIT_SHUTDOWN(), exit.reason());
            AssertionError e = assertThrows(AssertionError.class, () -> g.next(0, T));
            if (FlavourRules.shutdownResetsTheVcpu()) {
                // Back at the reset vector, whose CS base 0xffff0000 has no memory here: the fetch at
                // 0xfffffff0 cannot be emulated.
                assertTrue(e.getMessage().contains("suberror 1") && e.getMessage().contains("rip 0xfff0"), e.getMessage());
            } else {
                assertTrue(e.getMessage().contains("KVM_EXIT_SHUTDOWN"), e.getMessage());
            }
        }
    }
}
