package dev.panavirt.vmm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Turns a vCPU's port I/O and MMIO exits into {@link Bus} accesses, apart from the ioctl that produced them.
 *
 * <p>The run loop decodes the exit (from {@code kvm_run} or anything else) and passes plain values: the address,
 * the width, the direction and a segment holding the data, which the dispatcher reads from for writes and fills
 * for reads. Keeping the dispatch free of KVM types lets it be tested with made-up exits.
 *
 * <p>Each access goes through a private 8-byte scratch window of exactly the access width, sliced once at
 * construction. That keeps the path allocation-free whatever segment the caller passes (a {@code kvm_run} view, a
 * heap array, a string-I/O buffer), gives devices an 8-byte-aligned window, and means devices never see the
 * caller's memory. Because of that scratch state an instance is <strong>not</strong> thread-safe: give each vCPU
 * thread its own dispatcher over the shared buses, which are safe to share.
 */
public final class ExitDispatcher {

    /** Widest single access: the 8-byte {@code data} field of an MMIO exit. */
    private static final int MAX_WIDTH = 8;

    private final Bus pio;
    private final Bus mmio;
    /** windows[w] is the first w bytes of the scratch buffer; index 0 unused. */
    private final MemorySegment[] windows = new MemorySegment[MAX_WIDTH + 1];

    /**
     * Creates a dispatcher for one vCPU thread.
     *
     * @param pio the port I/O bus (addresses are 16-bit port numbers)
     * @param mmio the memory-mapped I/O bus
     */
    public ExitDispatcher(Bus pio, Bus mmio) {
        this.pio = Objects.requireNonNull(pio, "pio");
        this.mmio = Objects.requireNonNull(mmio, "mmio");
        // An automatic arena: usable from whichever thread runs the vCPU, freed with the dispatcher.
        MemorySegment scratch = Arena.ofAuto().allocate(MAX_WIDTH, MAX_WIDTH);
        for (int w = 1; w <= MAX_WIDTH; w++) {
            windows[w] = scratch.asSlice(0, w);
        }
    }

    /** {@return the port I/O bus} */
    public Bus pioBus() {
        return pio;
    }

    /** {@return the MMIO bus} */
    public Bus mmioBus() {
        return mmio;
    }

    /**
     * Emulates a port I/O exit ({@code KVM_EXIT_IO}). Allocates nothing.
     *
     * <p>With {@code count > 1} this is string I/O ({@code rep ins/outs}): {@code data} holds {@code count}
     * elements of {@code size} bytes, each one a separate access to the same port, in buffer order. For {@code in}
     * each element is filled from the device (the bus's unmapped value when unmapped); for {@code out} each is sent
     * to it.
     *
     * @param port the port; only the low 16 bits are used, so a sign-extended {@code u16} works
     * @param size width of each access: 1, 2 or 4
     * @param in true for a guest {@code in} (device to guest), false for {@code out}
     * @param data at least {@code count * size} bytes, little-endian elements back to back
     * @param count number of accesses, at least 1
     * @return {@link Emulation#HANDLED} if every access reached a device, else {@link Emulation#UNMAPPED}
     * @throws IllegalArgumentException if size, count or the data length is invalid (a run-loop bug: KVM never
     *     produces such an exit)
     */
    public Emulation pio(int port, int size, boolean in, MemorySegment data, int count) {
        if ((size != 1 && size != 2 && size != 4) || count < 1 || data.byteSize() < (long) count * size) {
            throw invalid("pio", size, count, data);
        }
        long addr = port & 0xFFFFL;
        MemorySegment window = windows[size];
        boolean allHandled = true;
        for (int i = 0; i < count; i++) {
            long at = (long) i * size;
            allHandled &= in ? readInto(pio, addr, window, data, at) : writeFrom(pio, addr, window, data, at);
        }
        return allHandled ? Emulation.HANDLED : Emulation.UNMAPPED;
    }

    /**
     * Emulates an MMIO exit ({@code KVM_EXIT_MMIO}). For a read, the access window is zero-filled before the
     * device is asked and then replaces the first {@code len} bytes of {@code data}, so bytes the device does not
     * store, and all bytes of an unmapped read, come back as zeros. Allocates nothing.
     *
     * @param addr guest physical address, unsigned
     * @param len access width, 1 to 8 (KVM splits an access that crosses a page, so 3, 5, 6 and 7 occur)
     * @param write true for a guest store, false for a load
     * @param data at least {@code len} bytes (typically the 8-byte {@code mmio.data} field); only the first
     *     {@code len} are used
     * @return {@link Emulation#HANDLED} if a device took the access, else {@link Emulation#UNMAPPED}
     * @throws IllegalArgumentException if {@code len} or the data length is invalid (a run-loop bug)
     */
    public Emulation mmio(long addr, int len, boolean write, MemorySegment data) {
        if (len < 1 || len > MAX_WIDTH || data.byteSize() < len) {
            throw invalid("mmio", len, 1, data);
        }
        MemorySegment window = windows[len];
        boolean handled;
        if (write) {
            handled = writeFrom(mmio, addr, window, data, 0);
        } else {
            // Zero-fill, then read: Bus.read zeroes the window before the device sees it, and the whole window is
            // copied over the caller's first len bytes, so stale kvm_run bytes never reach the guest.
            handled = readInto(mmio, addr, window, data, 0);
        }
        return handled ? Emulation.HANDLED : Emulation.UNMAPPED;
    }

    /** Reads one element: the bus zero-fills the window, the device fills it, then it is copied out. */
    private static boolean readInto(Bus bus, long addr, MemorySegment window, MemorySegment data, long at) {
        boolean handled = bus.read(addr, window);
        MemorySegment.copy(window, 0, data, at, window.byteSize());
        return handled;
    }

    private static boolean writeFrom(Bus bus, long addr, MemorySegment window, MemorySegment data, long at) {
        MemorySegment.copy(data, at, window, 0, window.byteSize());
        return bus.write(addr, window);
    }

    private static IllegalArgumentException invalid(String what, int width, int count, MemorySegment data) {
        return new IllegalArgumentException(what + " exit with width " + width + ", count " + count
                + " and " + data.byteSize() + " data bytes");
    }
}
