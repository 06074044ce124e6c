package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.ExitDispatcher;
import dev.panavirt.vmm.VcpuRunner;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The run loop ({@link VcpuRunner}: KVM_RUN, typed exit, bus dispatch) allocates nothing per exit once warm. A
 * round of exits ends with {@link VcpuRunner#stop()}, whose fixed cost the comparison of two round lengths
 * cancels out.
 */
@KvmTest
class RunLoopAllocationTest {

    /** Device reads in the shorter round; each read is one of the two I/O exits per guest loop. */
    private static final int ROUND = 2_000;
    private static final int MAX_ROUNDS = 4_000;

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
            long[] limit = new long[1];
            BusDevice sink = new BusDevice() {
                @Override
                public void read(long base, long offset, MemorySegment data) {
                    data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 7);
                    if (++accesses[0] == limit[0]) {
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
            // A stopped runner stays stopped: each round takes a fresh one, built before the measurement.
            VcpuRunner[] fresh = new VcpuRunner[MAX_ROUNDS];
            for (int i = 0; i < fresh.length; i++) {
                fresh[i] = new VcpuRunner(cpu, dispatcher, onlyKicks);
            }
            int[] round = new int[1];
            Allocations.Body oneRound = () -> {
                if (round[0] == MAX_ROUNDS) {
                    throw new AssertionError("more than " + MAX_ROUNDS + " rounds");
                }
                accesses[0] = 0;
                runner[0] = fresh[round[0]++];
                runner[0].run();
            };
            // What a round costs apart from its exits (starting a run, stop() and its kick) is the same for
            // short and long rounds; what the exits cost grows with them. Rounds repeat (C2 compiles in the
            // background) until one allocates nothing or 12 s pass, and the fewest bytes count.
            limit[0] = ROUND;
            long shortRound = Allocations.untilZero(Duration.ofSeconds(12), oneRound);
            limit[0] = 2L * ROUND;
            long longRound = Allocations.untilZero(Duration.ofSeconds(12), oneRound);
            assertEquals(shortRound, longRound, "bytes allocated by a round of " + ROUND + " device reads against one of "
                    + 2 * ROUND + ": the exits in between must allocate nothing");
            assertTrue(shortRound < 256, "bytes a whole run allocates besides its exits: " + shortRound);
            assertEquals(0, pio.unmappedReads() + mmio.unmappedReads() + pio.unmappedWrites() + mmio.unmappedWrites());
        }
    }
}
