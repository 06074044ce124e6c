package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Libc;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.testsupport.KvmTest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The ioctl wrappers a VMM calls in loops allocate nothing once warm. */
@KvmTest
class IoctlAllocationTest {

    /** Fewest bytes allocated over {@code n} calls of {@code op} in one round, rounds repeating up to 30 s. */
    static long allocated(int n, Allocations.Body op) throws Exception {
        return Allocations.untilZero(Duration.ofSeconds(30), () -> {
            for (int i = 0; i < n; i++) {
                op.run();
            }
        });
    }

    @Test
    void checkExtensionRegsDirtyLogAndEventfdWritesAllocateNothing() throws Exception {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); Arena arena = Arena.ofConfined();
                EventFd event = EventFd.create(Libc.EFD_NONBLOCK); EventFd irq = EventFd.create(Libc.EFD_NONBLOCK)) {
            vm.createIrqchip();
            vm.addMemory(0, 0, 64L << 20, (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES());
            Vcpu cpu = vm.createVcpu(0);
            vm.registerIrqfd(irq, 5, null);
            MemorySegment bitmap = arena.allocate(vm.dirtyBitmapBytes(0), 8);
            assertEquals(0, allocated(20_000, () -> kvm.checkExtension(Cap.IRQCHIP)), "Kvm.checkExtension");
            assertEquals(0, allocated(20_000, () -> vm.checkExtension(Cap.IRQFD)), "Vm.checkExtension");
            assertEquals(0, allocated(2_000, () -> X86Vcpu.of(cpu).setRegs(X86Vcpu.of(cpu).getRegs())), "get/set regs");
            assertEquals(0, allocated(1_000, () -> vm.getDirtyLog(0, bitmap)), "getDirtyLog into a segment");
            assertEquals(0, allocated(20_000, () -> event.signal(1)), "EventFd.signal");
            assertEquals(0, allocated(20_000, () -> irq.signal(1)), "irqfd signal");
            assertEquals(0, allocated(20_000, () -> vm.setIrqLine(7, true)), "KVM_IRQ_LINE (a device model's line)");
        }
    }
}
