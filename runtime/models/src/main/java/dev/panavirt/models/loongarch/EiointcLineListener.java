package dev.panavirt.models.loongarch;

/**
 * Hears the EIOINTC model raise or lower a vCPU interrupt line, the model's counterpart of the kernel's
 * {@code kvm_vcpu_ioctl_interrupt(vcpu, ±(INT_HWI0 + pin))}.
 *
 * <p>Called once per call the kernel would make, with the device lock held, on the thread that caused the
 * change (a guest register write, a line change or an attribute). Must not call back into the device and
 * should not allocate: it sits on the line-raise path.
 */
@FunctionalInterface
public interface EiointcLineListener {

    /** A listener that ignores everything. */
    EiointcLineListener NONE = (vcpuId, pin, level) -> { };

    /**
     * A vCPU line changed.
     *
     * @param vcpuId the target vCPU's vcpu id
     * @param pin    the interrupt pin IPn (the CPU interrupt is {@link EiointcRegisters#INT_HWI0} + pin)
     * @param level  true when raised, false when lowered
     */
    void lineChanged(int vcpuId, int pin, boolean level);
}
