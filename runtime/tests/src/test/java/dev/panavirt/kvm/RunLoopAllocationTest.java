package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.ExitDispatcher;
import dev.panavirt.vmm.VcpuRunner;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/** The run loop ({@link VcpuRunner}: KVM_RUN, typed exit, bus dispatch) allocates nothing per exit once warm. */
@KvmTest
class RunLoopAllocationTest {
    static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private static final int ROUND = 20_000;

    @Test
    void pioAndMmioExitsAllocateNothing() throws Exception {
        // mov dx, 0x400; mov rdi, 0xd0000000; loop: out dx, al; in al, dx; mov [rdi], eax; mov eax, [rdi]; jmp loop
        GuestImage image = GuestImage.ofBytes(TestGuest.IMAGE_BASE,
                0x66, 0xba, 0x00, 0x04,
                0x48, 0xbf, 0x00, 0x00, 0x00, 0xd0, 0, 0, 0, 0,
                0xee, 0xec, 0x89, 0x07, 0x8b, 0x07,
                0xeb, 0xf8);
        try (TestGuest g = TestGuest.longMode(image)) {
            Bus pio = new Bus("pio");
            Bus mmio = new Bus("mmio");
            VcpuRunner[] runner = new VcpuRunner[1];
            long[] accesses = new long[1];
            BusDevice sink = new BusDevice() {
                @Override
                public void read(long base, long offset, MemorySegment data) {
                    data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 7);
                    if (++accesses[0] == ROUND) {
                        runner[0].stop();
                    }
                }
            };
            pio.insert(sink, 0x400, 1);
            mmio.insert(sink, 0xd000_0000L, 4);
            ExitDispatcher dispatcher = new ExitDispatcher(pio, mmio);
            Vcpu cpu = g.vcpu(0);
            VcpuRunner.ExitHandler onlyKicks = exit -> {
                if (exit instanceof VcpuExit.Interrupted) {
                    return VcpuRunner.Step.CONTINUE;   // the previous round's stop() left immediate_exit set
                }
                throw new AssertionError("unexpected exit " + exit);
            };
            // Rounds repeat until one allocates nothing or 30 s pass (C2 compiles in the background).
            long best = Long.MAX_VALUE;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (best > 0 && System.nanoTime() < deadline) {
                runner[0] = new VcpuRunner(cpu, dispatcher, onlyKicks);
                accesses[0] = 0;
                long before = THREADS.getCurrentThreadAllocatedBytes();
                runner[0].run();
                best = Math.min(best, THREADS.getCurrentThreadAllocatedBytes() - before);
            }
            assertEquals(0, best, "bytes allocated over " + ROUND + " device reads (twice as many exits) in the best round");
            assertEquals(0, pio.unmappedReads() + mmio.unmappedReads() + pio.unmappedWrites() + mmio.unmappedWrites());
        }
    }
}
