package dev.panavirt.models.loongarch;

import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.EOPNOTSUPP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * The mainline default; the switch for the patch "LoongArch: KVM: Set default return value in KVM IO bus ops"
 * (Bibo Mao, 2026); the old {@code >= EIOINTC_ROUTE_MAX_VCPUS} NUM_CPU bound in eiointc.c
 * {@code kvm_eiointc_ctrl_access()}.
 */
class EiointcVersionSwitchTest {

    private static EiointcFixture withOptions(boolean patch, boolean oldBound) {
        return new EiointcFixture(new LoongArchVm(4), new EiointcDevice.Options(patch, oldBound));
    }

    @Test
    void b8_mainlineIsTheDefault() throws ErrnoException {
        EiointcDevice d = EiointcDevice.create(new LoongArchVm(1));
        assertEquals(EiointcDevice.Options.MAINLINE, d.options());
        assertFalse(d.options().defaultReturnPatch());
        assertFalse(d.options().numCpuRejects256());
    }

    @Test
    void b8_defaultReturnPatchTurnsRejectedAccessesIntoHandledZero() throws ErrnoException {
        EiointcFixture f = withOptions(true, false);
        f.wr(EiointcFixture.BOUNCE, 8, -1L);
        assertEquals(0, f.rd(EiointcFixture.BOUNCE + 2, 4), "misaligned read: handled, 0");
        f.wr(EiointcFixture.BOUNCE + 1, 2, 0); // misaligned write: ignored
        assertEquals(-1L, f.rd(EiointcFixture.BOUNCE, 8));
        assertEquals(0, f.rd(EiointcFixture.ISR, 8), "undecoded read: 0");
        f.wr(0x1400, 8, -1L); // undecoded write: ignored
        assertEquals(0, f.rd(EiointcFixture.BOUNCE, 3), "a bad width too");
    }

    @Test
    void b8_defaultReturnPatchIgnoresRefusedVirtWrites() throws ErrnoException {
        EiointcFixture f = withOptions(true, false);
        f.dev.setAttr(EiointcFixture.GRP_CTRL, 1, 0x7, 4); // virt extension, enable option, INT_ENCODE
        f.wr(EiointcFixture.FEATURES, 4, 0xF);
        assertEquals(0x7, f.rd(EiointcFixture.FEATURES, 4));
        f.wr(EiointcFixture.CONFIG, 4, EiointcRegisters.ENABLE);
        f.wr(EiointcFixture.CONFIG, 4, EiointcRegisters.ENABLE_INT_ENCODE); // locked: ignored
        assertEquals(EiointcRegisters.ENABLE, f.rd(EiointcFixture.CONFIG, 4));
    }

    @Test
    void b8_defaultReturnPatchDoesNotInventDevices() {
        EiointcFixture f = withOptions(true, false);
        EiointcFixture.assertErrno(EOPNOTSUPP, () -> f.rd(0x2000, 4));
    }

    @Test
    void b8_mainlineRejectsWhatThePatchAccepts() {
        EiointcFixture f = withOptions(false, false);
        EiointcFixture.assertErrno(EINVAL, () -> f.rd(EiointcFixture.BOUNCE + 2, 4));
        EiointcFixture.assertErrno(EINVAL, () -> f.rd(EiointcFixture.ISR, 8));
    }

    @Test
    void b8_numCpuBoundWasBrieflyInclusive() throws ErrnoException {
        EiointcFixture old = withOptions(false, true);
        EiointcFixture.assertErrno(EINVAL, () -> old.dev.setAttr(EiointcFixture.GRP_CTRL, 0, 256, 4));
        old.dev.setAttr(EiointcFixture.GRP_CTRL, 0, 255, 4);
        assertEquals(255, old.dev.getAttr(EiointcFixture.GRP_SW_STATUS, 0, 4));
        EiointcFixture now = withOptions(false, false);
        now.dev.setAttr(EiointcFixture.GRP_CTRL, 0, 256, 4);
        assertTrue(now.dev.getAttr(EiointcFixture.GRP_SW_STATUS, 0, 4) == 256);
    }
}
