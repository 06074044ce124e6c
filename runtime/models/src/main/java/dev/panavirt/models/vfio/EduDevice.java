package dev.panavirt.models.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.RegisterDevice;
import java.util.Objects;

/**
 * QEMU's educational PCI device ({@code hw/misc/edu.c}, vendor 0x1234, device 0x11e8) as a VFIO device model:
 * its BAR0 registers, a minimal PCI config space, DMA through a {@link Type1Iommu} group, and its interrupts
 * delivered the way vfio-pci delivers them (INTx automasked, MSI with one vector).
 *
 * <p>BAR0 (1 MiB, {@link RegisterDevice}): 0x00 ident {@code 0x010000ed}; 0x04 liveness (reads the
 * complement of what was written); 0x08 factorial (write n, read n! once done, 32-bit wrapping); 0x20 status
 * (bit 0 computing, bit 7 raise an interrupt when the factorial is done); 0x24 interrupt status; 0x60 raise;
 * 0x64 acknowledge; 0x80 DMA source, 0x88 destination, 0x90 count, 0x98 command (bit 0 start, bit 1
 * direction: 1 = buffer to RAM, bit 2 interrupt when done). The DMA buffer is 4 KiB at device address
 * 0x40000; RAM-side addresses are IOVAs, clamped to the 28-bit DMA mask. Registers below 0x80 take 4-byte
 * accesses only, the DMA registers 4 or 8; other accesses read all ones and write nothing, as in QEMU.
 * Writes of the DMA registers are ignored while a transfer runs.
 *
 * <p><b>Timing.</b> QEMU computes on a thread and runs DMA from a 100 ms timer; the model is deterministic
 * instead, by {@link Timing}: {@code IMMEDIATE} finishes inside the write; {@code POLLED} (the default) keeps
 * the operation busy until the driver has seen it busy once: the first read of 0x20 (factorial) or 0x98 (DMA)
 * after the start returns busy and completes the operation, so a polling driver sees exactly one busy read;
 * an operation that asks for an interrupt when done (status bit 7, DMA command bit 2) finishes inside the
 * write instead, as QEMU's {@code edu_fact_thread} and {@code edu_dma_timer} finish it without being polled
 * (an interrupt-driven driver reads nothing until the interrupt came); {@code STEPPED} finishes only on
 * {@link #step()}.
 *
 * <p><b>Faults.</b> Where QEMU aborts (older versions, {@code hw_error}) or copies past its buffer (newer ones,
 * which only log) for a transfer not inside the 4 KiB buffer, the model drops the command: nothing is copied,
 * the start bit clears, no interrupt is raised, and {@link #dmaRangeErrors()} counts it. A transfer the IOMMU
 * refuses (unmapped IOVA, permissions, unbacked memory) ends as QEMU's {@code pci_dma_*} error does: the bytes
 * before the fault were moved, the command completes normally (interrupt included), and {@link #dmaFaults()}
 * counts it.
 *
 * <p><b>DMA paths.</b> An {@link IommuGroupKind#IOMMU} group (vfio-pci-like) goes through the hardware
 * translation ({@link Type1Iommu.Group#deviceDma}); the kernel cannot see those writes, so every mapped page is
 * reported dirty. An {@link IommuGroupKind#EMULATED} group (mdev-like, "precise") goes through
 * {@link Type1Iommu.Group#dmaRw}, which marks exactly the pages written.
 */
public final class EduDevice implements RegisterDevice {

    /** Register offsets in BAR0. */
    public static final int IDENT = 0x00, LIVENESS = 0x04, FACTORIAL = 0x08, STATUS = 0x20, IRQ_STATUS = 0x24,
            IRQ_RAISE = 0x60, IRQ_ACK = 0x64, DMA_SRC = 0x80, DMA_DST = 0x88, DMA_COUNT = 0x90, DMA_CMD = 0x98;
    /** The ident register's value: major 1, minor 0, 0xed. */
    public static final int IDENT_VALUE = 0x010000ed;
    /** Status bits. */
    public static final int STATUS_COMPUTING = 0x01, STATUS_IRQFACT = 0x80;
    /** DMA command bits. */
    public static final int DMA_RUN = 0x1, DMA_TO_RAM = 0x2, DMA_IRQ = 0x4;
    /** Interrupt status bits raised by the factorial and by DMA. */
    public static final int FACT_IRQ = 0x1, DMA_IRQ_BIT = 0x100;
    /** The DMA buffer's device address and size. */
    public static final long DMA_BUFFER = 0x40000, DMA_BUFFER_SIZE = 4096;
    /** The default DMA mask: 28 bits. */
    public static final long DMA_MASK = (1L << 28) - 1;
    /** BAR0's size. */
    public static final long BAR0_SIZE = 1 << 20;
    /** PCI ids. */
    public static final int VENDOR = 0x1234, DEVICE = 0x11e8, REVISION = 0x10;
    /** PCI config space size. */
    public static final int CONFIG_SIZE = 256;
    /** vfio-pci interrupt indexes. */
    public static final int INTX = 0, MSI = 1;

