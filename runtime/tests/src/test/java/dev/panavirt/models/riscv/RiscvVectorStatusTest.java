package dev.panavirt.models.riscv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * The lazy save/restore state machine on sstatus.VS (arch/riscv/kvm/vcpu_vector.c
 * {@code kvm_riscv_vcpu_vector_reset()}, {@code kvm_riscv_vcpu_guest_vector_save/restore()}; vcpu.c
 * {@code kvm_arch_vcpu_load/put()}).
 */
class RiscvVectorStatusTest extends RiscvVectorFixture {

    @Test
    void c3_vsFieldBits() {
        assertEquals(0x600, RiscvVectorRegisters.SR_VS);
        assertEquals(0x000, VectorStatus.OFF.bits());
        assertEquals(0x200, VectorStatus.INITIAL.bits());
        assertEquals(0x400, VectorStatus.CLEAN.bits());
        assertEquals(0x600, VectorStatus.DIRTY.bits());
        assertEquals(0x6000, RiscvVectorRegisters.SR_FS);
        assertEquals(1L << 63, RiscvVectorRegisters.SR_SD);
        assertEquals(VectorStatus.CLEAN, VectorStatus.of(0xFFFF_FFFF_FFFF_FDFFL));
        assertEquals("Dirty", VectorStatus.DIRTY.label());
    }

    // ---- reset ----

    @Test
    void c3_resetWithVEnabledIsInitialWithAZeroedBuffer() throws ErrnoException {
        assertEquals(VectorStatus.INITIAL, cpu.vectorStatus());
        assertEquals(0x200, cpu.sstatus() & RiscvVectorRegisters.SR_VS);
        setV(7, pattern(16, 1));
        set(VL_ID, 8);
        cpu.reset();
        assertEquals(VectorStatus.INITIAL, cpu.vectorStatus());
        assertArrayEquals(new byte[16], getV(7));
        assertEquals(8, get(VL_ID), "vstart/vl/vtype/vcsr are not touched");
        assertEquals(16, get(VLENB_ID), "vlenb re-read from the host");
    }

    @Test
    void c3_resetWithVDisabledIsOff() throws ErrnoException {
        set(V_ISA_ID, 0);
        cpu.reset();
        assertEquals(VectorStatus.OFF, cpu.vectorStatus());
    }

