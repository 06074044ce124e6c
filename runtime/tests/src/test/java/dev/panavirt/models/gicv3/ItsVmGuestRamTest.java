package dev.panavirt.models.gicv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.irqchip.VmGuestRam;
import org.junit.jupiter.api.Test;

/** The adapter over a real VM's memory slots, and the ITS reading its command queue through it. */
@KvmTest
class ItsVmGuestRamTest {

    static final long RAM = 0x10_0000;
    static final long SIZE = 4L << 20;

    @Test
    void readsAndWritesTheVmsMemoryLittleEndian() throws ErrnoException {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.addMemory(0, RAM, SIZE, 0);
            VmGuestRam ram = new VmGuestRam(vm.memory());
            ram.writeLong(RAM + 8, 0x1122_3344_5566_7788L);
            assertEquals(0x88, vm.memory().readByte(RAM + 8) & 0xFF);
            assertEquals(0x1122_3344_5566_7788L, ram.readLong(RAM + 8));
            ram.writeByte(RAM, 0xAB);
            assertEquals(0xAB, ram.readByte(RAM));
            byte[] data = {1, 2, 3, 4, 5};
            ram.write(RAM + 100, data, 0, data.length);
            byte[] back = new byte[5];
            ram.read(RAM + 100, back, 0, back.length);
            assertArrayEquals(data, back);
            assertTrue(ram.isMapped(RAM + SIZE - 1));
            assertFalse(ram.isMapped(RAM + SIZE));
        }
    }

    @Test
    void accessesOutsideTheSlotsAreEfault() throws ErrnoException {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.addMemory(0, RAM, SIZE, 0);
            VmGuestRam ram = new VmGuestRam(vm.memory());
            ItsRig.assertErrno(Errno.EFAULT, () -> ram.readLong(RAM + SIZE - 4));
            ItsRig.assertErrno(Errno.EFAULT, () -> ram.writeLong(0, 1));
            ItsRig.assertErrno(Errno.EFAULT, () -> ram.readByte(RAM - 1));
        }
    }

    @Test
    void itsRunsCommandsFromVmMemory() throws ErrnoException {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.addMemory(0, RAM, SIZE, 0);
            VmGuestRam ram = new VmGuestRam(vm.memory());
            Vgic vgic = new Vgic(ram, 1);
            ItsDevice its = vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
            its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), 0x0808_0000L, 8);
            long queue = RAM + 0x1_0000;
            its.mmioWrite(ItsRegisters.GITS_CBASER, 8, ItsRegisters.VALID | queue);
            its.mmioWrite(ItsRegisters.baser(0), 8, ItsRegisters.VALID | (RAM + 0x2_0000));
            its.mmioWrite(ItsRegisters.baser(1), 8, ItsRegisters.VALID | (RAM + 0x3_0000));
            its.mmioWrite(ItsRegisters.GITS_CTLR, 4, 1);
            long[] mapc = ItsCommand.mapc(7, 0, true);
            for (int i = 0; i < 4; i++) {
                vm.memory().writeLong(queue + 8L * i, mapc[i]);
            }
            its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, 32);
            assertEquals(32, its.mmioRead(ItsRegisters.GITS_CREADR, 8));
            assertEquals(java.util.List.of(new ItsDevice.CollectionMapping(7, 0)), its.collections());
        }
    }
}
