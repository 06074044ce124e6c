package dev.panavirt.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.vmm.legacy.DebugExit;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class DebugExitTest {

    private final List<Integer> heard = new CopyOnWriteArrayList<>();
    private final DebugExit exit = new DebugExit(heard::add);
    private final Bus pio = new Bus("pio", 0);
    private final ExitDispatcher cpu = new ExitDispatcher(pio, new Bus("mmio", 0));

    DebugExitTest() {
        pio.insert(exit, 0xF4, 4);
    }

    private Emulation out(int port, int size, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        BusData.set(data, value);
        return cpu.pio(port, size, false, data, 1);
    }

    @Test
    void noStatusUntilTheGuestWrites() {
        assertEquals(OptionalInt.empty(), exit.status());
        assertFalse(exit.isStopping());
        assertTrue(heard.isEmpty());
    }

    @Test
    void byteWriteMapsToCodeShiftedWithLowBitSet() {
        assertEquals(Emulation.HANDLED, out(0xF4, 1, 0x10));
        assertEquals(OptionalInt.of(0x21), exit.status());
        assertTrue(exit.isStopping());
        assertEquals(List.of(0x21), heard);
    }

    @Test
    void zeroCodeGivesStatusOne() {
        out(0xF4, 1, 0);
        assertEquals(OptionalInt.of(1), exit.status());
    }

    @Test
    void wordAndDwordWritesUseTheWholeValue() {
        DebugExit word = new DebugExit();
        pio.insert(word, DebugExit.QEMU_DEFAULT_PORT, DebugExit.QEMU_DEFAULT_SIZE);
        out(DebugExit.QEMU_DEFAULT_PORT, 2, 0x1234);
        assertEquals(OptionalInt.of(0x2469), word.status());

        out(0xF4, 4, 0x1234_5678L);
        assertEquals(OptionalInt.of(0x2468_ACF1), exit.status());
    }

    @Test
    void statusIsComputedIn32BitsAndTheTopBitIsLost() {
        out(0xF4, 4, 0xFFFF_FFFFL);
        assertEquals(OptionalInt.of(-1), exit.status());
        assertEquals(0xFF, exit.status().getAsInt() & 0xFF); // what a process exit would report
    }

    @Test
    void offsetWithinTheRangeIsIgnored() {
        out(0xF6, 1, 3);
        assertEquals(OptionalInt.of(7), exit.status());
    }

    @Test
    void firstWriteWinsAndListenerRunsOnce() {
        out(0xF4, 1, 1);
        out(0xF4, 1, 2);
        assertEquals(OptionalInt.of(3), exit.status());
        assertEquals(List.of(3), heard);
    }

    @Test
    void eightByteWritesAreIgnored() {
        MemorySegment data = MemorySegment.ofArray(new byte[8]);
        BusData.set(data, 5);
        exit.write(0xF4, 0, data);
        assertFalse(exit.isStopping());
    }

    @Test
    void readsReturnZero() {
        MemorySegment data = MemorySegment.ofArray(new byte[] {9, 9, 9, 9});
        assertEquals(Emulation.HANDLED, cpu.pio(0xF4, 4, true, data, 1));
        assertEquals(0, BusData.get(data));
        assertFalse(exit.isStopping());
    }

    @Test
    void concurrentWritersAgreeOnOneStatus() throws Exception {
        Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++) {
            int code = t + 1;
            threads[t] = Thread.ofPlatform().start(() -> {
                MemorySegment data = MemorySegment.ofArray(new byte[] {(byte) code});
                exit.write(0xF4, 0, data);
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        int status = exit.status().orElseThrow();
        assertTrue(status == 3 || status == 5 || status == 7 || status == 9, "status " + status);
        assertEquals(List.of(status), heard);
    }
}
