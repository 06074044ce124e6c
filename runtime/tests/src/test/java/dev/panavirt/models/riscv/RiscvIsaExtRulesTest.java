package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.EBUSY;
import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.ENOENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.riscv64.kvm_h;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every {@code KVM_REG_RISCV_ISA_EXT} id on a configurable host, after arch/riscv/kvm/vcpu_onereg.c (6.12):
 * {@code kvm_isa_ext_arr}, {@code kvm_riscv_vcpu_setup_isa}, {@code riscv_vcpu_get_isa_ext_single},
 * {@code riscv_vcpu_set_isa_ext_single}, {@code kvm_riscv_vcpu_isa_enable_allowed},
 * {@code kvm_riscv_vcpu_isa_disable_allowed}, {@code riscv_vcpu_get/set_isa_ext_multi},
 * {@code copy_isa_ext_reg_indices}.
 */
class RiscvIsaExtRulesTest extends RiscvVectorFixture {

    /** What the kernel lets a VMM turn off when the host has Smstateen; every other extension refuses. */
    private static final Set<RiscvIsaExt> MAY_DISABLE = EnumSet.of(RiscvIsaExt.D, RiscvIsaExt.F, RiscvIsaExt.H,
            RiscvIsaExt.V, RiscvIsaExt.SVPBMT, RiscvIsaExt.ZICBOM, RiscvIsaExt.ZICBOZ, RiscvIsaExt.SMSTATEEN,
            RiscvIsaExt.SSAIA);

    private static long single(RiscvIsaExt e) {
        return RiscvVectorRegisters.isaExtId(e.id());
    }

    private void host(Set<RiscvIsaExt> isa) {
        cpu = new RiscvVectorUnit(RiscvVectorUnit.Config.DEFAULT.withHostIsa(isa));
    }

    @Test
    void c2_isaext_idsAreTheUapiEnum() throws ReflectiveOperationException {
        for (RiscvIsaExt e : RiscvIsaExt.values()) {
            int uapi = (int) kvm_h.class.getMethod("KVM_RISCV_ISA_EXT_" + e.name()).invoke(null);
            assertEquals(uapi, e.id(), e.name());
        }
        assertEquals(kvm_h.KVM_RISCV_ISA_EXT_MAX(), RiscvIsaExt.MAX);
        assertEquals(62, RiscvIsaExt.MAX, "6.12's last id is ZAWRS, 61");
        assertEquals((RiscvIsaExt.MAX - 1) / 64, RiscvVectorRegisters.ISA_MULTI_REG_LAST);
    }

    @Test
    void c2_isaext_defaultHostAnswersForItsTenExtensionsAndNoOther() throws ErrnoException {
        Set<RiscvIsaExt> host = RiscvIsaExt.RV64GCV_HOST;
        assertEquals(EnumSet.of(RiscvIsaExt.A, RiscvIsaExt.C, RiscvIsaExt.D, RiscvIsaExt.F, RiscvIsaExt.H,
                RiscvIsaExt.I, RiscvIsaExt.M, RiscvIsaExt.V, RiscvIsaExt.ZICSR, RiscvIsaExt.ZIFENCEI), host);
        for (RiscvIsaExt e : RiscvIsaExt.values()) {
            if (!host.contains(e)) {
                assertErrno(ENOENT, () -> get(single(e)), e + " is not on the host");
                assertErrno(ENOENT, () -> set(single(e), 0), e + " is not on the host");
            } else {
                assertEquals(e == RiscvIsaExt.H ? 0 : 1, get(single(e)), e + ": H is never given to a vCPU");
            }
        }
        assertEquals(1, get(single(RiscvIsaExt.A)), "the issue's probe: id 0 reads 1 on a host with A");
    }

    @Test
    void c2_isaext_everyExtensionDisablesOnlyWhereTheKernelHasAWay() throws ErrnoException {
        host(EnumSet.allOf(RiscvIsaExt.class));
        for (RiscvIsaExt e : RiscvIsaExt.values()) {
            if (e == RiscvIsaExt.H) {
                assertEquals(0, get(single(e)));
                set(single(e), 0); // the value it has
                assertErrno(EINVAL, () -> set(single(e), 1), "H is never enabled");
                continue;
            }
            assertEquals(1, get(single(e)), e + " starts enabled on a host that has everything");
            if (MAY_DISABLE.contains(e)) {
                set(single(e), 0);
                assertEquals(0, get(single(e)), e.name());
                set(single(e), 1);
                assertEquals(1, get(single(e)), e + " enabled again");
            } else {
                assertErrno(EINVAL, () -> set(single(e), 0), e + " cannot be hidden from a guest");
                assertEquals(1, get(single(e)), e.name());
            }
        }
    }

    @Test
    void c2_isaext_ssaiaDisablesOnlyWithSmstateenAndSscofpmfNeedsSsaia() throws ErrnoException {
        host(EnumSet.of(RiscvIsaExt.I, RiscvIsaExt.SSAIA, RiscvIsaExt.SSCOFPMF));
        assertEquals(1, get(single(RiscvIsaExt.SSCOFPMF)));
        assertErrno(EINVAL, () -> set(single(RiscvIsaExt.SSAIA), 0), "no Smstateen on the host");
        host(EnumSet.of(RiscvIsaExt.I, RiscvIsaExt.SSCOFPMF));
        assertEquals(0, get(single(RiscvIsaExt.SSCOFPMF)), "not set up without Ssaia on the host");
        assertErrno(EINVAL, () -> set(single(RiscvIsaExt.SSCOFPMF), 1));
    }

    @Test
    void c2_isaext_onlyZeroAndOneAreValuesAndOnlyBeforeTheFirstRun() throws ErrnoException {
        long d = single(RiscvIsaExt.D);
        assertErrno(EINVAL, () -> set(d, 2));
        set(d, 1); // the value it has: fine
        cpu.load();
        cpu.put();
        assertErrno(EBUSY, () -> set(d, 0));
        assertErrno(EBUSY, () -> set(d, 2), "EBUSY before the value check once run");
        assertErrno(EBUSY, () -> set(single(RiscvIsaExt.A), 0), "EBUSY before the disable rule once run");
        set(d, 1);
        set(single(RiscvIsaExt.H), 0);
        assertErrno(ENOENT, () -> set(single(RiscvIsaExt.ZBB), 0), "ENOENT before EBUSY");
    }

    @Test
    void c2_isaext_multiRegistersAreTheSingleOnesSideBySide() throws ErrnoException {
        long en = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_EN, 0);
        long dis = RiscvVectorRegisters.isaMultiId(RiscvVectorRegisters.ISA_MULTI_DIS, 0);
        long expected = 0;
        for (RiscvIsaExt e : RiscvIsaExt.RV64GCV_HOST) {
            if (e != RiscvIsaExt.H) {
                expected |= 1L << e.id();
            }
        }
        assertEquals(expected, get(en));
        assertEquals(~expected, get(dis), "extensions the host lacks read as disabled");
        set(dis, 1L << RiscvIsaExt.A.id() | 1L << RiscvIsaExt.D.id() | 1L << RiscvIsaExt.F.id() | 1L << 63);
        assertTrue(cpu.hasExtension(RiscvIsaExt.A), "A's EINVAL is ignored");
        assertFalse(cpu.hasExtension(RiscvIsaExt.D));
        assertFalse(cpu.hasExtension(RiscvIsaExt.F));
        set(en, -1L);
        assertEquals(expected, get(en), "H stays off, unknown bits are ignored");
    }
}
