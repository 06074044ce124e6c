package dev.panavirt.vmm;

import java.util.Objects;

/**
 * A rejected change to a {@link Bus} layout or an invalid {@link BusRange}.
 *
 * <p>These are errors in how the VMM lays out its devices, never guest faults (guest accesses to unmapped
 * addresses are counted by the bus instead), so the exception is unchecked. Code that moves ranges on behalf of
 * the guest, such as PCI BAR relocation through {@link Bus#move}, should catch it and refuse the guest's request.
 */
public final class BusException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Why a range or a bus change was rejected. */
    public enum Kind {
        /** The new range overlaps a range already on the bus. */
        OVERLAP,
        /** The range has size 0. */
        ZERO_SIZED_RANGE,
        /** No device is registered at the given base address. */
        MISSING_ADDRESS_RANGE,
        /** The range runs past the top of the 64-bit address space. */
        INVALID_RANGE
    }

    /** Why the change was rejected. */
    private final Kind kind;

    /**
     * Creates an exception.
     *
     * @param kind why the change was rejected
     * @param message details naming the bus and the addresses involved
     */
    public BusException(Kind kind, String message) {
        super(Objects.requireNonNull(kind, "kind") + ": " + message);
        this.kind = kind;
    }

    /** {@return why the change was rejected} */
    public Kind kind() {
        return kind;
    }
}
