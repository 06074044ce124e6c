package dev.panavirt.models.loongarch;

import static dev.panavirt.base.Errno.EPERM;
import static dev.panavirt.models.loongarch.EiointcRegisters.ALL_FEATURES;
import static dev.panavirt.models.loongarch.EiointcRegisters.ENABLE_CPU_ENCODE;
import static dev.panavirt.models.loongarch.EiointcRegisters.ENABLE_INT_ENCODE;
import static dev.panavirt.models.loongarch.EiointcRegisters.HAS_CPU_ENCODE;
import static dev.panavirt.models.loongarch.EiointcRegisters.HAS_VIRT_EXTENSION;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * The V-EIOINTC page: FEATURES read-only, CONFIG rules, default status (arch/loongarch/kvm/intc/eiointc.c
 * {@code kvm_eiointc_virt_read/write()}, {@code kvm_eiointc_ctrl_access()} INIT_FEATURE; asm/kvm_eiointc.h).
 */
class EiointcVirtExtensionTest extends EiointcFixture {

    /** CONFIG bit 1 (the fixture's ENABLE is the register address). */
    private static final int CFG_ENABLE = EiointcRegisters.ENABLE;

    private void features(int f) throws ErrnoException {
        dev.setAttr(GRP_CTRL, 1, f, 4);
    }

    @Test
    void b2_featureAndConfigBitsHaveTheDocumentedPositions() {
        assertEquals(0xF, ALL_FEATURES);
        assertEquals(1 << 1, CFG_ENABLE);
        assertEquals(1 << 2, ENABLE_INT_ENCODE);
        assertEquals(1 << 3, ENABLE_CPU_ENCODE);
        assertEquals(HAS_CPU_ENCODE, ENABLE_CPU_ENCODE, "config bits coincide with feature bits");
    }

    @Test
    void b5_featuresReadsTheFeatureWord() throws ErrnoException {
        features(0xF);
        assertEquals(0xF, rd(FEATURES, 4));
        features(0x8000_0009);
        assertEquals(0xFFFF_FFFF_8000_0009L, rd(FEATURES, 4), "a u32 sign-extended into the register");
        assertEquals(0x09, rd(FEATURES, 1));
        assertEquals(0x8000_0009L, rd(FEATURES, 8), "upper half not written by the handler (model: 0)");
    }

    @Test
    void b5_featuresIsReadOnly() throws ErrnoException {
        features(0x5);
        assertErrno(EPERM, () -> wr(FEATURES, 4, 0xF));
        assertEquals(0x5, rd(FEATURES, 4));
        assertEquals(0x5, dev.getAttr(GRP_SW_STATUS, 1, 4));
    }

    @Test
    void b5_configWriteKeepsOnlyOfferedOptions() throws ErrnoException {
        features(HAS_VIRT_EXTENSION | HAS_CPU_ENCODE);
        assertEquals(0, rd(CONFIG, 4), "with the virt extension status starts at 0");
        wr(CONFIG, 4, 0xFFFF_FFFFL);
        assertEquals(HAS_VIRT_EXTENSION | HAS_CPU_ENCODE, rd(CONFIG, 4));
        assertEquals(HAS_VIRT_EXTENSION | HAS_CPU_ENCODE, dev.getAttr(GRP_SW_STATUS, 2, 4));
    }

    @Test
    void b5_onceEnabledOnlyZeroIsAccepted() throws ErrnoException {
        features(ALL_FEATURES);
        wr(CONFIG, 4, CFG_ENABLE | ENABLE_CPU_ENCODE);
        assertEquals(CFG_ENABLE | ENABLE_CPU_ENCODE, rd(CONFIG, 4));
        assertErrno(EPERM, () -> wr(CONFIG, 4, ENABLE_INT_ENCODE));
        assertErrno(EPERM, () -> wr(CONFIG, 4, CFG_ENABLE));
        assertEquals(CFG_ENABLE | ENABLE_CPU_ENCODE, rd(CONFIG, 4));
        wr(CONFIG, 4, 0);
        assertEquals(0, rd(CONFIG, 4));
        wr(CONFIG, 4, ENABLE_INT_ENCODE);
        assertEquals(ENABLE_INT_ENCODE, rd(CONFIG, 4), "unlocked again after 0");
    }

    @Test
    void b5_configWriteWithoutEnableCanBeRepeated() throws ErrnoException {
        features(ALL_FEATURES);
        wr(CONFIG, 4, ENABLE_CPU_ENCODE);
        wr(CONFIG, 4, ENABLE_INT_ENCODE);
        assertEquals(ENABLE_INT_ENCODE, rd(CONFIG, 4));
    }

    @Test
    void b5_withoutVirtExtensionStatusDefaultsToEnableAndConfigIsLocked() throws ErrnoException {
        features(HAS_CPU_ENCODE); // no HAS_VIRT_EXTENSION
        assertEquals(CFG_ENABLE, rd(CONFIG, 4));
        assertErrno(EPERM, () -> wr(CONFIG, 4, ENABLE_CPU_ENCODE));
        assertEquals(CFG_ENABLE, rd(CONFIG, 4));
    }

    @Test
    void b5_configWriteTakesLow32BitsWhateverTheWidth() throws ErrnoException {
        features(ALL_FEATURES);
        wr(CONFIG, 1, 0x0000_0100_0000_0008L);
        assertEquals(ENABLE_CPU_ENCODE, rd(CONFIG, 4));
        wr(CONFIG, 8, 0xFFFF_FFFF_0000_0004L);
        assertEquals(ENABLE_INT_ENCODE, rd(CONFIG, 4));
    }

    @Test
    void b5_otherVirtOffsetsReadZeroAndIgnoreWritesWithoutAlignmentCheck() throws ErrnoException {
        features(ALL_FEATURES);
        assertEquals(0, rd(FEATURES + 8, 4));
        assertEquals(0, rd(FEATURES + 2, 4), "no alignment check on the virt page");
        assertEquals(0, rd(FEATURES + 1, 1));
        assertEquals(0, rd(FEATURES + 0xFF8, 8));
        wr(FEATURES + 0x10, 4, -1L);
        wr(FEATURES + 3, 2, -1L);
        assertEquals(ALL_FEATURES, rd(FEATURES, 4));
        assertEquals(0, rd(CONFIG, 4));
    }

    @Test
    void b5_guestDriverSequenceEnablesCpuEncodingAndRoutesPastCpu3() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(16);
        f.dev.setAttr(GRP_CTRL, 0, 16, 4);
        f.dev.setAttr(GRP_CTRL, 1, ALL_FEATURES, 4);
        long feats = f.rd(FEATURES, 4);
        if ((feats & HAS_CPU_ENCODE) != 0) {
            f.wr(CONFIG, 4, f.rd(CONFIG, 4) | ENABLE_CPU_ENCODE);
        }
        f.wr(IPMAP, 8, 0x0808_0404_0202_0101L);
        f.enableAll();
        for (int i = 0; i < 4; i++) {
            f.wr(BOUNCE + 8L * i, 8, -1L);
        }
        f.route(200, 12); // raw CPU number
        f.dev.setIrq(200, true);
        assertEquals(java.util.List.of(up(12, 3)), f.lines);
        long pending = f.rd(12, COREISR + 24, 8);
        f.wr(12, COREISR + 24, 8, pending);
        assertEquals(java.util.List.of(up(12, 3), down(12, 3)), f.lines);
    }
}
