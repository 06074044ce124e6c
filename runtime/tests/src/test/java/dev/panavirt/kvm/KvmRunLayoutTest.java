package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@code kvm_run} has no arch-neutral binding ({@code debug.arch} and {@code s.regs} differ per arch), so the
 * arch-neutral {@link Vcpu} and {@link VcpuExit} read it through the x86-64 layout. That is right on every arch
 * only while the members they read lie at the same offsets with the same layouts in all four: this checks it.
 */
class KvmRunLayoutTest {

    /** The members Vcpu and VcpuExit read, by name. */
    private static final List<String> READ = List.of("immediate_exit", "exit_reason", "hw", "fail_entry", "io",
            "mmio", "internal", "system_event", "memory_fault");

    @Test
    void theMembersReadLieAlikeOnEveryArch() {
        List<Function<String, String>> arches = List.of(
                m -> describe(dev.panavirt.bindings.kvm.x86_64.kvm_run.layout(), m),
                m -> describe(dev.panavirt.bindings.kvm.arm64.kvm_run.layout(), m),
                m -> describe(dev.panavirt.bindings.kvm.riscv64.kvm_run.layout(), m),
                m -> describe(dev.panavirt.bindings.kvm.loongarch64.kvm_run.layout(), m));
        for (String member : READ) {
            String x86 = arches.getFirst().apply(member);
            for (Function<String, String> arch : arches) {
                assertEquals(x86, arch.apply(member), "kvm_run." + member);
            }
        }
    }

    /** Offset and the member's whole layout (nested members included), as text; the exit union is anonymous. */
    private static String describe(MemoryLayout run, String member) {
        String found = find((GroupLayout) run, member, 0);
        if (found == null) {
            throw new AssertionError("kvm_run has no member " + member + ": " + run);
        }
        return found;
    }

    private static String find(GroupLayout group, String member, long base) {
        long offset = 0;
        for (MemoryLayout m : group.memberLayouts()) {
            long at = base + (group instanceof StructLayout ? offset : 0);
            if (m.name().filter(member::equals).isPresent()) {
                return at + " " + m;
            }
            if (m.name().isEmpty() && m instanceof GroupLayout inner) {
                String found = find(inner, member, at);
                if (found != null) {
                    return found;
                }
            }
            offset += m.byteSize();
        }
        return null;
    }
}
