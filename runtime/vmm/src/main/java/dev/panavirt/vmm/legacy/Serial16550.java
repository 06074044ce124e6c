package dev.panavirt.vmm.legacy;

import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A minimal 16550A UART, enough for a guest console driver (Linux {@code 8250}, firmware, test kernels) to detect
 * it, program it and use it with or without interrupts.
 *
 * <p>The device spans {@value #REGISTER_COUNT} byte-wide registers, normally on the port bus at
 * {@link #COM1_BASE} with IRQ {@link #COM1_IRQ}. Transmission is instant: a byte written to THR goes straight to the
 * {@link OutputStream}, so LSR always reports the transmitter empty. The stream is flushed at each newline and
 * whenever the guest writes IER (drivers do that when a burst ends), or on {@link #flush()}. Host input enters
 * through {@link #queueInput(byte[])} into a bounded receive queue that stands for the FIFO and the wire behind it.
 *
 * <h2>Interrupts</h2>
 * Interrupt sources follow the 16550A priorities, without line-status and modem-status interrupts (no errors or
 * modem-line changes are modelled): received data available while IER.ERBFI is set, then THR empty while IER.ETBEI
 * is set. The THR-empty condition is latched as on real hardware: it is set when ETBEI goes from 0 to 1 and after
 * every transmitted byte, and cleared by reading IIR while it is the reported source or by writing THR. The optional
 * trigger is run, outside the device's lock, each time a new interrupt condition arises: an edge, which is what a
 * KVM irqfd wired to the UART's GSI expects. {@link #interruptPending()} gives the level for other interrupt
 * models. MCR.OUT2, which gates the IRQ line on PC boards, is stored but not applied.
 *
 * <h2>Loopback</h2>
 * MCR.LOOP is honoured in its simple form: transmitted bytes go to the receive queue instead of the stream, and
 * MSR reflects MCR's DTR, RTS, OUT1 and OUT2 as DSR, CTS, RI and DCD. Outside loopback, MSR reports a connected
 * terminal (CTS, DSR and DCD set). MSR delta bits are always clear.
 *
 * <p>A wider access is split into byte accesses to consecutive registers, as an ISA bus does for an 8-bit device.
 * Register accesses are serialised on the device, so several vCPUs and an input thread may use it at once. Output
 * errors are counted and logged once, never thrown at the guest.
 */
public final class Serial16550 implements BusDevice, DeviceState {

    /** Conventional port base of the first serial port. */
    public static final int COM1_BASE = 0x3F8;
    /** Conventional ISA IRQ of the first serial port. */
    public static final int COM1_IRQ = 4;
    /** Number of byte registers; also the size of the port range the device should be inserted with. */
    public static final int REGISTER_COUNT = 8;
    /** How many received bytes can wait for the guest before {@link #queueInput} refuses more. */
    public static final int INPUT_CAPACITY = 64 * 1024;

    /** Receiver buffer (read, LCR.DLAB clear). */
    public static final int RBR = 0;
    /** Transmitter holding register (write, LCR.DLAB clear). */
    public static final int THR = 0;
    /** Divisor latch, low byte (LCR.DLAB set). */
    public static final int DLL = 0;
    /** Interrupt enable register (LCR.DLAB clear). */
    public static final int IER = 1;
    /** Divisor latch, high byte (LCR.DLAB set). */
    public static final int DLM = 1;
    /** Interrupt identification register (read). */
    public static final int IIR = 2;
    /** FIFO control register (write). */
    public static final int FCR = 2;
    /** Line control register. */
    public static final int LCR = 3;
    /** Modem control register. */
    public static final int MCR = 4;
    /** Line status register (read-only). */
    public static final int LSR = 5;
    /** Modem status register (read-only). */
    public static final int MSR = 6;
    /** Scratch register. */
    public static final int SCR = 7;

    /** IER: interrupt when received data is available. */
    public static final int IER_ERBFI = 0x01;
    /** IER: interrupt when the transmitter holding register is empty. */
    public static final int IER_ETBEI = 0x02;
    /** IER bits a 16550A implements; the rest read as zero. */
    public static final int IER_MASK = 0x0F;

    /** IIR: no interrupt pending. */
    public static final int IIR_NO_INTERRUPT = 0x01;
    /** IIR: transmitter holding register empty. */
    public static final int IIR_THR_EMPTY = 0x02;
    /** IIR: received data available. */
    public static final int IIR_RX_DATA = 0x04;
    /** IIR: FIFOs enabled (both bits, as a 16550A reports). */
    public static final int IIR_FIFO_ENABLED = 0xC0;

    /** FCR: enable the FIFOs. */
    public static final int FCR_FIFO_ENABLE = 0x01;
    /** FCR: clear the receive FIFO (only together with {@link #FCR_FIFO_ENABLE}). */
    public static final int FCR_CLEAR_RX = 0x02;

    /** LCR: divisor latch access bit. */
    public static final int LCR_DLAB = 0x80;

    /** MCR: data terminal ready. */
    public static final int MCR_DTR = 0x01;
    /** MCR: request to send. */
    public static final int MCR_RTS = 0x02;
    /** MCR: auxiliary output 1. */
    public static final int MCR_OUT1 = 0x04;
    /** MCR: auxiliary output 2. */
    public static final int MCR_OUT2 = 0x08;
    /** MCR: loopback mode. */
    public static final int MCR_LOOP = 0x10;
    /** MCR bits a 16550A implements. */
    public static final int MCR_MASK = 0x1F;

    /** LSR: received data ready. */
    public static final int LSR_DR = 0x01;
    /** LSR: transmitter holding register empty. */
    public static final int LSR_THRE = 0x20;
    /** LSR: transmitter empty. */
    public static final int LSR_TEMT = 0x40;

    /** MSR: clear to send. */
    public static final int MSR_CTS = 0x10;
    /** MSR: data set ready. */
    public static final int MSR_DSR = 0x20;
    /** MSR: ring indicator. */
    public static final int MSR_RI = 0x40;
    /** MSR: data carrier detect. */
    public static final int MSR_DCD = 0x80;

    /** Divisor after reset: 9600 baud from the 1.8432 MHz reference clock. */
    public static final int DEFAULT_DIVISOR = 12;

    private static final System.Logger LOG = System.getLogger(Serial16550.class.getName());

    private final OutputStream out;
    private final Runnable interruptTrigger;

    // Register state, guarded by this.
    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int dll = DEFAULT_DIVISOR & 0xFF;
    private int dlm = DEFAULT_DIVISOR >>> 8;
    private boolean fifoEnabled;
    private boolean thrEmptyPending;
    private boolean unflushed;
    private long outputErrors;

    // Receive ring, guarded by this.
    private final byte[] rx = new byte[INPUT_CAPACITY];
    private int rxHead;
    private int rxCount;

    /**
     * Creates a UART without an interrupt line, for guests that poll.
     *
     * @param out where transmitted bytes go
     */
    public Serial16550(OutputStream out) {
        this(out, null);
    }

    /**
     * Creates a UART.
     *
     * @param out where transmitted bytes go
     * @param interruptTrigger run each time a new interrupt condition arises (for example, writes the irqfd of
     *     {@link #COM1_IRQ}); null for none. Must not call back into this device.
     */
    public Serial16550(OutputStream out, Runnable interruptTrigger) {
        this.out = Objects.requireNonNull(out, "out");
        this.interruptTrigger = interruptTrigger;
    }

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        // Reads never raise an interrupt: they only consume data or acknowledge THR empty.
        for (int i = 0; i < data.byteSize(); i++) {
            long reg = offset + i;
            if (reg >= 0 && reg < REGISTER_COUNT) {
                data.set(ValueLayout.JAVA_BYTE, i, (byte) readRegister((int) reg));
            }
        }
    }

    @Override
    public void write(long base, long offset, MemorySegment data) {
        boolean raise = false;
        synchronized (this) {
            for (int i = 0; i < data.byteSize(); i++) {
                long reg = offset + i;
                if (reg >= 0 && reg < REGISTER_COUNT) {
                    raise |= writeRegister((int) reg, data.get(ValueLayout.JAVA_BYTE, i) & 0xFF);
                }
            }
        }
        fire(raise);
    }

    /**
     * Queues host input for the guest, as if it had arrived on the wire. Sets LSR.DR and, if the guest enabled
     * receive interrupts, raises one.
     *
     * @param bytes the input
     * @return how many bytes were queued; fewer than {@code bytes.length} when the queue is full, in which case
     *     the caller should offer the rest again after the guest has read some
     */
    public int queueInput(byte[] bytes) {
        return queueInput(bytes, 0, bytes.length);
    }

    /**
     * Queues part of an array as host input; see {@link #queueInput(byte[])}.
     *
     * @param bytes the array
     * @param off index of the first byte
     * @param len number of bytes
     * @return how many bytes were queued
     */
    public int queueInput(byte[] bytes, int off, int len) {
        Objects.checkFromIndexSize(off, len, bytes.length);
        int accepted;
        boolean raise;
        synchronized (this) {
            accepted = Math.min(len, rx.length - rxCount);
            for (int i = 0; i < accepted; i++) {
                rx[(rxHead + rxCount + i) % rx.length] = bytes[off + i];
            }
            rxCount += accepted;
            raise = accepted > 0 && (ier & IER_ERBFI) != 0;
        }
        fire(raise);
        return accepted;
    }

    /** {@return how many received bytes the guest has not read yet} */
    public synchronized int pendingInput() {
        return rxCount;
    }

    /** {@return the programmed baud-rate divisor (DLM:DLL)} */
    public synchronized int divisor() {
        return (dlm << 8) | dll;
    }

    /** {@return whether an enabled interrupt condition is pending, for a level-triggered interrupt line} */
    public synchronized boolean interruptPending() {
        return interruptId() != IIR_NO_INTERRUPT;
    }

    /** {@return how many transmitted bytes or flushes failed on the output stream} */
    public synchronized long outputErrors() {
        return outputErrors;
    }

    /** Flushes transmitted bytes to the output stream now, for a host that wants to flush on a timer. */
    public synchronized void flush() {
        if (unflushed) {
            unflushed = false;
            try {
                out.flush();
            } catch (IOException e) {
                outputFailed(e);
            }
        }
    }

    private int readRegister(int reg) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch (reg) {
            case RBR -> dlab ? dll : receive();
            case IER -> dlab ? dlm : ier;
            case IIR -> identify();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> LSR_THRE | LSR_TEMT | (rxCount > 0 ? LSR_DR : 0);
            case MSR -> modemStatus();
            case SCR -> scr;
            default -> 0;
        };
    }

    /** Applies a register write; returns true if it raised a new interrupt condition. */
    private boolean writeRegister(int reg, int value) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (reg) {
            case THR -> {
                if (dlab) {
                    dll = value;
                    return false;
                }
                return transmit(value);
            }
            case IER -> {
                if (dlab) {
                    dlm = value;
                    return false;
                }
                return setIer(value & IER_MASK);
            }
            case FCR -> {
                fifoEnabled = (value & FCR_FIFO_ENABLE) != 0;
                if (fifoEnabled && (value & FCR_CLEAR_RX) != 0) {
                    rxHead = 0;
                    rxCount = 0;
                }
                // Transmit-FIFO reset and trigger levels have no effect: transmission is instant.
                return false;
            }
            case LCR -> lcr = value;
            case MCR -> mcr = value & MCR_MASK;
            case SCR -> scr = value;
            default -> {
                // LSR and MSR are read-only; writes are ignored as on hardware.
            }
        }
        return false;
    }

    private int receive() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xFF;
        rxHead = (rxHead + 1) % rx.length;
        rxCount--;
        return b;
    }

    private boolean transmit(int value) {
        thrEmptyPending = false;
        boolean raise = false;
        if ((mcr & MCR_LOOP) != 0) {
            if (rxCount < rx.length) {
                rx[(rxHead + rxCount) % rx.length] = (byte) value;
                rxCount++;
                raise = (ier & IER_ERBFI) != 0;
            }
        } else {
            try {
                out.write(value);
                unflushed = true;
                if (value == '\n') {
                    unflushed = false;
                    out.flush();
                }
            } catch (IOException e) {
                outputFailed(e);
            }
        }
        // The byte left at once, so THR is empty again.
        if ((ier & IER_ETBEI) != 0) {
            thrEmptyPending = true;
            raise = true;
        }
        return raise;
    }

    private boolean setIer(int value) {
        int enabled = value & ~ier;
        ier = value;
        boolean raise = false;
        if ((enabled & IER_ETBEI) != 0) {
            // Enabling ETBEI while THR is empty (always, here) interrupts at once; Linux probes for exactly this.
            thrEmptyPending = true;
            raise = true;
        }
        if ((enabled & IER_ERBFI) != 0 && rxCount > 0) {
            raise = true;
        }
        // Drivers rewrite IER when a transmit burst ends: a good moment to push a prompt without a newline out.
        flush();
        return raise;
    }

    /** Reads IIR, which acknowledges a THR-empty interrupt when that is what it reports. */
    private int identify() {
        int id = interruptId();
        if (id == IIR_THR_EMPTY) {
            thrEmptyPending = false;
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int interruptId() {
        if ((ier & IER_ERBFI) != 0 && rxCount > 0) {
            return IIR_RX_DATA;
        }
        if ((ier & IER_ETBEI) != 0 && thrEmptyPending) {
            return IIR_THR_EMPTY;
        }
        return IIR_NO_INTERRUPT;
    }

    private int modemStatus() {
        if ((mcr & MCR_LOOP) == 0) {
            return MSR_CTS | MSR_DSR | MSR_DCD;
        }
        int msr = 0;
        if ((mcr & MCR_DTR) != 0) {
            msr |= MSR_DSR;
        }
        if ((mcr & MCR_RTS) != 0) {
            msr |= MSR_CTS;
        }
        if ((mcr & MCR_OUT1) != 0) {
            msr |= MSR_RI;
        }
        if ((mcr & MCR_OUT2) != 0) {
            msr |= MSR_DCD;
        }
        return msr;
    }

    private void outputFailed(IOException e) {
        if (outputErrors++ == 0) {
            LOG.log(System.Logger.Level.WARNING, "serial output failed; further failures are only counted", e);
        }
    }

    private void fire(boolean raise) {
        if (raise && interruptTrigger != null) {
            interruptTrigger.run();
        }
    }

    /**
     * Saves the registers, the divisor latch, the FIFO and THR-empty flags and the receive queue (the bytes the
     * guest has not read, in order). Transmitted bytes are not state: they already went to the output stream.
     */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeByte(ier);
        out.writeByte(lcr);
        out.writeByte(mcr);
        out.writeByte(scr);
        out.writeByte(dll);
        out.writeByte(dlm);
        out.writeBoolean(fifoEnabled);
        out.writeBoolean(thrEmptyPending);
        out.writeInt(rxCount);
        for (int i = 0; i < rxCount; i++) {
            out.writeByte(rx[(rxHead + i) % rx.length]);
        }
    }

    /** Restores what {@link #saveState} wrote; more queued input than {@link #INPUT_CAPACITY} is refused. */
    @Override
    public void loadState(DataInput in) throws IOException {
        int newIer = in.readUnsignedByte(), newLcr = in.readUnsignedByte(), newMcr = in.readUnsignedByte();
        int newScr = in.readUnsignedByte(), newDll = in.readUnsignedByte(), newDlm = in.readUnsignedByte();
        boolean fifo = in.readBoolean(), thr = in.readBoolean();
        int count = DeviceState.checked("UART receive queue", in.readInt(), 0, INPUT_CAPACITY);
        byte[] queued = new byte[count];
        in.readFully(queued);
        synchronized (this) {
            ier = newIer & 0x0f;
            lcr = newLcr;
            mcr = newMcr & MCR_MASK;
            scr = newScr;
            dll = newDll;
            dlm = newDlm;
            fifoEnabled = fifo;
            thrEmptyPending = thr;
            System.arraycopy(queued, 0, rx, 0, count);
            rxHead = 0;
            rxCount = count;
        }
    }
}