    /** When started operations complete. */
    public enum Timing {
        /** Inside the register write. */
        IMMEDIATE,
        /**
         * After the first read that shows them busy; inside the write when they raise an interrupt on
         * completion (the device completes on its own; no driver polls what it awaits an interrupt for).
         */
        POLLED,
        /** Only on {@link #step()}. */
        STEPPED
    }

    /** Where interrupts go (vfio-pci's eventfd triggers). */
    @FunctionalInterface
    public interface Interrupts {
        /** Interrupt {@code index} ({@link #INTX} or {@link #MSI}), vector {@code vector}, fired. */
        void trigger(int index, int vector);
    }

    private final Type1Iommu.Group group;
    private final Timing timing;
    private Interrupts interrupts = (i, v) -> { };
    private final byte[] buffer = new byte[(int) DMA_BUFFER_SIZE];
    private final byte[] config = new byte[CONFIG_SIZE];
    private long dmaMask = DMA_MASK;

    private int addr4;
    private int fact;
    private int status;
    private int irqStatus;
    private long dmaSrc, dmaDst, dmaCount, dmaCmd;
    private boolean factPending, dmaPending;
    private boolean intxEnabled, intxMasked, intxLevel, msiEnabled;
    private long dmaRangeErrors, dmaFaults;
    private int bar0;

    /**
     * An edu device doing DMA through {@code group}.
     *
     * @param group  an {@link IommuGroupKind#IOMMU} group (hardware path) or {@link IommuGroupKind#EMULATED}
     *               (precise path)
     * @param timing when operations complete
     * @throws IllegalArgumentException for an {@link IommuGroupKind#IOMMU_PINNING} group
     */
    public EduDevice(Type1Iommu.Group group, Timing timing) {
        this.group = Objects.requireNonNull(group);
        this.timing = Objects.requireNonNull(timing);
        if (group.kind() == IommuGroupKind.IOMMU_PINNING) {
            throw new IllegalArgumentException("edu uses an IOMMU group (hardware DMA) or an EMULATED one (precise)");
        }
        initConfig();
    }

    /** Sets where interrupts go. */
    public synchronized void interrupts(Interrupts sink) {
        this.interrupts = Objects.requireNonNull(sink);
    }

    /** The group DMA goes through. */
    public Type1Iommu.Group group() {
        return group;
    }

    /** Whether DMA is precise (through {@code vfio_dma_rw}) rather than through the hardware IOMMU. */
    public boolean precise() {
        return group.kind() == IommuGroupKind.EMULATED;
    }

    /** Transfers dropped because they were not inside the 4 KiB buffer. */
    public synchronized long dmaRangeErrors() {
        return dmaRangeErrors;
    }

    /** Transfers the IOMMU faulted. */
    public synchronized long dmaFaults() {
        return dmaFaults;
    }

    /** The interrupt status register. */
    public synchronized int irqStatus() {
        return irqStatus;
    }

    /** The INTx line's level (before vfio-pci's masking). */
    public synchronized boolean intxLevel() {
        return intxLevel;
    }

    /** Whether INTx is masked (after it fired, until {@link #unmaskIntx()}). */
    public synchronized boolean intxMasked() {
        return intxMasked;
    }

    /** A copy of the DMA buffer. */
    public synchronized byte[] buffer() {
        return buffer.clone();
    }

    /** Sets the DMA mask (QEMU's {@code dma_mask} property). */
    public synchronized void dmaMask(long mask) {
        this.dmaMask = mask;
    }

    // ------------------------------------------------------------------------------------- interrupts

    /**
     * vfio-pci's INTx trigger on or off ({@code VFIO_DEVICE_SET_IRQS} on index 0); turning it on unmasks, and
     * fires at once if the line is high.
     */
    public synchronized void enableIntx(boolean on) {
        intxEnabled = on;
        intxMasked = false;
        if (on) {
            deliverIntx();
        }
    }

