package dev.panavirt.bench.ioctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.VcpuExit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Calls every path of every per-call benchmark a few times outside JMH, so a broken path (a wrong
 * request, buffer or guest) fails the build in seconds instead of a benchmark run. Needs /dev/kvm:
 * skipped without it, failed without it when the build requires KVM ({@code -Dpanavirt.require=kvm}).
 */
@Tag("kvm")
class PathsSmokeTest {

    @BeforeAll
    static void needsKvm() {
        boolean required = System.getProperty("panavirt.require", "").contains("kvm");
        if (required) {
            assertEquals(true, Kvm.available(), "/dev/kvm is required (panavirt.require=kvm) but not usable");
        }
        assumeTrue(Kvm.available(), "/dev/kvm is not available");
    }

    @Test
    void cHarnessLoads() {
        assertEquals(42, CHarness.hello());
    }

    @Test
    void checkExtensionAgreesOnEveryPath() throws Exception {
        CheckExtension b = new CheckExtension();
        b.setup();
        try {
            for (int i = 0; i < 3; i++) {
                int expected = b.panavirt();
                assertEquals(1, expected, "KVM_CAP_USER_MEMORY");
                assertEquals(expected, b.ffmErrno());
                assertEquals(expected, b.ffm());
                assertEquals(expected, b.jna());
                assertEquals(expected, b.jnr());
                assertEquals((long) expected * CheckExtension.N, b.c());
            }
        } finally {
            b.tearDown();
        }
    }

    @Test
    void registerPathsSucceed() throws Exception {
        GetRegs g = new GetRegs();
        g.init("all");
        try {
            assertEquals(0, dev.panavirt.bindings.kvm.x86_64.kvm_regs.rip(g.panavirt()), "real-mode entry 0x7c0:0");
            assertEquals(0, g.ffmErrno());
            assertEquals(0, g.ffm());
            assertEquals(0, g.jna());
            assertEquals(0, g.jnr());
            assertEquals(0, g.c());
        } finally {
            g.tearDown();
        }
        SetRegs s = new SetRegs();
        s.init("all");
        try {
            s.panavirt();
            assertEquals(0, s.ffmErrno());
            assertEquals(0, s.ffm());
            assertEquals(0, s.jna());
            assertEquals(0, s.jnr());
            assertEquals(0, s.c());
        } finally {
            s.tearDown();
        }
    }

    @Test
    void pioGuestExitsOnEveryRunOnEveryPath() throws Exception {
        RunPio b = new RunPio();
        b.init("all");
        try {
            for (int i = 0; i < 3; i++) {
                assertInstanceOf(VcpuExit.Io.class, b.panavirt());
                assertEquals(kvm_h.KVM_EXIT_IO(), b.ffmErrno());
                assertEquals(kvm_h.KVM_EXIT_IO(), b.ffm());
                assertEquals(kvm_h.KVM_EXIT_IO(), b.jna());
                assertEquals(kvm_h.KVM_EXIT_IO(), b.jnr());
                assertEquals(RunPio.N, b.c());
            }
        } finally {
            b.tearDown();
        }
    }

    @Test
    void mmioGuestExitsOnEveryRunOnEveryPath() throws Exception {
        RunMmio b = new RunMmio();
        b.init("all");
        try {
            for (int i = 0; i < 3; i++) {
                VcpuExit.Mmio m = assertInstanceOf(VcpuExit.Mmio.class, b.panavirt());
                assertEquals(0xf000, m.address());
                assertEquals(true, m.isWrite());
                assertEquals(kvm_h.KVM_EXIT_MMIO(), b.ffmErrno());
                assertEquals(kvm_h.KVM_EXIT_MMIO(), b.ffm());
                assertEquals(kvm_h.KVM_EXIT_MMIO(), b.jna());
                assertEquals(kvm_h.KVM_EXIT_MMIO(), b.jnr());
                assertEquals(RunMmio.N, b.c());
            }
        } finally {
            b.tearDown();
        }
    }

    @Test
    void dirtyLogOfTheGibibyteSlotIsCleanOnEveryPath() throws Exception {
        GetDirtyLog b = new GetDirtyLog();
        b.init("all");
        try {
            long[] bits = b.panavirt().toArray(java.lang.foreign.ValueLayout.JAVA_LONG);
            assertEquals(GetDirtyLog.SLOT_SIZE / 4096 / 64, bits.length);
            assertEquals(0, java.util.Arrays.stream(bits).filter(w -> w != 0).count());
            assertEquals(0, b.ffmErrno());
            assertEquals(0, b.ffm());
            assertEquals(0, b.jna());
            assertEquals(0, b.jnr());
            assertEquals(0, b.c());
        } finally {
            b.tearDown();
        }
    }

    @Test
    void eventfdAndIrqfdWritesTakeEightBytesOnEveryPath() throws Exception {
        IrqfdSignal i = new IrqfdSignal();
        i.init("all");
        try {
            i.panavirt();
            assertEquals(8, i.ffmErrno());
            assertEquals(8, i.ffm());
            assertEquals(8, i.jna());
            assertEquals(8, i.jnr());
            assertEquals(8L * IrqfdSignal.N, i.c());
        } finally {
            i.tearDown();
        }
        EventfdWrite e = new EventfdWrite();
        e.init("all");
        try {
            e.panavirt();
            assertEquals(8, e.ffmErrno());
            assertEquals(8, e.ffm());
            assertEquals(8, e.jna());
            assertEquals(8, e.jnr());
            assertEquals(8L * EventfdWrite.N, e.c());
        } finally {
            e.tearDown();
        }
    }
}
