package dev.panavirt.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.vmm.legacy.I8042;
import dev.panavirt.vmm.legacy.Serial16550;
import dev.panavirt.vmm.pci.PciTestdev;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The device models' saved state: what one saves, a fresh one loads to the same registers; bad input is refused. */
class DeviceStateTest {
    static byte[] save(DeviceState d) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        d.saveState(new DataOutputStream(b));
        return b.toByteArray();
    }

    static void load(DeviceState d, byte[] bytes) throws IOException {
        d.loadState(new DataInputStream(new ByteArrayInputStream(bytes)));
    }

    static int in(BusDevice d, long base, long offset) {
        MemorySegment s = MemorySegment.ofArray(new byte[1]);
        d.read(base, offset, s);
        return s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) & 0xff;
    }

    static void out(BusDevice d, long base, long offset, int v) {
        d.write(base, offset, MemorySegment.ofArray(new byte[] {(byte) v}));
    }

    @Test
    void theUartKeepsItsRegistersAndUnreadInput() throws IOException {
        Serial16550 a = new Serial16550(OutputStream.nullOutputStream());
        out(a, 0, 3, 0x80);          // DLAB
        out(a, 0, 0, 0x01);          // divisor 1: 115200 baud
        out(a, 0, 3, 0x03);          // 8N1
        out(a, 0, 1, 0x01);          // receive interrupts on
        out(a, 0, 7, 0x5a);          // scratch
        a.queueInput("hello".getBytes());
        assertEquals('h', in(a, 0, 0));
        Serial16550 b = new Serial16550(OutputStream.nullOutputStream());
        load(b, save(a));
        assertEquals(1, b.divisor());
        assertEquals(4, b.pendingInput());
        for (int reg : new int[] {1, 3, 4, 7}) {
            assertEquals(in(a, 0, reg), in(b, 0, reg), "register " + reg);
        }
        assertEquals('e', in(b, 0, 0));
    }

    @Test
    void aUartQueueLongerThanItsCapacityOrCutShortIsRefused() throws IOException {
        byte[] good = save(new Serial16550(OutputStream.nullOutputStream()));
        byte[] huge = good.clone();
        ByteBuffer.wrap(huge).putInt(8, Serial16550.INPUT_CAPACITY + 1);
        Serial16550 b = new Serial16550(OutputStream.nullOutputStream());
        assertThrows(IOException.class, () -> load(b, huge));
        assertEquals(0, b.pendingInput(), "a refused state leaves the device as it was");
        byte[] claims = good.clone();
        ByteBuffer.wrap(claims).putInt(8, 10);          // ten queued bytes that are not there
        assertThrows(EOFException.class, () -> load(b, claims));
    }

    @Test
    void theKeyboardControllerKeepsItsPendingByte() throws IOException {
        I8042 a = new I8042(() -> { });
        out(a, I8042.COMMAND_PORT, 0, I8042.CMD_READ_CONFIG);
        I8042 b = new I8042(() -> { });
        load(b, save(a));
        assertEquals(in(a, I8042.COMMAND_PORT, 0), in(b, I8042.COMMAND_PORT, 0));
        byte[] bad = save(a);
        bad[2] = 0x7f;                                  // output byte 0x7fxx: out of range
        assertThrows(IOException.class, () -> load(new I8042(() -> { }), bad));
    }

    @Test
    void aPciFunctionsBarsGoWhereTheSavedConfigurationPutThem() throws IOException {
        Bus pio = new Bus("pio"), mmio = new Bus("mmio");
        PciTestdev a = new PciTestdev();
        a.attach(new Bus("p0"), new Bus("m0"), 0xfe00_0000L, 0xc000);
        a.write(0x10, 4, 0xfd00_0000);                  // the guest moves BAR0
        PciTestdev b = new PciTestdev();
        b.attach(pio, mmio, 0xfe00_0000L, 0xc000);
        load(b, save(a));
        assertEquals(0xfd00_0000L, b.mappedAt(0));
        assertEquals(true, mmio.deviceAt(0xfd00_0000L).isPresent());
        assertEquals(false, mmio.deviceAt(0xfe00_0000L).isPresent());
        assertEquals(a.read(0, 4), b.read(0, 4), "vendor and device stay the function's");
    }
}
