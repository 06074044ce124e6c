package dev.panavirt.models.riscv;

import static dev.panavirt.base.Errno.EFAULT;
import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.ENOENT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The GET/SET rules of KVM_REG_RISCV_VECTOR, each error in order (arch/riscv/kvm/vcpu_vector.c
 * {@code kvm_riscv_vcpu_get/set_reg_vector()}, {@code kvm_riscv_vcpu_vreg_addr()}).
 */
class RiscvVectorOneRegTest extends RiscvVectorFixture {

    private void disableV() throws ErrnoException {
        cpu.setOneReg(V_ISA_ID, le(0));
    }

    // ---- rule 1: V not enabled -> ENOENT for every vector id ----

    @Test
    void c2_1_vNotEnabledIsEnoentForEveryVectorId() throws ErrnoException {
        disableV();
        for (long id : new long[] {VSTART_ID, VL_ID, VTYPE_ID, VCSR_ID, VLENB_ID, DATAP_ID,
            RiscvVectorRegisters.vregId(0, 16), RiscvVectorRegisters.vregId(31, 16), 0x8030_0000_0900_0026L,
            0x8010_0000_0900_0000L}) {
            assertErrno(ENOENT, () -> cpu.getOneReg(id, new byte[64]));
            assertErrno(ENOENT, () -> cpu.setOneReg(id, new byte[64]));
        }
        assertErrno(ENOENT, () -> cpu.setOneReg(VLENB_ID, le(16)));
        assertErrno(ENOENT, () -> cpu.getOneReg(VSTART_ID, null), "ENOENT comes before the pointer");
    }

    // ---- rule 2: SET of vlenb ----

    @Test
    void c2_2_vlenbReadsTheConfiguredValue() throws ErrnoException {
        assertEquals(16, get(VLENB_ID));
        cpu = new RiscvVectorUnit(RiscvVectorUnit.Config.vlenb(64));
        assertEquals(64, get(VLENB_ID));
    }

    @Test
    void c2_2_vlenbSetOfTheSameValueSucceedsWithoutChange() throws ErrnoException {
        set(VLENB_ID, 16);
        assertEquals(16, get(VLENB_ID));
    }

    @Test
    void c2_2_vlenbSetOfAnotherValueIsEinval() throws ErrnoException {
        assertErrno(EINVAL, () -> set(VLENB_ID, 32));
        assertErrno(EINVAL, () -> set(VLENB_ID, 0));
        assertErrno(EINVAL, () -> set(VLENB_ID, 16L | 1L << 32));
        assertEquals(16, get(VLENB_ID));
    }

    @Test
    void c2_2_vlenbSetWithWrongSizeIsEinvalBeforeTheCopy() {
        assertErrno(EINVAL, () -> cpu.setOneReg(0x8020_0000_0900_0004L, new byte[4]));
        assertErrno(EINVAL, () -> cpu.setOneReg(0x8020_0000_0900_0004L, null));
        assertErrno(EINVAL, () -> cpu.setOneReg(0x8040_0000_0900_0004L, new byte[16]));
    }

    @Test
    void c2_2_vlenbSetCopyFaultIsEfaultBeforeTheValueCheck() {
        assertErrno(EFAULT, () -> cpu.setOneReg(VLENB_ID, new byte[7]));
        assertErrno(EFAULT, () -> cpu.setOneReg(VLENB_ID, null));
    }

    // ---- rule 3: the CSR block ----

    @Test
    void c2_3_csrsReadAndWriteTheSavedContext() throws ErrnoException {
        set(VSTART_ID, 0x11);
        set(VL_ID, 0x22);
        set(VTYPE_ID, 0x8000_0000_0000_0000L);
        set(VCSR_ID, -1L);
        assertEquals(0x11, get(VSTART_ID));
        assertEquals(0x22, get(VL_ID));
        assertEquals(0x8000_0000_0000_0000L, get(VTYPE_ID));
        assertEquals(-1L, get(VCSR_ID));
        RiscvVectorState s = cpu.snapshot();
        assertEquals(0x11, s.vstart());
        assertEquals(-1L, s.vcsr());
    }

