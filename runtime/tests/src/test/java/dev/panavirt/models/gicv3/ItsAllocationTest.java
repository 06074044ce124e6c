package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.vmm.BusData;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * The steady command path (MAPTI + INT + DISCARD through the command queue, driven by CWRITER writes on
 * the bus) and the MSI path allocate nothing once the model's pools and maps have grown.
 */
class ItsAllocationTest {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final int EVENTS = 64;
    private static final int ROUNDS = 200;

    /** Fewest bytes any of several runs of {@code body} allocated on this thread, after warm-up runs. */
    private static long measure(Runnable body) {
        for (int i = 0; i < 5; i++) {
            body.run();
        }
        long tid = Thread.currentThread().threadId();
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 7; i++) {
            long before = THREADS.getThreadAllocatedBytes(tid);
            body.run();
            min = Math.min(min, THREADS.getThreadAllocatedBytes(tid) - before);
        }
        return min;
    }

    private final ItsRig rig = ItsRig.ready();
    private final long[][] commands = new long[EVENTS * 3][];
    private final MemorySegment window = MemorySegment.ofArray(new byte[8]);
    private final long queueSize = ItsRegisters.commandQueueSize(ItsRig.CBASER);
    private long cwriter;

    ItsAllocationTest() {
        rig.mapDevice(1, 8);
        for (int ev = 0; ev < EVENTS; ev++) {
            rig.prop(LPI + ev, 0xA1);
            commands[3 * ev] = ItsCommand.mapti(1, ev, LPI + ev, ev & 1);
            commands[3 * ev + 1] = ItsCommand.event(ItsCommand.INT, 1, ev);
            commands[3 * ev + 2] = ItsCommand.event(ItsCommand.DISCARD, 1, ev);
        }
        cwriter = rig.read64(ItsRegisters.GITS_CWRITER);
    }

    /** One round: every MAPTI/INT/DISCARD triple, each pushed with its own CWRITER write on the bus. */
    private void mapIntDiscard() {
        try {
            for (int c = 0; c < commands.length; c++) {
                long[] cmd = commands[c];
                long at = ItsRig.QUEUE + cwriter;
                rig.ram.writeLong(at, cmd[0]);
                rig.ram.writeLong(at + 8, cmd[1]);
                rig.ram.writeLong(at + 16, cmd[2]);
                rig.ram.writeLong(at + 24, cmd[3]);
                cwriter = (cwriter + 32) % queueSize;
                if (c % 3 == 1) {
                    rig.its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, cwriter);
                }
            }
            rig.its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, cwriter);
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
    }

    /** Keeps the sanity check's allocation from being optimised away. */
    static volatile Object sink;

    @Test
    void theMeasurementSeesAllocations() {
        assertEquals(true, THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled());
        long bytes = measure(() -> sink = new long[128]);
        assertEquals(true, bytes >= 128 * 8, "measured " + bytes);
    }

    @Test
    void steadyMaptiIntDiscardAllocatesNothing() {
        long bytes = measure(() -> {
            for (int i = 0; i < ROUNDS; i++) {
                mapIntDiscard();
            }
        });
        assertEquals(0, rig.its.lastCommandResult(), "the last DISCARD succeeded");
        assertEquals(0, rig.its.translations().size());
        assertEquals(0, bytes, "bytes allocated by " + ROUNDS * commands.length + " commands");
    }

    @Test
    void steadyMsiInjectionAllocatesNothing() throws ErrnoException {
        int validDevid = kvm_h.KVM_MSI_VALID_DEVID();
        for (int ev = 0; ev < EVENTS; ev++) {
            rig.map(1, ev, LPI + ev, ev & 1);
        }
        Vgic vgic = rig.vgic;
        long bytes = measure(() -> {
            try {
                for (int i = 0; i < ROUNDS; i++) {
                    for (int ev = 0; ev < EVENTS; ev++) {
                        if (vgic.signalMsi(ItsRig.ITS_BASE + ItsRegisters.GITS_TRANSLATER, ev, validDevid, 1) != 1) {
                            throw new AssertionError("MSI not delivered");
                        }
                    }
                    // Flush the cache so the next round takes the full translation path again.
                    rig.its.mmioWrite(ItsRegisters.GITS_CTLR, 4, 0);
                    rig.its.mmioWrite(ItsRegisters.GITS_CTLR, 4, 1);
                }
            } catch (ErrnoException e) {
                throw new AssertionError(e);
            }
        });
        assertEquals(0, bytes, "bytes allocated by " + ROUNDS * EVENTS + " MSIs");
    }
}
