package dev.panavirt.vmm;

import static dev.panavirt.vmm.legacy.Serial16550.COM1_BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.vmm.legacy.Serial16550;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Drives the UART through the port bus with the register sequences a guest driver uses. */
class Serial16550Test {

    /** Collects output and counts flushes. */
    private static final class Sink extends ByteArrayOutputStream {
        int flushes;
        String flushedText = "";

        @Override
        public synchronized void flush() {
            flushes++;
            flushedText = toString(StandardCharsets.US_ASCII);
        }

        String text() {
            return toString(StandardCharsets.US_ASCII);
        }
    }

    private final Sink sink = new Sink();
    private final AtomicInteger irqs = new AtomicInteger();
    private final Serial16550 uart = new Serial16550(sink, irqs::incrementAndGet);
    private final Bus pio = new Bus("pio", 0);
    private final ExitDispatcher cpu = new ExitDispatcher(pio, new Bus("mmio", 0));
    private final MemorySegment io = MemorySegment.ofArray(new byte[8]);

    Serial16550Test() {
        pio.insert(uart, COM1_BASE, Serial16550.REGISTER_COUNT);
    }

    private void outb(int reg, int value) {
        io.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) value);
        assertEquals(Emulation.HANDLED, cpu.pio(COM1_BASE + reg, 1, false, io, 1));
    }

    private int inb(int reg) {
        assertEquals(Emulation.HANDLED, cpu.pio(COM1_BASE + reg, 1, true, io, 1));
        return (int) BusData.get(io.asSlice(0, 1));
    }

    /** What Linux's 8250 driver and most firmware do: 115200 8N1, FIFOs on, DTR/RTS/OUT2, RX interrupts. */
    private void programLikeADriver() {
        outb(Serial16550.IER, 0x00);
        outb(Serial16550.LCR, Serial16550.LCR_DLAB);
        outb(Serial16550.DLL, 0x01);
        outb(Serial16550.DLM, 0x00);
        outb(Serial16550.LCR, 0x03);
        outb(Serial16550.FCR, 0xC7); // enable, clear both FIFOs, 14-byte trigger
        outb(Serial16550.MCR, Serial16550.MCR_DTR | Serial16550.MCR_RTS | Serial16550.MCR_OUT2);
        outb(Serial16550.IER, Serial16550.IER_ERBFI);
    }

    @Test
    void driverProgrammingSequenceIsReadBack() {
        assertEquals(Serial16550.DEFAULT_DIVISOR, uart.divisor());
        programLikeADriver();
        assertEquals(1, uart.divisor());
        assertEquals(0x03, inb(Serial16550.LCR));
        assertEquals(0x0B, inb(Serial16550.MCR));
        assertEquals(Serial16550.IER_ERBFI, inb(Serial16550.IER));
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_NO_INTERRUPT, inb(Serial16550.IIR));
        // The divisor latch reads back through DLAB without disturbing IER.
        outb(Serial16550.LCR, Serial16550.LCR_DLAB | 0x03);
        assertEquals(0x01, inb(Serial16550.DLL));
        assertEquals(0x00, inb(Serial16550.DLM));
        outb(Serial16550.DLM, 0x04);
        outb(Serial16550.LCR, 0x03);
        assertEquals(0x0401, uart.divisor());
        assertEquals(Serial16550.IER_ERBFI, inb(Serial16550.IER));
        assertEquals(0, irqs.get());
    }

    @Test
    void idleLineStatusIsTransmitterEmpty() {
        assertEquals(0x60, inb(Serial16550.LSR));
        uart.queueInput(new byte[] {'x'});
        assertEquals(0x61, inb(Serial16550.LSR));
    }

    @Test
    void outputBytesArriveInOrderAndFlushAtNewline() {
        programLikeADriver();
        for (byte b : "hello\nwor".getBytes(StandardCharsets.US_ASCII)) {
            assertEquals(0x60, inb(Serial16550.LSR) & 0x60); // a polling driver checks THRE first
            outb(Serial16550.THR, b);
        }
        assertEquals("hello\nwor", sink.text());
        assertEquals("hello\n", sink.flushedText);
        assertEquals(1, sink.flushes);
        // A prompt without newline is pushed out when the driver rewrites IER at the end of a burst.
        outb(Serial16550.IER, Serial16550.IER_ERBFI);
        assertEquals("hello\nwor", sink.flushedText);
        uart.flush(); // nothing new: no extra flush
        assertEquals(2, sink.flushes);
    }

    @Test
    void divisorLatchAccessDoesNotTransmit() {
        outb(Serial16550.LCR, Serial16550.LCR_DLAB);
        outb(Serial16550.DLL, 'A');
        outb(Serial16550.LCR, 0x03);
        assertEquals("", sink.text());
        assertEquals('A', uart.divisor());
    }

    @Test
    void scratchRegisterHoldsAnyByte() {
        for (int v : new int[] {0x00, 0x55, 0xAA, 0xFF}) {
            outb(Serial16550.SCR, v);
            assertEquals(v, inb(Serial16550.SCR));
        }
    }

    @Test
    void inputSetsDataReadyRaisesRxInterruptAndDrainsInOrder() {
        programLikeADriver();
        assertEquals(3, uart.queueInput("ok\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(1, irqs.get());
        assertTrue(uart.interruptPending());
        assertEquals(Serial16550.LSR_DR, inb(Serial16550.LSR) & Serial16550.LSR_DR);
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_RX_DATA, inb(Serial16550.IIR));
        StringBuilder got = new StringBuilder();
        while ((inb(Serial16550.LSR) & Serial16550.LSR_DR) != 0) {
            got.append((char) inb(Serial16550.RBR));
        }
        assertEquals("ok\n", got.toString());
        assertEquals(0x60, inb(Serial16550.LSR));
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_NO_INTERRUPT, inb(Serial16550.IIR));
        assertFalse(uart.interruptPending());
        assertEquals(0, uart.pendingInput());
    }

    @Test
    void inputWithoutErbfiIsPolledNotInterrupted() {
        assertEquals(2, uart.queueInput(new byte[] {'a', 'b'}));
        assertEquals(0, irqs.get());
        assertEquals(Serial16550.IIR_NO_INTERRUPT, inb(Serial16550.IIR));
        // Enabling receive interrupts with data already waiting interrupts at once.
        outb(Serial16550.IER, Serial16550.IER_ERBFI);
        assertEquals(1, irqs.get());
        assertEquals(Serial16550.IIR_RX_DATA, inb(Serial16550.IIR));
    }

    @Test
    void thrEmptyInterruptIsLatchedAndAcknowledgedByIirRead() {
        outb(Serial16550.FCR, Serial16550.FCR_FIFO_ENABLE);
        outb(Serial16550.IER, Serial16550.IER_ETBEI);
        assertEquals(1, irqs.get());
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_THR_EMPTY, inb(Serial16550.IIR));
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_NO_INTERRUPT, inb(Serial16550.IIR));
        // Each transmitted byte empties THR again and re-raises.
        outb(Serial16550.THR, 'x');
        assertEquals(2, irqs.get());
        assertTrue(uart.interruptPending());
        // Rewriting IER with ETBEI still set is not a new edge.
        outb(Serial16550.IER, Serial16550.IER_ETBEI);
        assertEquals(2, irqs.get());
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_THR_EMPTY, inb(Serial16550.IIR));
        // Disabling ETBEI hides it.
        outb(Serial16550.THR, 'y');
        outb(Serial16550.IER, 0);
        assertEquals(Serial16550.IIR_FIFO_ENABLED | Serial16550.IIR_NO_INTERRUPT, inb(Serial16550.IIR));
        assertEquals("xy", sink.text());
    }

    @Test
    void linuxTxenProbeSeesThrEmptyWhenEnablingEtbei() {
        // serial8250_do_startup: IER=THRI, read LSR and IIR, IER=0; no interrupt here means UART_BUG_TXEN.
        outb(Serial16550.IER, Serial16550.IER_ETBEI);
        int lsr = inb(Serial16550.LSR);
        int iir = inb(Serial16550.IIR);
        outb(Serial16550.IER, 0);
        assertEquals(Serial16550.LSR_TEMT, lsr & Serial16550.LSR_TEMT);
        assertEquals(0, iir & Serial16550.IIR_NO_INTERRUPT);
    }

    @Test
    void receivedDataTakesPriorityOverThrEmpty() {
        outb(Serial16550.IER, Serial16550.IER_ERBFI | Serial16550.IER_ETBEI);
        uart.queueInput(new byte[] {'z'});
        assertEquals(Serial16550.IIR_RX_DATA, inb(Serial16550.IIR));
        assertEquals('z', inb(Serial16550.RBR));
        assertEquals(Serial16550.IIR_THR_EMPTY, inb(Serial16550.IIR));
        assertEquals(Serial16550.IIR_NO_INTERRUPT, inb(Serial16550.IIR));
    }

    @Test
    void autoconfigProbesIdentifyA16550A() {
        // IER holds only its four defined bits.
        outb(Serial16550.IER, 0xFF);
        assertEquals(0x0F, inb(Serial16550.IER));
        outb(Serial16550.IER, 0);
        // FCR enable: IIR bits 7:6 = 3 means a 16550A with working FIFOs.
        outb(Serial16550.FCR, Serial16550.FCR_FIFO_ENABLE);
        assertEquals(3, inb(Serial16550.IIR) >> 6);
        outb(Serial16550.FCR, 0);
        assertEquals(0, inb(Serial16550.IIR) >> 6);
        // Outside loopback the line looks like a connected terminal.
        assertEquals(Serial16550.MSR_CTS | Serial16550.MSR_DSR | Serial16550.MSR_DCD, inb(Serial16550.MSR));
    }

    @Test
    void loopbackMirrorsModemLinesAndData() {
        // The 8250 loop test: MCR = LOOP | OUT2 | RTS must read back CTS | DCD in MSR.
        outb(Serial16550.MCR, Serial16550.MCR_LOOP | 0x0A);
        assertEquals(Serial16550.MSR_DCD | Serial16550.MSR_CTS, inb(Serial16550.MSR) & 0xF0);
        outb(Serial16550.MCR, Serial16550.MCR_LOOP | Serial16550.MCR_DTR | Serial16550.MCR_OUT1);
        assertEquals(Serial16550.MSR_DSR | Serial16550.MSR_RI, inb(Serial16550.MSR));
        outb(Serial16550.THR, 'L');
        assertEquals("", sink.text());
        assertEquals(0x61, inb(Serial16550.LSR));
        assertEquals('L', inb(Serial16550.RBR));
        outb(Serial16550.MCR, 0);
        outb(Serial16550.THR, 'M');
        assertEquals("M", sink.text());
    }

    @Test
    void fcrReceiveResetDropsQueuedInputOnlyWithFifoEnable() {
        uart.queueInput(new byte[] {1, 2, 3});
        outb(Serial16550.FCR, Serial16550.FCR_CLEAR_RX); // ignored without the enable bit
        assertEquals(3, uart.pendingInput());
        outb(Serial16550.FCR, Serial16550.FCR_FIFO_ENABLE | Serial16550.FCR_CLEAR_RX);
        assertEquals(0, uart.pendingInput());
        assertEquals(0x60, inb(Serial16550.LSR));
    }

    @Test
    void dlabHidesTheReceiveBuffer() {
        uart.queueInput(new byte[] {'q'});
        outb(Serial16550.LCR, Serial16550.LCR_DLAB);
        assertEquals(Serial16550.DEFAULT_DIVISOR, inb(Serial16550.DLL));
        assertEquals(1, uart.pendingInput());
        outb(Serial16550.LCR, 0x03);
        assertEquals('q', inb(Serial16550.RBR));
    }

    @Test
    void readOfEmptyReceiveBufferIsZero() {
        assertEquals(0, inb(Serial16550.RBR));
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        outb(Serial16550.LSR, 0x00);
        outb(Serial16550.MSR, 0x00);
        assertEquals(0x60, inb(Serial16550.LSR));
        assertEquals(0xB0, inb(Serial16550.MSR));
    }

    @Test
    void inputQueueIsBoundedAndWraps() {
        byte[] big = new byte[Serial16550.INPUT_CAPACITY + 10];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) i;
        }
        assertEquals(Serial16550.INPUT_CAPACITY, uart.queueInput(big));
        assertEquals(0, uart.queueInput(big, 0, 1));
        for (int i = 0; i < 5; i++) {
            assertEquals(i, inb(Serial16550.RBR));
        }
        // Room for five more, written across the end of the ring.
        assertEquals(5, uart.queueInput(big, Serial16550.INPUT_CAPACITY, 10));
        for (int i = 5; i < Serial16550.INPUT_CAPACITY + 5; i++) {
            assertEquals(i & 0xFF, inb(Serial16550.RBR));
        }
        assertEquals(0, uart.pendingInput());
    }

    @Test
    void wideAccessIsSplitIntoByteRegisters() {
        // inw from LSR reads LSR and MSR, as an ISA bus splits it for an 8-bit device.
        MemorySegment data = MemorySegment.ofArray(new byte[2]);
        assertEquals(Emulation.HANDLED, cpu.pio(COM1_BASE + Serial16550.LSR, 2, true, data, 1));
        assertEquals(0xB060, BusData.get(data));
        BusData.set(data, 0x2211);
        assertEquals(Emulation.HANDLED, cpu.pio(COM1_BASE + Serial16550.MCR, 2, false, data, 1));
        assertEquals(0x11, inb(Serial16550.MCR));
        // A 4-byte access from SCR would run past the device: unmapped.
        assertEquals(Emulation.UNMAPPED, cpu.pio(COM1_BASE + Serial16550.SCR, 4, true, io, 1));
    }

    @Test
    void stringOutputWritesEveryByte() {
        MemorySegment data = MemorySegment.ofArray("rep outsb\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(Emulation.HANDLED, cpu.pio(COM1_BASE, 1, false, data, (int) data.byteSize()));
        assertEquals("rep outsb\n", sink.flushedText);
    }

    @Test
    void outputFailuresAreCountedNotThrown() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("console closed");
            }
        };
        Serial16550 u = new Serial16550(broken);
        Bus bus = new Bus("pio", 0);
        bus.insert(u, COM1_BASE, Serial16550.REGISTER_COUNT);
        MemorySegment b = MemorySegment.ofArray(new byte[] {'!'});
        assertTrue(bus.write(COM1_BASE, b));
        assertTrue(bus.write(COM1_BASE, b));
        assertEquals(2, u.outputErrors());
        assertFalse(u.interruptPending());
    }
}