    @Test
    void c3_resetOfALoadedVcpuPutsResetsAndLoadsAgain() throws ErrnoException {
        cpu.load();
        cpu.guestWriteVreg(2, pattern(16, 40));
        cpu.reset();
        assertTrue(cpu.isLoaded());
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus(), "reset to Initial, then loaded: Clean");
        byte[] hw = new byte[16];
        cpu.hardwareVreg(2, hw);
        assertArrayEquals(new byte[16], hw, "the zeroed buffer was restored");
        assertEquals(1, cpu.guestSaves(), "the Dirty state was saved by the put first");
    }

    // ---- load ----

    @Test
    void c3_loadRestoresANonOffContextAndMakesItClean() throws ErrnoException {
        setV(1, pattern(16, 100));
        set(VTYPE_ID, 0xD8);
        cpu.load();
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        byte[] hw = new byte[16];
        assertTrue(cpu.guestReadVreg(1, hw));
        assertArrayEquals(pattern(16, 100), hw);
        assertEquals(0xD8, cpu.hardwareCsr(RiscvVectorRegisters.VTYPE));
        assertEquals(1, cpu.guestRestores());
    }

    @Test
    void c3_loadWithVsOffDoesNothing() throws ErrnoException {
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(16, true, false)); // V off from the start
        cpu.load();
        assertEquals(VectorStatus.OFF, cpu.vectorStatus());
        assertEquals(0, cpu.guestRestores());
    }

    @Test
    void c3_loadWithVsSetButVOutOfIsaCleansWithoutRestoring() throws ErrnoException {
        set(V_ISA_ID, 0); // VS stays Initial: an ISA change does not reset vector state
        cpu.hostWriteVreg(0, pattern(16, 7));
        cpu.load();
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        assertEquals(0, cpu.guestRestores());
        byte[] hw = new byte[16];
        cpu.hardwareVreg(0, hw);
        assertArrayEquals(pattern(16, 7), hw, "the host's value is still in the unit");
    }

    @Test
    void c3_loadSavesAndPutRestoresTheHostState() throws ErrnoException {
        cpu.hostWriteVreg(4, pattern(16, 50));
        setV(4, pattern(16, 90));
        cpu.load();
        byte[] hw = new byte[16];
        cpu.hardwareVreg(4, hw);
        assertArrayEquals(pattern(16, 90), hw, "the guest's value while loaded");
        cpu.put();
        cpu.hardwareVreg(4, hw);
        assertArrayEquals(pattern(16, 50), hw, "the host's value after put");
    }

    @Test
    void c3_hostWithoutVectorSavesNoHostState() {
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(16, false, true));
        cpu.hostWriteVreg(0, pattern(16, 3));
        cpu.load();
        cpu.put();
        byte[] hw = new byte[16];
        cpu.hardwareVreg(0, hw);
        assertArrayEquals(pattern(16, 3), hw);
        assertEquals(VectorStatus.OFF, cpu.vectorStatus());
    }

    // ---- guest execution ----

    @Test
    void c3_guestVectorInstructionMakesItDirty() {
        cpu.load();
        assertTrue(cpu.guestVectorInstruction());
        assertEquals(VectorStatus.DIRTY, cpu.vectorStatus());
    }

    @Test
    void c3_guestVectorInstructionTrapsWhenOff() throws ErrnoException {
        set(V_ISA_ID, 0);
        cpu.reset();
        cpu.load();
        assertFalse(cpu.guestVectorInstruction());
        assertFalse(cpu.guestWriteVreg(0, pattern(16, 1)));
        assertFalse(cpu.guestReadVreg(0, new byte[16]));
        assertEquals(VectorStatus.OFF, cpu.vectorStatus());
    }

    @Test
    void c3_guestRunsOnlyWhileLoaded() {
        assertThrows(IllegalStateException.class, () -> cpu.guestVectorInstruction());
        assertThrows(IllegalStateException.class, () -> cpu.guestReadVreg(0, new byte[16]));
        cpu.load();
        assertThrows(IllegalStateException.class, () -> cpu.hostWriteVreg(0, new byte[16]));
    }

    @Test
    void c3_guestReadDoesNotDirty() {
        cpu.load();
        assertTrue(cpu.guestReadVreg(0, new byte[16]));
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
    }

    // ---- put ----

    @Test
    void c3_putOfDirtySavesAndMakesClean() throws ErrnoException {
        cpu.load();
        cpu.guestWriteVreg(9, pattern(16, 33));
        cpu.guestWriteCsrs(1, 2, 3, 4);
        assertArrayEquals(new byte[16], getV(9), "ONE_REG reads the buffer, not the live registers");
        cpu.put();
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        assertArrayEquals(pattern(16, 33), getV(9), "a GET after put returns the saved values");
        assertEquals(1, get(VSTART_ID));
        assertEquals(2, get(VL_ID));
        assertEquals(3, get(VTYPE_ID));
        assertEquals(4, get(VCSR_ID));
        assertEquals(16, get(VLENB_ID));
        assertEquals(1, cpu.guestSaves());
    }

    @Test
    void c3_putOfCleanOrInitialDoesNotSave() throws ErrnoException {
        cpu.load();
        cpu.put();
        assertEquals(0, cpu.guestSaves());
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        cpu.load();
        cpu.put();
        assertEquals(0, cpu.guestSaves());
    }

    @Test
    void c3_putOfDirtyWithVOutOfIsaCleansWithoutSaving() throws ErrnoException {
        set(V_ISA_ID, 0);
        cpu.load(); // Initial -> Clean (no restore)
        cpu.guestWriteVreg(0, pattern(16, 5));
        cpu.put();
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        assertEquals(0, cpu.guestSaves());
        assertArrayEquals(new byte[16], java.util.Arrays.copyOf(cpu.snapshot().registers(), 16));
    }

    // ---- consequences ----

    @Test
    void c3_setBetweenRunsIsPickedUpByTheNextLoad() throws ErrnoException {
        cpu.load();
        cpu.guestWriteVreg(3, pattern(16, 1));
        cpu.put();
        setV(3, pattern(16, 200));
        set(VL_ID, 77);
        cpu.load();
        byte[] hw = new byte[16];
        cpu.guestReadVreg(3, hw);
        assertArrayEquals(pattern(16, 200), hw);
        assertEquals(77, cpu.hardwareCsr(RiscvVectorRegisters.VL));
    }

    @Test
    void c3_setWhileLoadedIsNotSeenByTheGuestAndIsOverwrittenIfDirty() throws ErrnoException {
        cpu.load();
        setV(3, pattern(16, 200)); // the buffer, not the live unit
        byte[] hw = new byte[16];
        cpu.guestReadVreg(3, hw);
        assertArrayEquals(new byte[16], hw);
        cpu.guestVectorInstruction();
        cpu.put(); // Dirty: the live zeros are saved over the SET
        assertArrayEquals(new byte[16], getV(3));
    }

    @Test
    void c3_setWhileLoadedSurvivesAPutOfCleanState() throws ErrnoException {
        cpu.load();
        setV(3, pattern(16, 200));
        cpu.put();
        assertArrayEquals(pattern(16, 200), getV(3));
    }

    @Test
    void c3_redundantLoadAndPutDoNothing() {
        cpu.put();
        assertFalse(cpu.isLoaded());
        assertFalse(cpu.hasRun(), "a put without a load is not a run");
        cpu.load();
        cpu.guestVectorInstruction();
        cpu.load();
        assertEquals(VectorStatus.DIRTY, cpu.vectorStatus());
        assertEquals(1, cpu.guestRestores());
    }

    @Test
    void c3_fullCycleOffInitialCleanDirtyClean() throws ErrnoException {
        cpu = new RiscvVectorUnit(new RiscvVectorUnit.Config(32, true, true));
        set(V_ISA_ID, 0);
        cpu.reset();
        assertEquals(VectorStatus.OFF, cpu.vectorStatus());
        set(V_ISA_ID, 1);
        cpu.reset();
        assertEquals(VectorStatus.INITIAL, cpu.vectorStatus());
        cpu.load();
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        cpu.guestWriteVreg(31, pattern(32, 0x40));
        assertEquals(VectorStatus.DIRTY, cpu.vectorStatus());
        cpu.put();
        assertEquals(VectorStatus.CLEAN, cpu.vectorStatus());
        assertArrayEquals(pattern(32, 0x40), getV(31));
    }
}
