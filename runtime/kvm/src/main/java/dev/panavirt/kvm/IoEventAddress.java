package dev.panavirt.kvm;

/**
 * Where an ioeventfd listens ({@link Vm#registerIoeventfd}): a port in the I/O space or a guest-physical
 * address in the memory space, as {@code KVM_IOEVENTFD_FLAG_PIO} tells them apart.
 */
public sealed interface IoEventAddress {

    /** A port of the x86 I/O space, 0 to 0xffff. */
    record Pio(int port) implements IoEventAddress {
        /**
         * Checks the port number.
         *
         * @throws IllegalArgumentException for a port outside 0..0xffff
         */
        public Pio {
            if (port < 0 || port > 0xffff) {
                throw new IllegalArgumentException("I/O ports are 0 to 0xffff, not 0x" + Integer.toHexString(port));
            }
        }
    }

    /** A guest-physical address (unsigned). */
    record Mmio(long address) implements IoEventAddress {
    }

    /** A port of the I/O space. */
    static IoEventAddress pio(int port) {
        return new Pio(port);
    }

    /** A guest-physical address. */
    static IoEventAddress mmio(long address) {
        return new Mmio(address);
    }
}