    @Test
    void c2_3_csrValuesAreNotValidated() throws ErrnoException {
        set(VTYPE_ID, 0xDEAD_BEEF_0BAD_F00DL); // vill and reserved bits accepted
        set(VL_ID, Long.MAX_VALUE);
        assertEquals(0xDEAD_BEEF_0BAD_F00DL, get(VTYPE_ID));
        assertEquals(Long.MAX_VALUE, get(VL_ID));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 4, 5, 6})
    void c2_3_csrSizeOtherThanXlenIsEinval(int code) {
        for (int n = 0; n <= 5; n++) {
            long id = 0x8000_0000_0900_0000L | (long) code << 52 | n;
            assertErrno(EINVAL, () -> cpu.getOneReg(id, new byte[64]));
            assertErrno(EINVAL, () -> cpu.setOneReg(id, new byte[64]));
        }
    }

    @Test
    void c2_3_datapIsEnoent() {
        assertErrno(ENOENT, () -> cpu.getOneReg(DATAP_ID, new byte[8]));
        assertErrno(ENOENT, () -> cpu.setOneReg(DATAP_ID, new byte[8]));
        assertErrno(ENOENT, () -> cpu.getOneReg(DATAP_ID, null), "before the pointer");
    }

    // ---- rule 4: v0..v31 ----

    @Test
    void c2_4_vectorRegistersRoundTripAsLittleEndianImages() throws ErrnoException {
        for (int n = 0; n < 32; n++) {
            setV(n, pattern(16, n * 16));
        }
        for (int n = 0; n < 32; n++) {
            assertArrayEquals(pattern(16, n * 16), getV(n), "v" + n);
        }
        byte[] all = cpu.snapshot().registers();
        assertEquals(32 * 16, all.length);
        for (int i = 0; i < all.length; i++) {
            assertEquals((byte) i, all[i], "register n at offset n*vlenb");
        }
    }

    @Test
    void c2_4_vectorRegisterSizeMustEqualVlenb() {
        for (int code : new int[] {0, 3, 5, 6, 15}) {
            long id = 0x8000_0000_0900_0006L | (long) code << 52;
            assertErrno(EINVAL, () -> cpu.getOneReg(id, new byte[1 << code]));
            assertErrno(EINVAL, () -> cpu.setOneReg(id, new byte[1 << code]));
        }
    }

    @Test
    void c2_4_vectorRegisterSizeFollowsTheConfiguredVlenb() throws ErrnoException {
        cpu = new RiscvVectorUnit(RiscvVectorUnit.Config.vlenb(32));
        setV(5, pattern(32, 1));
        assertArrayEquals(pattern(32, 1), getV(5));
        assertErrno(EINVAL, () -> cpu.getOneReg(0x8040_0000_0900_000BL, new byte[16]));
        assertEquals(0x8050_0000_0900_000BL, RiscvVectorRegisters.vregId(5, 32));
    }

    // ---- rule 5: numbers above 37, and subtype / high bits ----

    @Test
    void c2_5_numbersAbove37AreEnoent() {
        for (long n : new long[] {38, 39, 0xFF, 0xFF_FFFFL}) {
            long id = 0x8040_0000_0900_0000L | n;
            assertErrno(ENOENT, () -> cpu.getOneReg(id, new byte[16]));
            assertErrno(ENOENT, () -> cpu.setOneReg(id, new byte[16]));
        }
    }

    @Test
    void c2_5_anySubtypeOrHighBitMakesTheNumberTooLarge() {
        assertErrno(ENOENT, () -> cpu.getOneReg(VSTART_ID | 0x0001_0000L, new byte[8]));
        assertErrno(ENOENT, () -> cpu.getOneReg(0x8040_0000_0901_0006L, new byte[16]));
        assertErrno(ENOENT, () -> cpu.setOneReg(0x8030_0008_0900_0004L, le(16)), "even for vlenb");
    }

    @Test
    void c2_5_theArchFieldIsNotChecked() throws ErrnoException {
        set(VL_ID, 9);
        assertEquals(9, get(0x0030_0000_0900_0001L), "the riscv dispatcher looks at the type field only");
    }

    // ---- rule 6: user pointer faults ----

    @Test
    void c2_6_shortOrNullBufferIsEfaultAfterTheOtherChecks() {
        assertErrno(EFAULT, () -> cpu.getOneReg(VSTART_ID, new byte[7]));
        assertErrno(EFAULT, () -> cpu.setOneReg(VSTART_ID, null));
        assertErrno(EFAULT, () -> cpu.getOneReg(RiscvVectorRegisters.vregId(3, 16), new byte[15]));
        assertErrno(EFAULT, () -> cpu.setOneReg(RiscvVectorRegisters.vregId(3, 16), new byte[0]));
        assertErrno(EINVAL, () -> cpu.getOneReg(0x8020_0000_0900_0000L, new byte[0]), "size first");
    }

    @Test
    void c2_6_aFaultingSetOfAVectorRegisterLandsTheBytesBeforeTheFaultAndZeroesTheRest() throws ErrnoException {
        // kvm_riscv_vcpu_set_reg_vector copies from the user straight into the context; copy_from_user zero-fills
        // what it could not copy (seen on Linux 6.12 in the riscv64 lane, lane/sessions/riscv-vector/short-write.pvs)
        set(VCSR_ID, 0x0505_0505_0505_0505L);
        assertErrno(EFAULT, () -> cpu.setOneReg(VCSR_ID, new byte[] {3, 2, 1}));
        assertEquals(0x01_0203L, get(VCSR_ID));
        long v3 = RiscvVectorRegisters.vregId(3, 16);
        byte[] full = new byte[16];
        java.util.Arrays.fill(full, (byte) 0x77);
        cpu.setOneReg(v3, full);
        assertErrno(EFAULT, () -> cpu.setOneReg(v3, new byte[] {(byte) 0xa1}));
        byte[] got = new byte[16];
        cpu.getOneReg(v3, got);
        byte[] want = new byte[16];
        want[0] = (byte) 0xa1;
        assertArrayEquals(want, got);
    }

    @Test
    void c2_6_aFaultingSetOfVlenbChangesNothing() throws ErrnoException {
        assertErrno(EFAULT, () -> cpu.setOneReg(VLENB_ID, new byte[3]));
        assertEquals(16, get(VLENB_ID), "vlenb goes through a local (kvm_riscv_vcpu_set_reg_vector)");
    }

    @Test
    void c2_longerBuffersAreFineAndOnlySizeBytesAreUsed() throws ErrnoException {
        byte[] big = new byte[32];
        java.util.Arrays.fill(big, (byte) 0x7F);
        cpu.getOneReg(VLENB_ID, big);
        assertEquals(16, big[0]);
        assertEquals(0, big[7]);
        assertEquals(0x7F, big[8]);
    }

    // ---- no EBUSY for vector registers; unknown types ----

    @Test
    void c2_vectorRegistersHaveNoEbusy() throws ErrnoException {
        cpu.load();
        set(VSTART_ID, 3);
        setV(0, pattern(16, 9));
        cpu.put();
        set(VL_ID, 4);
        assertEquals(3, get(VSTART_ID));
    }

    @Test
    void c2_unknownRegisterTypeIsEnoent() {
        assertErrno(ENOENT, () -> cpu.getOneReg(0x8030_0000_0B00_0000L, new byte[8]));
        assertErrno(ENOENT, () -> cpu.setOneReg(0x8030_0000_FF00_0000L, new byte[8]));
        assertErrno(ENOENT, () -> cpu.getOneReg(0x8030_0000_0000_0000L, new byte[8]));
    }
}
