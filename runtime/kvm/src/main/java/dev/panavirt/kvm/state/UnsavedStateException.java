package dev.panavirt.kvm.state;

/**
 * A capture refused because the guest uses state the records do not hold (nested virtualization, XSAVE without
 * the XCRs, a vCPU inside {@code KVM_RUN}, ...): saving it would drop that state silently. The message names
 * what the guest uses.
 */
public final class UnsavedStateException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** A refusal naming the state that would be lost. */
    public UnsavedStateException(String message) {
        super(message);
    }
}
