package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.EBUSY;
import static dev.panavirt.base.Errno.EFAULT;
import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.ENOENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * Enabling V, VMM permission, EBUSY after the first run (arch/riscv/kvm/vcpu_onereg.c
 * {@code riscv_vcpu_set_isa_ext_single()}, {@code kvm_riscv_vcpu_isa_enable_allowed()}).
 */
class RiscvVectorIsaExtTest extends RiscvVectorFixture {

    @Test
    void c2_isa_vIsEnabledByDefaultWhenTheHostAllowsIt() throws ErrnoException {
        assertTrue(cpu.isaV());
        assertEquals(1, get(V_ISA_ID));
    }

    @Test
    void c2_isa_vCanBeDisabledAndReenabledBeforeTheFirstRun() throws ErrnoException {
        set(V_ISA_ID, 0);
        assertEquals(0, get(V_ISA_ID));
        assertFalse(cpu.isaV());
        set(V_ISA_ID, 1);
        assertEquals(1, get(V_ISA_ID));
    }

    @Test
    void c2_isa_vmmNotAllowedToUseVectorCannotEnableV() throws ErrnoException {
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(16, true, false));
        assertEquals(0, get(V_ISA_ID), "not enabled by default");
        assertEquals(VectorStatus.OFF, cpu.vectorStatus());
        assertErrno(EINVAL, () -> set(V_ISA_ID, 1));
        set(V_ISA_ID, 0); // unchanged value: fine
    }

    @Test
    void c2_isa_valuesOtherThan0And1AreEinval() {
        assertErrno(EINVAL, () -> set(V_ISA_ID, 2));
        assertErrno(EINVAL, () -> set(V_ISA_ID, -1));
    }

    @Test
    void c2_isa_changeAfterFirstRunIsEbusy() throws ErrnoException {
        cpu.load();
        cpu.put();
        assertTrue(cpu.hasRun());
        assertErrno(EBUSY, () -> set(V_ISA_ID, 0));
        assertErrno(EBUSY, () -> set(V_ISA_ID, 2), "EBUSY wins over EINVAL once run");
        set(V_ISA_ID, 1); // the current value is still accepted
        assertEquals(1, get(V_ISA_ID));
    }

    @Test
    void c2_isa_changeDoesNotResetVectorState() throws ErrnoException {
        set(V_ISA_ID, 0);
        assertEquals(VectorStatus.INITIAL, cpu.vectorStatus(), "only FP is reset on an ISA change");
        set(V_ISA_ID, 1);
        assertEquals(VectorStatus.INITIAL, cpu.vectorStatus());
    }

    @Test
    void c2_isa_hostWithoutVectorHasNoVRegister() {
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(16, false, true));
        assertFalse(cpu.isaV());
        assertErrno(ENOENT, () -> get(V_ISA_ID));
        assertErrno(ENOENT, () -> set(V_ISA_ID, 1));
        assertErrno(ENOENT, () -> get(VLENB_ID));
    }

    @Test
    void c2_isa_sizeIsCheckedFirstThenThePointer() {
        assertErrno(EINVAL, () -> cpu.setOneReg(0x8020_0000_0700_000FL, new byte[4]));
        assertErrno(EINVAL, () -> cpu.getOneReg(0x8020_0000_0700_000FL, new byte[4]));
        assertErrno(EFAULT, () -> cpu.setOneReg(V_ISA_ID, new byte[4]));
        assertErrno(EFAULT, () -> cpu.getOneReg(V_ISA_ID, null));
        assertErrno(EFAULT, () -> cpu.setOneReg(0x8030_0000_0703_0000L, null), "copied before the subtype switch");
    }

    @Test
    void c2_isa_idsPastTheUapiAndUnknownSubtypesAreEnoent() {
        assertErrno(ENOENT, () -> get(RiscvVectorRegisters.isaExtId(RiscvIsaExt.MAX)));
        assertErrno(ENOENT, () -> set(RiscvVectorRegisters.isaExtId(200), 1));
        assertErrno(ENOENT, () -> get(0x8030_0000_0703_0000L));
        assertErrno(ENOENT, () -> set(0x8030_0000_0703_0000L, 0));
    }

    @Test
    void c2_isa_multiRegistersCarryVAsBit15() throws ErrnoException {
        long en0 = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_EN, 0);
        long dis0 = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_DIS, 0);
        assertEquals(1L << 15, get(en0) & 1L << 15);
        assertEquals(~get(en0), get(dis0));
        set(dis0, 1L << 15);
        assertFalse(cpu.isaV());
        set(en0, -1L);
        assertTrue(cpu.isaV());
        cpu.load();
        set(dis0, 1L << 15); // the EBUSY of the single write is swallowed
        assertTrue(cpu.isaV());
        long beyond = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_EN,
                (int) RiscvVectorRegisters.ISA_MULTI_REG_LAST + 1);
        assertErrno(ENOENT, () -> get(beyond));
        assertErrno(ENOENT, () -> set(beyond, 0));
    }
}
