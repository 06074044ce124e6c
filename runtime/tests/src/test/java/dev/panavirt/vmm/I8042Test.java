package dev.panavirt.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.vmm.legacy.I8042;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The keyboard controller stub: reset through command 0xfe, self-test, command byte, status. */
class I8042Test {
    private final AtomicInteger resets = new AtomicInteger();
    private final Bus pio = new Bus("pio", 0, (byte) 0xff);
    private final ExitDispatcher cpu = new ExitDispatcher(pio, new Bus("mmio", 0));

    I8042Test() {
        new I8042(resets::incrementAndGet).attach(pio);
    }

    private void out(int port, int value) {
        MemorySegment data = MemorySegment.ofArray(new byte[] {(byte) value});
        assertEquals(Emulation.HANDLED, cpu.pio(port, 1, false, data, 1));
    }

    private int in(int port) {
        MemorySegment data = MemorySegment.ofArray(new byte[1]);
        assertEquals(Emulation.HANDLED, cpu.pio(port, 1, true, data, 1));
        return (int) (BusData.get(data) & 0xff);
    }

    @Test
    void commandFePulsesReset() {
        assertEquals(0, in(I8042.COMMAND_PORT), "input buffer empty, nothing to read: a reboot loop never waits");
        out(I8042.COMMAND_PORT, 0xfe);
        assertEquals(1, resets.get());
        out(I8042.DATA_PORT, 0xfe);
        assertEquals(1, resets.get(), "0xfe on the data port is a keyboard byte, not a reset");
    }

    @Test
    void selfTestAndCommandByte() {
        out(I8042.COMMAND_PORT, I8042.CMD_SELF_TEST);
        assertEquals(I8042.STATUS_OBF | I8042.STATUS_SYS, in(I8042.COMMAND_PORT));
        assertEquals(I8042.SELF_TEST_OK, in(I8042.DATA_PORT));
        assertEquals(I8042.STATUS_SYS, in(I8042.COMMAND_PORT));
        out(I8042.COMMAND_PORT, I8042.CMD_WRITE_CONFIG);
        out(I8042.DATA_PORT, 0x45);
        out(I8042.COMMAND_PORT, I8042.CMD_READ_CONFIG);
        assertEquals(0x45, in(I8042.DATA_PORT));
        assertEquals(0, resets.get());
    }
}
