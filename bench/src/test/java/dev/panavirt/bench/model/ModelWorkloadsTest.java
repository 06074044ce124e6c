package dev.panavirt.bench.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.gicv3.ItsRegisters;
import org.junit.jupiter.api.Test;

/** The model benchmarks measure work that succeeds: commands execute, lines really move. */
class ModelWorkloadsTest {
    @Test
    void itsWorkloadExecutesEveryCommand() throws Exception {
        ItsThroughput b = new ItsThroughput();
        b.setup();
        long before = b.its().commandsExecuted();
        for (int i = 0; i < 5000; i++) {   // wraps the 2048-command queue several times
            b.mapIntDiscard();
        }
        assertEquals(before + 15_000, b.its().commandsExecuted());
        assertEquals(0, b.its().lastCommandResult(), "the last DISCARD succeeded");
        assertEquals(b.its().mmioRead(ItsRegisters.GITS_CWRITER, 8), b.its().mmioRead(ItsRegisters.GITS_CREADR, 8));
        assertTrue(b.its().translations().isEmpty(), "every MAPTI was undone by its DISCARD");
    }

    @Test
    void eiointcWorkloadMovesTheLine() throws Exception {
        EiointcThroughput b = new EiointcThroughput();
        b.setup();
        for (int i = 0; i < 300; i++) {
            int target = b.routeUpdate();
            assertEquals(1 << 0, b.eiointc().pins(target) & 1, "vector 7 (IP0) now asserted on vCPU " + target);
        }
        b.raiseAndLower();
        assertArrayEquals(new int[] {0}, new int[] {b.eiointc().pins(1) & ~1});
    }
}
