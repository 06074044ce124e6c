package dev.panavirt.models.riscv;

import java.util.Arrays;
import java.util.Objects;

/**
 * A snapshot of one vCPU's vector unit as KVM keeps it: ISA and run flags, the VS state, and the saved guest
 * context that ONE_REG reads. {@code registers} is a copy of the 32 x vlenb byte buffer; equality compares
 * contents.
 *
 * @param isaV      V is in the vCPU's ISA
 * @param hasRun    the vCPU has run ({@code ran_atleast_once})
 * @param loaded    the vCPU is loaded
 * @param vs        {@code sstatus.VS}
 * @param vstart    saved vstart
 * @param vl        saved vl
 * @param vtype     saved vtype
 * @param vcsr      saved vcsr
 * @param vlenb     saved vlenb
 * @param registers v0..v31 back to back, little-endian
 */
public record RiscvVectorState(boolean isaV, boolean hasRun, boolean loaded, VectorStatus vs, long vstart, long vl,
        long vtype, long vcsr, long vlenb, byte[] registers) {

    /** Copies the register buffer. */
    public RiscvVectorState {
        registers = registers.clone();
    }

    @Override
    public byte[] registers() {
        return registers.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RiscvVectorState s && isaV == s.isaV && hasRun == s.hasRun && loaded == s.loaded
                && vs == s.vs && vstart == s.vstart && vl == s.vl && vtype == s.vtype && vcsr == s.vcsr
                && vlenb == s.vlenb && Arrays.equals(registers, s.registers);
    }

    @Override
    public int hashCode() {
        return Objects.hash(isaV, hasRun, loaded, vs, vstart, vl, vtype, vcsr, vlenb, Arrays.hashCode(registers));
    }

    @Override
    public String toString() {
        return "RiscvVectorState[V=" + (isaV ? "on" : "off") + ", ran=" + hasRun + ", loaded=" + loaded + ", VS="
                + vs.label() + ", vstart=0x" + Long.toHexString(vstart) + ", vl=0x" + Long.toHexString(vl)
                + ", vtype=0x" + Long.toHexString(vtype) + ", vcsr=0x" + Long.toHexString(vcsr) + ", vlenb=" + vlenb
                + ", registers=" + registers.length + " bytes]";
    }
}
