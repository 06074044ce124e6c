package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.kvm_h;

/**
 * KVM capabilities ({@code KVM_CAP_*}) that panavirt uses or reports, for
 * {@link Kvm#checkExtension(Cap)} and {@link Vm#checkExtension(Cap)}.
 *
 * <p>The numbers come from the arch-neutral {@code linux/kvm.h} bindings, apart from the x86-only ones that
 * {@code linux/kvm.h} defines only under x86's {@code __KVM_HAVE_*} (PIT2, VCPU_EVENTS, XSAVE, XCRS,
 * DEBUGREGS, PIT_STATE2).
 */
public enum Cap {
    IRQCHIP(kvm_h.KVM_CAP_IRQCHIP()),
    HLT(kvm_h.KVM_CAP_HLT()),
    USER_MEMORY(kvm_h.KVM_CAP_USER_MEMORY()),
    USER_MEMORY2(kvm_h.KVM_CAP_USER_MEMORY2()),
    SET_TSS_ADDR(kvm_h.KVM_CAP_SET_TSS_ADDR()),
    EXT_CPUID(kvm_h.KVM_CAP_EXT_CPUID()),
    EXT_EMUL_CPUID(kvm_h.KVM_CAP_EXT_EMUL_CPUID()),
    NR_VCPUS(kvm_h.KVM_CAP_NR_VCPUS()),
    MAX_VCPUS(kvm_h.KVM_CAP_MAX_VCPUS()),
    MAX_VCPU_ID(kvm_h.KVM_CAP_MAX_VCPU_ID()),
    NR_MEMSLOTS(kvm_h.KVM_CAP_NR_MEMSLOTS()),
    PIT2(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_CAP_PIT2()),
    IRQ_ROUTING(kvm_h.KVM_CAP_IRQ_ROUTING()),
    IRQFD(kvm_h.KVM_CAP_IRQFD()),
    IRQFD_RESAMPLE(kvm_h.KVM_CAP_IRQFD_RESAMPLE()),
    IOEVENTFD(kvm_h.KVM_CAP_IOEVENTFD()),
    IOEVENTFD_ANY_LENGTH(kvm_h.KVM_CAP_IOEVENTFD_ANY_LENGTH()),
    SIGNAL_MSI(kvm_h.KVM_CAP_SIGNAL_MSI()),
    MSI_DEVID(kvm_h.KVM_CAP_MSI_DEVID()),
    ADJUST_CLOCK(kvm_h.KVM_CAP_ADJUST_CLOCK()),
    IMMEDIATE_EXIT(kvm_h.KVM_CAP_IMMEDIATE_EXIT()),
    ONE_REG(kvm_h.KVM_CAP_ONE_REG()),
    DEVICE_CTRL(kvm_h.KVM_CAP_DEVICE_CTRL()),
    READONLY_MEM(kvm_h.KVM_CAP_READONLY_MEM()),
    SYNC_MMU(kvm_h.KVM_CAP_SYNC_MMU()),
    COALESCED_MMIO(kvm_h.KVM_CAP_COALESCED_MMIO()),
    MANUAL_DIRTY_LOG_PROTECT2(kvm_h.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2()),
    DIRTY_LOG_RING(kvm_h.KVM_CAP_DIRTY_LOG_RING()),
    DIRTY_LOG_RING_ACQ_REL(kvm_h.KVM_CAP_DIRTY_LOG_RING_ACQ_REL()),
    SPLIT_IRQCHIP(kvm_h.KVM_CAP_SPLIT_IRQCHIP()),
    GUEST_MEMFD(kvm_h.KVM_CAP_GUEST_MEMFD()),
    VM_TYPES(kvm_h.KVM_CAP_VM_TYPES()),
    XSAVE(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_CAP_XSAVE()),
    XCRS(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_CAP_XCRS()),
    VCPU_EVENTS(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_CAP_VCPU_EVENTS()),
    MP_STATE(kvm_h.KVM_CAP_MP_STATE()),
    GET_MSR_FEATURES(kvm_h.KVM_CAP_GET_MSR_FEATURES()),
    INTERNAL_ERROR_DATA(kvm_h.KVM_CAP_INTERNAL_ERROR_DATA()),
    SYSTEM_EVENT_DATA(kvm_h.KVM_CAP_SYSTEM_EVENT_DATA()),
    SYNC_REGS(kvm_h.KVM_CAP_SYNC_REGS()),
    /** {@code KVM_GET_XSAVE2}; the extension's value is the size of the XSAVE buffer in bytes. */
    XSAVE2(kvm_h.KVM_CAP_XSAVE2()),
    SREGS2(kvm_h.KVM_CAP_SREGS2()),
    DEBUGREGS(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_CAP_DEBUGREGS()),
    GET_TSC_KHZ(kvm_h.KVM_CAP_GET_TSC_KHZ()),
    TSC_CONTROL(kvm_h.KVM_CAP_TSC_CONTROL()),
    PIT_STATE2(dev.panavirt.bindings.kvm.x86_64.kvm_h.KVM_CAP_PIT_STATE2());

    private final int number;

    Cap(int number) {
        this.number = number;
    }

    /** The {@code KVM_CAP_*} number passed to KVM_CHECK_EXTENSION. */
    public int number() {
        return number;
    }
}
