package dev.panavirt.models.loongarch;

import static dev.panavirt.base.Errno.EBADF;
import static dev.panavirt.base.Errno.EFAULT;
import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.EPERM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.loongarch64.kvm_h;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Creation, the three attribute groups, LOAD_FINISHED and every attribute error (arch/loongarch/kvm/intc/eiointc.c
 * {@code kvm_eiointc_create()}, {@code kvm_eiointc_set_attr/get_attr()} and the {@code *_access()} helpers they
 * call; arch/loongarch/include/uapi/asm/kvm.h {@code KVM_DEV_LOONGARCH_EXTIOI_*}).
 */
class EiointcAttributesTest extends EiointcFixture {

    // ---- uapi values and identity ----

    @Test
    void b6_groupAndAttrNumbersMatchTheUapi() {
        assertEquals(13, kvm_h.KVM_DEV_TYPE_LOONGARCH_EIOINTC());
        assertEquals(GRP_REGS, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS());
        assertEquals(GRP_SW_STATUS, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS());
        assertEquals(GRP_CTRL, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL());
        assertEquals(0, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU());
        assertEquals(1, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE());
        assertEquals(3, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED());
        assertEquals(2, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE());
    }

    @Test
    void b6_theModelReportsItsTypeAndBackend() {
        assertEquals(13, dev.type());
        assertEquals(DeviceAttributes.Backend.MODEL, dev.backend());
    }

    @Test
    void b6_secondEiointcInTheSameVmFailsWithEinval() throws ErrnoException {
        LoongArchVm vm = new LoongArchVm(2);
        EiointcDevice.create(vm);
        assertTrue(vm.hasEiointc());
        assertErrno(EINVAL, () -> EiointcDevice.create(vm));
        EiointcDevice.create(new LoongArchVm(2)); // another VM is fine
    }

    @Test
    void b6_hasAttrHasNoHandler() {
        // eiointc.c's kvm_eiointc_dev_ops has no has_attr, and virt/kvm/kvm_main.c kvm_device_ioctl_attr()
        // answers a missing accessor with -EPERM.
        assertErrno(EPERM, () -> dev.hasAttr(GRP_CTRL, 0));
        assertErrno(EPERM, () -> dev.hasAttr(GRP_REGS, 0x200));
        assertErrno(EPERM, () -> dev.hasAttr(0, 0));
    }

    @Test
    void b6_unknownGroupFailsForSetAndGet() {
        assertErrno(EINVAL, () -> dev.setAttr(0x4000_0001, 0, 1, 4));
        assertErrno(EINVAL, () -> dev.getAttr(0x4000_0005, 0, 4));
        assertErrno(EINVAL, () -> dev.setAttr(0, 0));
    }

    @Test
    void b6_ctrlIsSetOnly() {
        assertErrno(EINVAL, () -> dev.getAttr(GRP_CTRL, 0, 4));
        assertErrno(EINVAL, () -> dev.getAttr(GRP_CTRL, 3, 4));
    }

    // ---- CTRL ----

