package dev.panavirt.machine;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_segment;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.X86Vcpu;
import java.lang.foreign.MemorySegment;

/** Words for fatal exits: where the vCPU stopped and the instruction bytes there. */
public final class VcpuReport {
    private VcpuReport() {}

    /**
     * " at rip 0x…, instruction bytes: …" for {@code vcpu} (CS base added, so real mode reads the right
     * bytes); never throws.
     */
    public static String where(Vcpu vcpu, GuestMemory memory) {
        try {
            MemorySegment r = X86Vcpu.of(vcpu).getRegs();
            long rip = kvm_regs.rip(r);
            long at = kvm_segment.base(kvm_sregs.cs(X86Vcpu.of(vcpu).getSregs())) + rip;
            StringBuilder sb = new StringBuilder(" at rip 0x").append(Long.toHexString(rip));
            if (memory.isMapped(at, 16)) {
                sb.append(", instruction bytes:");
                for (byte b : memory.read(at, 16)) {
                    sb.append(String.format(" %02x", b));
                }
            }
            return sb.toString();
        } catch (ErrnoException | RuntimeException e) {
            return " (registers unavailable: " + e.getMessage() + ")";
        }
    }
}
