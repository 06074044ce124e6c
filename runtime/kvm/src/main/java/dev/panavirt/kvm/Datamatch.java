package dev.panavirt.kvm;

/**
 * Which guest writes an ioeventfd matches ({@link Vm#registerIoeventfd}): every write of the registered
 * length, or only writes of one value ({@code KVM_IOEVENTFD_FLAG_DATAMATCH}).
 */
public sealed interface Datamatch {

    /** Every write matches. */
    Datamatch ANY = new Any();

    /** Only writes of {@code value} (its low {@code length} bytes) match. */
    static Datamatch value(long value) {
        return new Value(value);
    }

    /** Every write matches; use {@link #ANY}. */
    record Any() implements Datamatch {
    }

    /** Only writes of {@code value} match. */
    record Value(long value) implements Datamatch {
    }
}