    @Test
    void b6_initNumCpuAcceptsUpTo256() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 0, 256, 4);
        assertEquals(256, dev.getAttr(GRP_SW_STATUS, 0, 4));
        dev.setAttr(GRP_CTRL, 0, 0, 4);
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 0, 4));
    }

    @ParameterizedTest
    @ValueSource(longs = {257, 0x7FFF_FFFF, 0xFFFF_FFFFL, 0x1_0000_0101L})
    void b6_initNumCpuAbove256FailsWithEinval(long n) throws ErrnoException {
        dev.setAttr(GRP_CTRL, 0, 4, 4);
        assertErrno(EINVAL, () -> dev.setAttr(GRP_CTRL, 0, n, 8));
        assertEquals(4, dev.getAttr(GRP_SW_STATUS, 0, 4), "unchanged");
    }

    @Test
    void b6_initNumCpuReadsOnlyAU32() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 0, 0xFFFF_FFFF_0000_0010L, 8);
        assertEquals(16, dev.getAttr(GRP_SW_STATUS, 0, 8));
    }

    @Test
    void b6_initNumCpuAndFeatureWithoutPayloadFault() {
        assertErrno(EFAULT, () -> dev.setAttr(GRP_CTRL, 0));
        assertErrno(EFAULT, () -> dev.setAttr(GRP_CTRL, 1));
    }

    @Test
    void b6_initFeatureIsNotValidatedAndSetsEnableWithoutVirtExtension() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 1, 0xFFFF_FFF0L, 4);
        assertEquals(0xFFFF_FFF0L, dev.getAttr(GRP_SW_STATUS, 1, 4));
        assertEquals(EiointcRegisters.ENABLE, dev.getAttr(GRP_SW_STATUS, 2, 4));
    }

    @Test
    void b6_initFeatureClearsNothingInStatus() throws ErrnoException {
        dev.setAttr(GRP_SW_STATUS, 2, 0x8, 4);
        dev.setAttr(GRP_CTRL, 1, 0, 4);
        assertEquals(0xA, dev.getAttr(GRP_SW_STATUS, 2, 4));
        dev.setAttr(GRP_CTRL, 1, EiointcRegisters.ALL_FEATURES, 4);
        assertEquals(0xA, dev.getAttr(GRP_SW_STATUS, 2, 4), "with the virt extension nothing is added or removed");
    }

    @ParameterizedTest
    @ValueSource(longs = {2, 4, 0xFFFF, 0x1_0000_0000L, 0x1_0000_0003L, -1L})
    void b6_unknownCtrlAttrsAreIgnored(long attr) throws ErrnoException {
        dev.setAttr(GRP_CTRL, attr, 123, 4);
        dev.setAttr(GRP_CTRL, attr);
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 0, 4));
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 2, 4));
    }

    // ---- LOAD_FINISHED ----

    /** Restores a pending vector 70 routed to vCPU 2 pin IP1 through raw register writes. */
    private void restoreRaw(EiointcFixture f) throws ErrnoException {
        f.dev.setAttr(GRP_CTRL, 0, 4, 4);
        f.dev.setAttr(GRP_REGS, 0x0C0, 0x0002_0000, 4); // IPMAP byte 2 = 0x02 -> IP1 for vectors 64..95
        f.dev.setAttr(GRP_REGS, 0x200 + 8, 1 << 6, 4); // ENABLE vector 70
        f.dev.setAttr(GRP_REGS, 0x300 + 8, 1 << 6, 4); // ISR vector 70
        f.dev.setAttr(GRP_REGS, (2L << 16) | (0x400 + 8), 1 << 6, 4); // COREISR of vCPU 2
        f.dev.setAttr(GRP_REGS, 0x800 + 68, 0x0002_0000, 4); // COREMAP byte 70 = 2
    }

    @Test
    void b6_regsWritesAreRawUntilLoadFinished() throws ErrnoException {
        restoreRaw(this);
        assertEquals(0, dev.targetOf(70), "no re-route on a GRP_REGS write");
        assertFalse(dev.isShadowAsserted(2, 1, 70));
        assertTrue(lines.isEmpty(), "no line changes");
    }

    @Test
    void b6_loadFinishedRebuildsShadowWithoutTouchingLines() throws ErrnoException {
        restoreRaw(this);
        dev.setAttr(GRP_CTRL, 3);
        assertEquals(1, dev.targetOf(70), "bitmap route byte 0x02 -> CPU 1");
        assertTrue(lines.isEmpty(), "vCPU lines are not re-asserted");
        assertEquals(0, dev.pins(1));
        assertEquals(0, dev.pins(2));
    }

    @Test
    void b6_loadFinishedLooksCoreisrUpByTheRawCoremapByte() throws ErrnoException {
        // The per-pin shadow resolves the COREMAP byte as a physical CPU id without bitmap decoding (kernel
        // eiointc_set_sw_coreisr), so byte 0x02 reads vCPU 2's COREISR row, while the route goes to CPU 1.
        restoreRaw(this);
        dev.setAttr(GRP_CTRL, 3, 0, 4);
        assertTrue(dev.isShadowAsserted(2, 1, 70));
        assertFalse(dev.isShadowAsserted(1, 1, 70));
    }

    @Test
    void b6_loadFinishedInEncodedModeRestoresAWorkingRoute() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(8);
        restoreRaw(f);
        f.dev.setAttr(GRP_SW_STATUS, 2, EiointcRegisters.ENABLE_CPU_ENCODE | EiointcRegisters.ENABLE_INT_ENCODE, 4);
        f.dev.setAttr(GRP_CTRL, 3);
        assertEquals(2, f.dev.targetOf(70));
        assertEquals(2, f.dev.pinOf(70), "encoded IPMAP byte 2");
        assertTrue(f.dev.isShadowAsserted(2, 2, 70));
        assertTrue(f.lines.isEmpty());
        f.dev.setIrq(70, false);
        assertEquals(List.of(down(2, 2)), f.lines, "the last restored vector lowers the line");
    }

    // ---- GRP_REGS ----

    @Test
    void b6_regsUseFourByteGranules() throws ErrnoException {
        wr(ENABLE, 8, 0x1122_3344_5566_7788L);
        assertEquals(0x5566_7788L, regs(0, 0x200));
        assertEquals(0x5566_7788L, regs(0, 0x203), "the granule containing the offset");
        assertEquals(0x1122_3344L, regs(0, 0x204));
        assertEquals(0x1122_3344L, regs(0, 0x207));
        dev.setAttr(GRP_REGS, 0x206, 0xCAFE_F00DL, 4);
        assertEquals(0xCAFE_F00D_5566_7788L, rd(ENABLE, 8));
    }

    @Test
    void b6_regsReachEveryRegisterIncludingIsr() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 0, 1, 4);
        int[] offsets = {0x0A0, 0x0BC, 0x0C0, 0x0C4, 0x200, 0x21C, 0x280, 0x29C, 0x300, 0x31C, 0x400, 0x41C, 0x800,
            0x8FC};
        for (int off : offsets) {
            long v = 0x8000_0000L | off;
            dev.setAttr(GRP_REGS, off, v, 4);
            assertEquals(v, regs(0, off), Integer.toHexString(off));
        }
        assertEquals(0x8000_00C4_8000_00C0L, rd(IPMAP, 8));
        assertEquals(0x8000_0300L, regs(0, 0x300));
        assertEquals(0x8000_0400L, rd(COREISR, 8) & 0xFFFF_FFFFL);
    }

    @ParameterizedTest
    @ValueSource(ints = {0x000, 0x09C, 0x0C8, 0x100, 0x220, 0x27C, 0x2A0, 0x320, 0x420, 0x7FC, 0x900, 0xFFFF})
    void b6_regsUnknownOffsetFailsWithEinval(int off) {
        assertErrno(EINVAL, () -> dev.getAttr(GRP_REGS, off, 4));
        assertErrno(EINVAL, () -> dev.setAttr(GRP_REGS, off, 0, 4));
    }

    @Test
    void b6_regsCoreisrNeedsCpuBelowNumCpu() throws ErrnoException {
        assertErrno(EINVAL, () -> regs(0, 0x400)); // num_cpu is 0
        dev.setAttr(GRP_CTRL, 0, 4, 4);
        dev.setAttr(GRP_REGS, (3L << 16) | 0x404, 0xABCD, 4);
        assertEquals(0xABCD_0000_0000L, rd(3, COREISR, 8));
        assertErrno(EINVAL, () -> regs(4, 0x400));
        assertErrno(EINVAL, () -> dev.setAttr(GRP_REGS, (4L << 16) | 0x400, 1, 4));
        assertErrno(EINVAL, () -> dev.getAttr(GRP_REGS, 0xFFFF_0400L, 4)); // cpu field -1
    }

    @Test
    void b6_regsCpuFieldIsIgnoredOutsideCoreisrAndHighBitsAreTruncated() throws ErrnoException {
        wr(BOUNCE, 4, 0x77);
        assertEquals(0x77, dev.getAttr(GRP_REGS, (200L << 16) | 0x280, 4));
        assertEquals(0x77, dev.getAttr(GRP_REGS, 0x1234_0000_0000_0280L, 4));
    }

    @Test
    void b6_regsSetWithoutPayloadFaultsBeforeOffsetCheck() {
        assertErrno(EFAULT, () -> dev.setAttr(GRP_REGS, 0x200));
        assertErrno(EFAULT, () -> dev.setAttr(GRP_REGS, 0x000));
    }

    @Test
    void b6_regsEnableWriteHasNoRoutingSideEffects() throws ErrnoException {
        dev.setIrq(5, true);
        dev.setAttr(GRP_REGS, 0x200, 1 << 5, 4);
        assertTrue(lines.isEmpty());
        assertEquals(0, rd(COREISR, 8));
    }

    // ---- GRP_SW_STATUS ----

    @Test
    void b6_swStatusGetReturnsNumCpuFeaturesAndStatus() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 0, 42, 4);
        dev.setAttr(GRP_CTRL, 1, 0xD, 4);
        assertEquals(42, dev.getAttr(GRP_SW_STATUS, 0, 4));
        assertEquals(0xD, dev.getAttr(GRP_SW_STATUS, 1, 4));
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 2, 4));
    }

    @Test
    void b6_swStatusSetOfNumCpuAndFeatureIsIgnored() throws ErrnoException {
        dev.setAttr(GRP_SW_STATUS, 0, 99, 4);
        dev.setAttr(GRP_SW_STATUS, 1, 0xF, 4);
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 0, 4));
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 1, 4));
    }

    @Test
    void b6_swStatusSetOfStateOverwritesStatus() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 1, 0, 4); // status = ENABLE
        dev.setAttr(GRP_SW_STATUS, 2, 0xFFFF_FFF4L, 4);
        assertEquals(0xFFFF_FFF4L, dev.getAttr(GRP_SW_STATUS, 2, 4));
        assertEquals(0xFFFF_FFF4L, rd(CONFIG, 4) & 0xFFFF_FFFFL);
        wr(IPMAP, 1, 5);
        assertEquals(5, dev.pinOf(0), "INT_ENCODE is on: the IPMAP byte is the pin");
    }

    @Test
    void b6_swStatusUnknownAttrFailsWithEinvalAndUsesLow16Bits() throws ErrnoException {
        assertErrno(EINVAL, () -> dev.getAttr(GRP_SW_STATUS, 3, 4));
        assertErrno(EINVAL, () -> dev.setAttr(GRP_SW_STATUS, 3, 0, 4));
        dev.setAttr(GRP_SW_STATUS, 0x1_0002L, 0x8, 4); // attr & 0xffff == STATE
        assertEquals(0x8, dev.getAttr(GRP_SW_STATUS, 0x5_0002L, 4));
    }

    @Test
    void b6_swStatusSetWithoutPayloadFaults() {
        assertErrno(EFAULT, () -> dev.setAttr(GRP_SW_STATUS, 2));
        assertErrno(EFAULT, () -> dev.setAttr(GRP_SW_STATUS, 7));
    }

    @Test
    void b6_valuesAreU32WhateverThePayloadSize() throws ErrnoException {
        dev.setAttr(GRP_SW_STATUS, 2, 0xFFFF_FFFF_8000_0002L, 8);
        assertEquals(0x8000_0002L, dev.getAttr(GRP_SW_STATUS, 2, 8));
        assertThrows(IllegalArgumentException.class, () -> dev.getAttr(GRP_SW_STATUS, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> dev.setAttr(GRP_SW_STATUS, 2, 0, 1));
    }

    @Test
    void b6_closedHandleFailsWithEbadfButTheDeviceKeepsWorking() throws ErrnoException {
        dev.close();
        assertErrno(EBADF, () -> dev.getAttr(GRP_SW_STATUS, 0, 4));
        assertErrno(EBADF, () -> dev.setAttr(GRP_CTRL, 3));
        assertErrno(EBADF, () -> dev.hasAttr(GRP_CTRL, 3));
        wr(BOUNCE, 1, 1);
        assertEquals(1, rd(BOUNCE, 1));
    }
}
