package dev.panavirt.vmm.legacy;

import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;

/**
 * A port through which a guest ends the VM with a status, with the semantics of QEMU's {@code isa-debug-exit}:
 * writing a value {@code code} of width 1, 2 or 4 records the exit status {@code (code << 1) | 1} and marks the
 * VM as stopping. Test kernels use it to report pass or fail; the status is always odd, so it can never be
 * mistaken for a clean exit of the VMM itself.
 *
 * <p>The status is computed in 32 bits, so a 4-byte code loses its top bit; a process exit keeps only the low 8
 * bits, as with QEMU. The offset within the device's range is ignored. The first write wins: once the VM is
 * stopping, writes from other vCPUs are ignored. Reads return zeros. Accesses of other widths are ignored and
 * logged once.
 *
 * <p>QEMU's default mapping is {@link #QEMU_DEFAULT_PORT}/{@link #QEMU_DEFAULT_SIZE}; many test kernels instead
 * use port {@code 0xf4} with size 4 so that a 4-byte {@code out} fits in the range.
 */
public final class DebugExit implements BusDevice {

    /** QEMU's default {@code iobase}. */
    public static final int QEMU_DEFAULT_PORT = 0x501;
    /** QEMU's default {@code iosize}. */
    public static final int QEMU_DEFAULT_SIZE = 2;

    private static final System.Logger LOG = System.getLogger(DebugExit.class.getName());
    /** Marks "no status yet"; outside the int range so every int status is representable. */
    private static final long NO_STATUS = Long.MIN_VALUE;

    private final IntConsumer listener;
    private final AtomicLong status = new AtomicLong(NO_STATUS);
    private volatile boolean badWidthLogged;

    /** Creates a debug-exit port with no listener; poll {@link #status()} or {@link #isStopping()}. */
    public DebugExit() {
        this(null);
    }

    /**
     * Creates a debug-exit port.
     *
     * @param listener called once with the status, on the vCPU thread that wrote it (for example, to stop the
     *     other vCPUs); null for none
     */
    public DebugExit(IntConsumer listener) {
        this.listener = listener;
    }

    @Override
    public void write(long base, long offset, MemorySegment data) {
        long width = data.byteSize();
        if (width != 1 && width != 2 && width != 4) {
            if (!badWidthLogged) {
                badWidthLogged = true;
                LOG.log(System.Logger.Level.WARNING, "debug-exit: ignoring " + width + "-byte write");
            }
            return;
        }
        int exitStatus = (int) (BusData.get(data) << 1) | 1;
        if (status.compareAndSet(NO_STATUS, exitStatus) && listener != null) {
            listener.accept(exitStatus);
        }
    }

    /** {@return the exit status {@code (code << 1) | 1} of the first write, or empty if the guest wrote none} */
    public OptionalInt status() {
        long s = status.get();
        return s == NO_STATUS ? OptionalInt.empty() : OptionalInt.of((int) s);
    }

    /** {@return whether the guest has asked to exit, so the VM is stopping} */
    public boolean isStopping() {
        return status.get() != NO_STATUS;
    }
}
