package dev.panavirt.vmm.irqchip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
import dev.panavirt.testsupport.KvmTest;
import org.junit.jupiter.api.Test;

/** On this x86 host's KVM neither device exists, so the factory hands out the models, and says so. */
@KvmTest
class IrqchipsTest {
    @Test
    void itsAndEiointcFallBackToModelsOnX86() throws Exception {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.addMemory(0, 0, 1 << 20, 0);
            assertFalse(vm.supportsDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS()));
            try (DeviceAttributes its = Irqchips.gicv3Its(vm, 2)) {
                assertEquals(DeviceAttributes.Backend.MODEL, its.backend());
                assertEquals(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS(), its.type());
                // The same attribute call a kernel ITS takes: place the frame, read it back.
                its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), 0x0808_0000L, 8);
                assertEquals(0x0808_0000L, its.getAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(),
                        kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), 8));
            }
            try (DeviceAttributes eiointc = Irqchips.loongarchEiointc(vm, 4)) {
                assertEquals(DeviceAttributes.Backend.MODEL, eiointc.backend());
                assertEquals(13, eiointc.type());
            }
        }
    }
}