    /** vfio-pci's MSI on or off: while on, raising an interrupt sends an MSI instead of driving INTx. */
    public synchronized void enableMsi(boolean on) {
        msiEnabled = on;
        config[0x42] = (byte) (on ? (config[0x42] | 1) : (config[0x42] & ~1));
        if (on) {
            intxLevel = false;
        }
    }

    /** {@code VFIO_IRQ_SET_ACTION_UNMASK} on INTx: fires again if the line is still high. */
    public synchronized void unmaskIntx() {
        intxMasked = false;
        deliverIntx();
    }

    private void deliverIntx() {
        if (intxEnabled && intxLevel && !intxMasked) {
            intxMasked = true;                        // automasked, as vfio_intx_handler does
            interrupts.trigger(INTX, 0);
        }
    }

    private void raise(int bits) {
        irqStatus |= bits;
        if (irqStatus != 0) {
            if (msiEnabled) {
                interrupts.trigger(MSI, 0);
            } else {
                intxLevel = true;
                deliverIntx();
            }
        }
    }

    private void lower(int bits) {
        irqStatus &= ~bits;
        if (irqStatus == 0 && !msiEnabled) {
            intxLevel = false;
        }
    }

    // ------------------------------------------------------------------------------------- BAR0

    @Override
    public synchronized long mmioRead(long offset, int width) {
        long ones = width >= 8 ? -1L : (1L << (8 * width)) - 1;
        if (offset < DMA_SRC ? width != 4 : (width != 4 && width != 8)) {
            return ones;
        }
        long v;
        if (offset == IDENT) {
            v = IDENT_VALUE;
        } else if (offset == LIVENESS) {
            v = addr4;
        } else if (offset == FACTORIAL) {
            v = fact;
        } else if (offset == STATUS) {
            v = status;
            if (factPending && timing == Timing.POLLED) {
                finishFactorial();
            }
        } else if (offset == IRQ_STATUS) {
            v = irqStatus;
        } else if (offset == DMA_SRC) {
            v = dmaSrc;
        } else if (offset == DMA_DST) {
            v = dmaDst;
        } else if (offset == DMA_COUNT) {
            v = dmaCount;
        } else if (offset == DMA_CMD) {
            v = dmaCmd;
            if (dmaPending && timing == Timing.POLLED) {
                finishDma();
            }
        } else {
            return ones;
        }
        return width == 4 ? v & 0xffff_ffffL : v;
    }

    @Override
    public synchronized void mmioWrite(long offset, int width, long value) {
        if (offset < DMA_SRC ? width != 4 : (width != 4 && width != 8)) {
            return;
        }
        if (width == 4) {
            value &= 0xffff_ffffL;
        }
        if (offset == LIVENESS) {
            addr4 = ~(int) value;
        } else if (offset == FACTORIAL) {
            if ((status & STATUS_COMPUTING) == 0) {
                fact = (int) value;
                status |= STATUS_COMPUTING;
                factPending = true;
                if (timing == Timing.IMMEDIATE || timing == Timing.POLLED && (status & STATUS_IRQFACT) != 0) {
                    finishFactorial();
                }
            }
        } else if (offset == STATUS) {
            status = (value & STATUS_IRQFACT) != 0 ? status | STATUS_IRQFACT : status & ~STATUS_IRQFACT;
        } else if (offset == IRQ_RAISE) {
            raise((int) value);
        } else if (offset == IRQ_ACK) {
            lower((int) value);
        } else if ((dmaCmd & DMA_RUN) != 0) {
            return;                                     // DMA registers are frozen while a transfer runs
        } else if (offset == DMA_SRC) {
            dmaSrc = value;
        } else if (offset == DMA_DST) {
            dmaDst = value;
        } else if (offset == DMA_COUNT) {
            dmaCount = value;
        } else if (offset == DMA_CMD && (value & DMA_RUN) != 0) {
            dmaCmd = value;
            dmaPending = true;
            if (timing == Timing.IMMEDIATE || timing == Timing.POLLED && (value & DMA_IRQ) != 0) {
                finishDma();
            }
        }
    }

    /** Completes every started operation (the only way under {@link Timing#STEPPED}). */
    public synchronized void step() {
        if (factPending) {
            finishFactorial();
        }
        if (dmaPending) {
            finishDma();
        }
    }

