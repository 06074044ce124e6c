package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.vmm.BusData;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * The steady command path (MAPTI + INT + DISCARD through the command queue, driven by CWRITER writes on
 * the bus) and the MSI path allocate nothing once the model's pools and maps have grown.
 */
class ItsAllocationTest {

    private static final int EVENTS = 64;
    private static final int ROUNDS = 200;

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
    void theMeasurementSeesAllocations() throws Exception {
        assertEquals(true, Allocations.supported());
        long bytes = Allocations.fewest(() -> sink = new long[128]);
        assertEquals(true, bytes >= 128 * 8, "measured " + bytes);
    }

    @Test
    void steadyMaptiIntDiscardAllocatesNothing() throws Exception {
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < ROUNDS; i++) {
                mapIntDiscard();
            }
        });
        assertEquals(0, rig.its.lastCommandResult(), "the last DISCARD succeeded");
        assertEquals(0, rig.its.translations().size());
        assertEquals(0, bytes, "bytes allocated by " + ROUNDS * commands.length + " commands");
    }

    @Test
    void steadyMsiInjectionAllocatesNothing() throws Exception {
        int validDevid = kvm_h.KVM_MSI_VALID_DEVID();
        for (int ev = 0; ev < EVENTS; ev++) {
            rig.map(1, ev, LPI + ev, ev & 1);
        }
        Vgic vgic = rig.vgic;
        long bytes = Allocations.fewest(() -> {
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
