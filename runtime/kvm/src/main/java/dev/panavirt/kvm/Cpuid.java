package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid2;
import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid_entry2;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A list of x86 CPUID leaves as KVM reports and accepts them ({@code struct kvm_cpuid2}).
 *
 * @param entries the leaves, in the kernel's order
 */
public record Cpuid(List<Entry> entries) {

    /**
     * One CPUID leaf: {@code function} (EAX input), {@code index} (ECX input), {@code flags}
     * ({@code KVM_CPUID_FLAG_*}) and the four output registers.
     */
    public record Entry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {}

    /**
     * Copies {@code entries}, so the list is immutable.
     *
     * @throws NullPointerException when {@code entries} or one of its elements is null
     */
    public Cpuid {
        entries = List.copyOf(entries);
    }

    /** The leaf for {@code function}/{@code index}, if present. */
    public Optional<Entry> find(int function, int index) {
        return entries.stream().filter(e -> e.function == function && e.index == index).findFirst();
    }

    static Cpuid fromKvmCpuid2(MemorySegment c) {
        int n = kvm_cpuid2.nent(c);
        List<Entry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MemorySegment e = kvm_cpuid2.entries(c, i);
            out.add(new Entry(kvm_cpuid_entry2.function(e), kvm_cpuid_entry2.index(e), kvm_cpuid_entry2.flags(e),
                    kvm_cpuid_entry2.eax(e), kvm_cpuid_entry2.ebx(e), kvm_cpuid_entry2.ecx(e),
                    kvm_cpuid_entry2.edx(e)));
        }
        return new Cpuid(out);
    }

    /** Writes this list into a new {@code struct kvm_cpuid2} from {@code allocator}. */
    MemorySegment toKvmCpuid2(SegmentAllocator allocator) {
        MemorySegment c = kvm_cpuid2.allocate(entries.size(), allocator);
        kvm_cpuid2.nent(c, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            Entry en = entries.get(i);
            MemorySegment e = kvm_cpuid2.entries(c, i);
            kvm_cpuid_entry2.function(e, en.function);
            kvm_cpuid_entry2.index(e, en.index);
            kvm_cpuid_entry2.flags(e, en.flags);
            kvm_cpuid_entry2.eax(e, en.eax);
            kvm_cpuid_entry2.ebx(e, en.ebx);
            kvm_cpuid_entry2.ecx(e, en.ecx);
            kvm_cpuid_entry2.edx(e, en.edx);
        }
        return c;
    }
}