    private void finishFactorial() {
        factPending = false;
        int n = fact;
        int r = 1;
        if (Integer.compareUnsigned(n, 34) >= 0) {
            r = 0;                      // 34! and above hold 2^32: the 32-bit product is 0, no 4-billion-step loop
        } else {
            while (n > 0) {
                r *= n--;
            }
        }
        fact = r;
        status &= ~STATUS_COMPUTING;
        if ((status & STATUS_IRQFACT) != 0) {
            raise(FACT_IRQ);
        }
    }

    private void finishDma() {
        dmaPending = false;
        boolean toRam = (dmaCmd & DMA_TO_RAM) != 0;
        long devAddr = toRam ? dmaSrc : dmaDst;
        long ram = (toRam ? dmaDst : dmaSrc) & dmaMask;
        long n = dmaCount;
        long end = devAddr + n;
        boolean inside = Long.compareUnsigned(end, devAddr) >= 0 && Long.compareUnsigned(devAddr, DMA_BUFFER) >= 0
                && Long.compareUnsigned(end, DMA_BUFFER + DMA_BUFFER_SIZE) <= 0;
        if (!inside) {
            dmaRangeErrors++;
            dmaCmd &= ~DMA_RUN;
            return;
        }
        int off = (int) (devAddr - DMA_BUFFER);
        if (n > 0) {
            try {
                if (group.kind() == IommuGroupKind.EMULATED) {
                    group.dmaRw(ram, buffer, off, (int) n, toRam);
                } else {
                    group.deviceDma(ram, buffer, off, (int) n, toRam);
                }
            } catch (ErrnoException e) {
                dmaFaults++;
            }
        }
        dmaCmd &= ~DMA_RUN;
        if ((dmaCmd & DMA_IRQ) != 0) {
            raise(DMA_IRQ_BIT);
        }
    }

    // ------------------------------------------------------------------------------------- config space

    private void initConfig() {
        put(config, 0x00, 2, VENDOR);
        put(config, 0x02, 2, DEVICE);
        put(config, 0x06, 2, 0x10);                // status: capabilities list
        config[0x08] = (byte) REVISION;
        config[0x0a] = (byte) 0xff;                // class PCI_CLASS_OTHERS (0x00ff)
        config[0x34] = 0x40;                       // capabilities pointer
        config[0x3d] = 1;                          // interrupt pin INTA
        config[0x40] = 0x05;                       // MSI capability, last in the list
        put(config, 0x42, 2, 0x80);                // 64-bit address, one vector
    }

    /**
     * A read of PCI config space: vendor 0x1234, device 0x11e8, revision 0x10, class 0x00ff, BAR0 a 32-bit
     * memory BAR of 1 MiB (write all ones to size it), interrupt pin A, an MSI capability at 0x40. Reads past
     * 256 bytes return zero.
     */
    public synchronized long configRead(int offset, int width) {
        if (offset == 0x10 && width == 4) {
            return Integer.toUnsignedLong(bar0);
        }
        long v = 0;
        for (int i = 0; i < width; i++) {
            int at = offset + i;
            v |= (at >= 0 && at < CONFIG_SIZE ? config[at] & 0xffL : 0) << (8 * i);
        }
        return v;
    }

    /** A write of PCI config space: the command register, BAR0, the interrupt line; everything else is ignored. */
    public synchronized void configWrite(int offset, int width, long value) {
        if (offset == 0x10 && width == 4) {
            bar0 = (int) (value & ~(BAR0_SIZE - 1)) & ~0xf;
        } else if (offset == 0x04 && (width == 2 || width == 4)) {
            put(config, 0x04, 2, (int) value & 0x0547);
        } else if (offset == 0x3c && width == 1) {
            config[0x3c] = (byte) value;
        }
    }

    /**
     * {@code VFIO_DEVICE_RESET}: registers, DMA state and buffer, interrupt state back to power-on; interrupt
     * routing (INTx/MSI enables) is kept, as vfio-pci keeps its eventfds.
     */
    public synchronized void reset() {
        addr4 = 0;
        fact = 0;
        status = 0;
        irqStatus = 0;
        dmaSrc = dmaDst = dmaCount = dmaCmd = 0;
        factPending = dmaPending = false;
        intxLevel = false;
        intxMasked = false;
        java.util.Arrays.fill(buffer, (byte) 0);
        put(config, 0x04, 2, 0);
        bar0 = 0;
    }

