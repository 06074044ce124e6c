package dev.panavirt.models.riscv;

/**
 * The four states of {@code sstatus.VS} (bits 10:9, {@code arch/riscv/include/asm/csr.h} {@code SR_VS_*}) in a
 * vCPU's saved host-level sstatus, which drive the lazy save and restore of the guest's vector registers
 * ({@code arch/riscv/kvm/vcpu_vector.c}).
 */
public enum VectorStatus {
    /** Vector instructions trap; nothing is saved or restored. */
    OFF(RiscvVectorRegisters.SR_VS_OFF),
    /** After reset with V enabled: the buffer holds zeros; restored on load, never saved. */
    INITIAL(RiscvVectorRegisters.SR_VS_INITIAL),
    /** The hardware registers equal the saved buffer; restored on load, not saved on put. */
    CLEAN(RiscvVectorRegisters.SR_VS_CLEAN),
    /** The guest changed vector state since the last restore; saved on put. */
    DIRTY(RiscvVectorRegisters.SR_VS_DIRTY);

    private final long bits;

    VectorStatus(long bits) {
        this.bits = bits;
    }

    /** This state's value in sstatus (already shifted into bits 10:9). */
    public long bits() {
        return bits;
    }

    private static final VectorStatus[] BY_FIELD = {OFF, INITIAL, CLEAN, DIRTY};

    /** The VS state an sstatus value holds. Allocation-free. */
    public static VectorStatus of(long sstatus) {
        return BY_FIELD[(int) ((sstatus & RiscvVectorRegisters.SR_VS) >>> 9)];
    }

    /** The name as the kernel's comments and the session's state line spell it: Off, Initial, Clean, Dirty. */
    public String label() {
        return switch (this) {
            case OFF -> "Off";
            case INITIAL -> "Initial";
            case CLEAN -> "Clean";
            case DIRTY -> "Dirty";
        };
    }
}
