package dev.panavirt.vfio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A userspace driver for QEMU's educational PCI device {@code edu} (vendor 0x1234, device 0x11e8; QEMU's
 * hw/misc/edu.c and docs/specs/edu.rst), written only against {@link VfioDevice} and {@link Iommu}, so the
 * same driver runs on the kernel's VFIO objects and on a software model.
 *
 * <p>What the device offers, in BAR0 (1 MiB, 32-bit accesses below 0x80, 32- or 64-bit from 0x80 on; this
 * driver uses 32-bit accesses throughout, which is enough as DMA addresses are kept below 2^28):
 * <ul>
 * <li>0x00 identification, 0x010000ed (version 1.0, 0xed); 0x04 liveness check, reads back the bitwise NOT of
 * what was written;</li>
 * <li>0x08 factorial: a write starts the computation (ignored while one runs), a read gives the result; status
 * 0x20 bit 0 is set while it computes, bit 7 asks for interrupt {@link #IRQ_FACTORIAL} when it ends;</li>
 * <li>0x24 interrupt status; 0x60 raises the bits written, 0x64 acknowledges (clears) them; while any bit is
 * set the device asserts INTx, or sends one MSI per raise when MSI is on;</li>
 * <li>a DMA engine: source 0x80, destination 0x88, count 0x90, command 0x98 (bit 0 start, bit 1 direction
 * device-to-RAM, bit 2 interrupt {@link #IRQ_DMA} when done). The device side of a transfer is its 4 KiB
 * buffer at 0x40000; the RAM side an I/O virtual address the device reaches through the IOMMU, which the
 * device masks to 28 bits. A transfer completes some 100 ms of virtual time after it starts; bit 0 of the
 * command register clears then. A transfer outside the 4 KiB buffer makes QEMU abort (older versions) or
 * log and clamp, so {@link #dmaToDevice} and {@link #dmaToRam} check every range before they program the
 * engine, and refuse RAM ranges this driver has not mapped with the needed access. QEMU up to 7.2 (Debian
 * bookworm's, the lane's) also aborts on a transfer that reaches the buffer's last byte, 0x40fff (its range
 * check wants the end strictly inside; seen in the lane as "hardware error: EDU: DMA range
 * 0x40000-0x40fff out of bounds (0x40000-0x40fff)"), so this driver stops every transfer short of it: at most
 * {@link #MAX_TRANSFER} bytes, ending before 0x40fff.</li>
 * </ul>
 *
 * <p>DMA needs bus mastering: {@link #enableBusMaster()} sets it in the PCI command register. Interrupts
 * arrive on an eventfd ({@link #useInterrupts}); INTx is masked by VFIO each time it fires, so
 * {@link #awaitInterrupt} acknowledges the device and then unmasks.
 */
public final class EduDriver {
    /** PCI ids. */
    public static final int VENDOR_ID = 0x1234, DEVICE_ID = 0x11e8;
    /** What the identification register reads. */
    public static final int IDENTIFICATION = 0x010000ed;
    /** Region indexes of a VFIO PCI device: BAR0 and config space. */
    public static final int BAR0 = 0, CONFIG = 7;
    /** Interrupt indexes of a VFIO PCI device. */
    public static final int INTX = 0, MSI = 1, MSIX = 2;

    /** BAR0 registers. */
    public static final long REG_ID = 0x00, REG_LIVENESS = 0x04, REG_FACTORIAL = 0x08, REG_STATUS = 0x20,
            REG_IRQ_STATUS = 0x24, REG_IRQ_RAISE = 0x60, REG_IRQ_ACK = 0x64, REG_DMA_SRC = 0x80, REG_DMA_DST = 0x88,
            REG_DMA_COUNT = 0x90, REG_DMA_CMD = 0x98;
    /** Status register bits. */
    public static final int STATUS_COMPUTING = 0x01, STATUS_IRQ_FACTORIAL = 0x80;
    /** Interrupt status bits the device itself raises. */
    public static final int IRQ_FACTORIAL = 0x001, IRQ_DMA = 0x100;
    /** DMA command bits. */
    public static final int DMA_START = 1, DMA_TO_RAM = 2, DMA_IRQ = 4;
    /** The device's DMA buffer: its address on the device side and its size. */
    public static final long BUFFER = 0x40000, BUFFER_SIZE = 4096;
    /** The longest transfer this driver starts (see the class description: QEMU 7.2's off-by-one check). */
    public static final int MAX_TRANSFER = (int) BUFFER_SIZE - 1;
    /** RAM-side DMA addresses must lie below this (the device masks them to 28 bits). */
    public static final long DMA_LIMIT = 1L << 28;


    /** How interrupts reach the driver. */
    public enum IrqMode {
        /** Interrupts off. */
        NONE,
        /** Legacy INTx, level-triggered, masked by VFIO at each delivery. */
        INTX,
        /** MSI, one vector. */
        MSI
    }

    private record Mapping(long iova, long size, int access) {
    }

    private final VfioDevice device;
    private final Iommu iommu;
    private final List<Mapping> mappings = new ArrayList<>();
    private IrqMode mode = IrqMode.NONE;
    private EventFd eventfd;

    /** A driver for {@code device}, whose DMA goes through {@code iommu}. */
    public EduDriver(VfioDevice device, Iommu iommu) {
        this.device = device;
        this.iommu = iommu;
    }

    /** The device driven. */
    public VfioDevice device() {
        return device;
    }

    /** Sets memory decoding and bus mastering in the PCI command register. */
    public void enableBusMaster() throws ErrnoException {
        device.enablePciMemoryAndBusMaster();
    }

    /** The identification register, {@link #IDENTIFICATION} on a genuine edu. */
    public int identification() throws ErrnoException {
        return read(REG_ID);
    }

    /** Writes {@code value} to the liveness register and returns what it reads back (its bitwise NOT). */
    public int liveness(int value) throws ErrnoException {
        write(REG_LIVENESS, value);
        return read(REG_LIVENESS);
    }

    /** The status register. */
    public int status() throws ErrnoException {
        return read(REG_STATUS);
    }

    /**
     * Starts computing {@code n!} (modulo 2^32); with {@code irq} the device raises {@link #IRQ_FACTORIAL} when
     * done, without it the request for one is withdrawn.
     *
     * @throws IllegalStateException while a computation runs (the device would ignore the write)
     */
    public void startFactorial(int n, boolean irq) throws ErrnoException {
        if ((status() & STATUS_COMPUTING) != 0) {
            throw new IllegalStateException("edu is still computing a factorial");
        }
        write(REG_STATUS, irq ? STATUS_IRQ_FACTORIAL : 0);
        write(REG_FACTORIAL, n);
    }

    /** Whether a factorial computation runs. */
    public boolean factorialBusy() throws ErrnoException {
        return (status() & STATUS_COMPUTING) != 0;
    }

    /** The factorial register: the last result. */
    public int factorialResult() throws ErrnoException {
        return read(REG_FACTORIAL);
    }

    /**
     * Computes {@code n!} (modulo 2^32) by polling the status register.
     *
     * @throws IllegalStateException when the device is still busy after {@code timeout}
     */
    public int factorial(int n, Duration timeout) throws ErrnoException {
        startFactorial(n, false);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (factorialBusy()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("edu factorial of " + n + " still busy after " + timeout);
            }
            Thread.onSpinWait();
        }
        return factorialResult();
    }

    /** The interrupt status register. */
    public int irqStatus() throws ErrnoException {
        return read(REG_IRQ_STATUS);
    }

    /** Raises the interrupt status bits {@code bits}. */
    public void raiseIrq(int bits) throws ErrnoException {
        write(REG_IRQ_RAISE, bits);
    }

    /** Acknowledges (clears) the interrupt status bits {@code bits}. */
    public void ackIrq(int bits) throws ErrnoException {
        write(REG_IRQ_ACK, bits);
    }

    /**
     * Maps {@code buffer} at {@code iova} for the device and remembers it, so DMA to or from it passes this
     * driver's range checks.
     *
     * @throws IllegalArgumentException when the range reaches past {@link #DMA_LIMIT}
     */
    public void mapBuffer(long iova, MemorySegment buffer, int access) throws ErrnoException {
        if (iova < 0 || buffer.byteSize() > DMA_LIMIT - iova) {
            throw new IllegalArgumentException("edu reaches only IOVAs below 0x" + Long.toHexString(DMA_LIMIT)
                    + ": iova 0x" + Long.toHexString(iova) + " size 0x" + Long.toHexString(buffer.byteSize()));
        }
        iommu.map(iova, buffer, access);
        mappings.add(new Mapping(iova, buffer.byteSize(), access));
    }

    /** Unmaps a buffer {@link #mapBuffer} mapped; returns the bytes the IOMMU unmapped. */
    public long unmapBuffer(long iova, long size) throws ErrnoException {
        long n = iommu.unmap(iova, size);
        mappings.removeIf(m -> m.iova >= iova && m.iova - iova < size);
        return n;
    }

    /**
     * Starts a DMA transfer of {@code count} bytes from RAM at {@code iova} into the device's buffer at
     * {@code deviceAddress}; the device range must end before the buffer's last byte (at most
     * {@link #MAX_TRANSFER} bytes from {@link #BUFFER}).
     *
     * @throws IllegalArgumentException when a range is outside the device buffer or not inside one readable
     *         mapping of this driver
     * @throws IllegalStateException while a transfer runs
     */
    public void dmaToDevice(long iova, long deviceAddress, int count, boolean irq) throws ErrnoException {
        checkDma(iova, deviceAddress, count, Iommu.READ);
        startDma(iova, deviceAddress, count, irq ? DMA_IRQ : 0);
    }

    /**
     * Starts a DMA transfer of {@code count} bytes from the device's buffer at {@code deviceAddress} to RAM at
     * {@code iova}.
     *
     * @throws IllegalArgumentException when a range is outside the device buffer or not inside one writable
     *         mapping of this driver
     * @throws IllegalStateException while a transfer runs
     */
    public void dmaToRam(long deviceAddress, long iova, int count, boolean irq) throws ErrnoException {
        checkDma(iova, deviceAddress, count, Iommu.WRITE);
        startDma(deviceAddress, iova, count, DMA_TO_RAM | (irq ? DMA_IRQ : 0));
    }

    private void checkDma(long iova, long deviceAddress, int count, int access) {
        if (count <= 0 || count > MAX_TRANSFER) {
            throw new IllegalArgumentException("edu DMA count must be 1.." + MAX_TRANSFER + ": " + count);
        }
        if (deviceAddress < BUFFER || deviceAddress - BUFFER > MAX_TRANSFER - count) {
            throw new IllegalArgumentException("edu DMA outside the device buffer 0x" + Long.toHexString(BUFFER)
                    + "+0x" + Long.toHexString(BUFFER_SIZE) + ": 0x" + Long.toHexString(deviceAddress) + " count " + count);
        }
        if (iova < 0 || iova > DMA_LIMIT - count) {
            throw new IllegalArgumentException("edu DMA address must be below 0x" + Long.toHexString(DMA_LIMIT) + ": 0x"
                    + Long.toHexString(iova));
        }
        for (Mapping m : mappings) {
            if (iova >= m.iova && iova - m.iova <= m.size - count && (m.access & access) == access) {
                return;
            }
        }
        throw new IllegalArgumentException("edu DMA range 0x" + Long.toHexString(iova) + "+" + count
                + " is not inside one " + (access == Iommu.READ ? "readable" : "writable") + " mapping of this driver");
    }

    private void startDma(long src, long dst, int count, int cmd) throws ErrnoException {
        if (dmaBusy()) {
            throw new IllegalStateException("edu DMA engine is busy");
        }
        write(REG_DMA_SRC, (int) src);
        write(REG_DMA_DST, (int) dst);
        write(REG_DMA_COUNT, count);
        write(REG_DMA_CMD, cmd | DMA_START);
    }

    /** Whether a DMA transfer runs. */
    public boolean dmaBusy() throws ErrnoException {
        return (read(REG_DMA_CMD) & DMA_START) != 0;
    }

    /**
     * Waits for the running DMA transfer to finish by polling the command register.
     *
     * @throws IllegalStateException when it still runs after {@code timeout}
     */
    public void awaitDma(Duration timeout) throws ErrnoException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (dmaBusy()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("edu DMA still running after " + timeout);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for edu DMA", e);
            }
        }
    }

    /**
     * Routes the device's interrupts to {@code eventfd} by {@code mode}, turning off the previous mode first
     * (a PCI function uses one of INTx and MSI at a time).
     */
    public void useInterrupts(IrqMode mode, EventFd eventfd) throws ErrnoException {
        if (this.mode != IrqMode.NONE) {
            device.disableIrqs(this.mode == IrqMode.INTX ? INTX : MSI);
            this.mode = IrqMode.NONE;
            this.eventfd = null;
        }
        if (mode != IrqMode.NONE) {
            device.enableIrqs(mode == IrqMode.INTX ? INTX : MSI, 0, eventfd);
            this.mode = mode;
            this.eventfd = eventfd;
        }
    }

    /**
     * Waits up to {@code timeout} for an interrupt; when one came, reads the interrupt status, acknowledges
     * those bits and, for INTx, unmasks the line again.
     *
     * @return the interrupt status bits that were set, or 0 when no interrupt came in time
     * @throws IllegalStateException when interrupts are off
     */
    public int awaitInterrupt(Duration timeout) throws ErrnoException {
        if (mode == IrqMode.NONE) {
            throw new IllegalStateException("edu interrupts are off; call useInterrupts first");
        }
        long signals = eventfd.await((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        if (signals == 0) {
            return 0;
        }
        int bits = irqStatus();
        ackIrq(bits);
        if (mode == IrqMode.INTX) {
            device.unmaskIrq(INTX, 0);
        }
        return bits;
    }

    /** The interrupt mode in use. */
    public IrqMode irqMode() {
        return mode;
    }

    private int read(long reg) throws ErrnoException {
        return (int) device.read(BAR0, reg, 4);
    }

    private void write(long reg, int value) throws ErrnoException {
        device.write(BAR0, reg, 4, Integer.toUnsignedLong(value));
    }
}