    // ------------------------------------------------------------------------------------- migration

    /** The first word of {@link #saveState}'s record: "EDU" and the record's version, 1. */
    public static final int STATE_MAGIC = 0x45445501;

    /**
     * Writes what the guest can observe and what the device has started: BAR0's registers, the DMA engine
     * (addresses, count, command, a transfer or factorial started and not yet finished), the interrupt status,
     * the INTx level and mask, MSI on or off, the DMA buffer, config space and BAR0's address. The DMA mask is a
     * property of the device as built and the interrupt routing (vfio-pci's eventfds) the destination's own, so
     * neither is written. Call it with the device quiesced (no vCPU and no driver thread touching it), as vfio's
     * migration protocol reads device state only in the STOP_COPY state ({@code include/uapi/linux/vfio.h},
     * {@code enum vfio_device_mig_state}).
     */
    public synchronized void saveState(java.io.DataOutput out) throws java.io.IOException {
        out.writeInt(STATE_MAGIC);
        out.writeInt(addr4);
        out.writeInt(fact);
        out.writeInt(status);
        out.writeInt(irqStatus);
        out.writeLong(dmaSrc);
        out.writeLong(dmaDst);
        out.writeLong(dmaCount);
        out.writeLong(dmaCmd);
        out.writeBoolean(factPending);
        out.writeBoolean(dmaPending);
        out.writeBoolean(intxLevel);
        out.writeBoolean(intxMasked);
        out.writeBoolean(msiEnabled);
        out.writeInt(bar0);
        out.write(buffer);
        out.write(config);
    }

    /**
     * Replaces the device's state with one {@link #saveState} wrote. The record is read and checked whole before
     * anything changes: a wrong magic or version, a pending operation whose busy bit is clear, or a short record is
     * an {@link java.io.IOException} and leaves the device as it was. An operation started on the source continues
     * here under this device's {@link Timing} (under {@code IMMEDIATE} it finishes now); an interrupt the source had
     * raised and not yet delivered (INTx high and unmasked) fires now if INTx is on, so it is not lost.
     */
    public void loadState(java.io.DataInput in) throws java.io.IOException {
        int magic = in.readInt();
        if (magic != STATE_MAGIC) {
            throw new java.io.IOException(String.format("edu state: magic/version 0x%08x, expected 0x%08x",
                    magic, STATE_MAGIC));
        }
        int nAddr4 = in.readInt(), nFact = in.readInt(), nStatus = in.readInt(), nIrq = in.readInt();
        long nSrc = in.readLong(), nDst = in.readLong(), nCount = in.readLong(), nCmd = in.readLong();
        boolean nFactPending = in.readBoolean(), nDmaPending = in.readBoolean();
        boolean nLevel = in.readBoolean(), nMasked = in.readBoolean(), nMsi = in.readBoolean();
        int nBar0 = in.readInt();
        byte[] nBuffer = new byte[buffer.length];
        in.readFully(nBuffer);
        byte[] nConfig = new byte[config.length];
        in.readFully(nConfig);
        if (nFactPending != ((nStatus & STATUS_COMPUTING) != 0)) {
            throw new java.io.IOException("edu state: factorial pending " + nFactPending + " but status 0x"
                    + Integer.toHexString(nStatus));
        }
        if (nDmaPending != ((nCmd & DMA_RUN) != 0)) {
            throw new java.io.IOException("edu state: DMA pending " + nDmaPending + " but command 0x"
                    + Long.toHexString(nCmd));
        }
        synchronized (this) {
            addr4 = nAddr4;
            fact = nFact;
            status = nStatus & (STATUS_COMPUTING | STATUS_IRQFACT);
            irqStatus = nIrq;
            dmaSrc = nSrc;
            dmaDst = nDst;
            dmaCount = nCount;
            dmaCmd = nCmd;
            factPending = nFactPending;
            dmaPending = nDmaPending;
            intxLevel = nLevel;
            intxMasked = nMasked;
            msiEnabled = nMsi;
            bar0 = nBar0 & (int) ~(BAR0_SIZE - 1) & ~0xf;
            System.arraycopy(nBuffer, 0, buffer, 0, buffer.length);
            System.arraycopy(nConfig, 0, config, 0, config.length);
            if (timing == Timing.IMMEDIATE) {
                step();
            }
            deliverIntx();
        }
    }

    private static void put(byte[] b, int at, int width, int v) {
        for (int i = 0; i < width; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
