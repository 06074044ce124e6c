package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.kvm_h;

/** Exit reason numbers as plain static finals, read once from the generated constants. */
final class KvmExits {
    private KvmExits() {}

    static final int IO = kvm_h.KVM_EXIT_IO();
    static final int MMIO = kvm_h.KVM_EXIT_MMIO();
    static final int HLT = kvm_h.KVM_EXIT_HLT();
    static final int SHUTDOWN = kvm_h.KVM_EXIT_SHUTDOWN();
    static final int FAIL_ENTRY = kvm_h.KVM_EXIT_FAIL_ENTRY();
    static final int INTERNAL_ERROR = kvm_h.KVM_EXIT_INTERNAL_ERROR();
    static final int SYSTEM_EVENT = kvm_h.KVM_EXIT_SYSTEM_EVENT();
    static final int DIRTY_RING_FULL = kvm_h.KVM_EXIT_DIRTY_RING_FULL();
    static final int MEMORY_FAULT = kvm_h.KVM_EXIT_MEMORY_FAULT();
    static final int IO_IN = kvm_h.KVM_EXIT_IO_IN();
}
