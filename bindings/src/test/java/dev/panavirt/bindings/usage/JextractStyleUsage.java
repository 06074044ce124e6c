package dev.panavirt.bindings.usage;

import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid2;
import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid_entry2;
import dev.panavirt.bindings.kvm.x86_64.kvm_fpu;
import dev.panavirt.bindings.kvm.x86_64.kvm_msr_entry;
import dev.panavirt.bindings.kvm.x86_64.kvm_msrs;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_run;
import dev.panavirt.bindings.kvm.x86_64.kvm_xcr;
import dev.panavirt.bindings.kvm.x86_64.kvm_xcrs;
import dev.panavirt.bindings.vfio.vfio_h;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;

import static dev.panavirt.bindings.kvm.x86_64.kvm_h.*;

/**
 * Code written the way a jextract user writes it, against every shape jextract generates for these
 * headers: it is ordinary test source, so the build fails as soon as one of the shapes disappears or
 * changes its signature. {@code JextractStyleUsageTest} runs it and checks what it read back.
 *
 * <p>Nothing here uses a panavirt extension (see native-headers/README.md), except where a comment
 * says so.
 */
public final class JextractStyleUsage {

    private JextractStyleUsage() {
    }

    /** What the calls below read back. */
    public record Seen(long rip, long ripAgain, long regsInArray, byte fpr12, long[] fprDims, int xcr1,
                       int cpuidFunction, int msrIndex, int msrCount, long regsSize, long cpuidSize,
                       String pciApi, long u64Read, boolean cleanupRan, long getRegs, int exitReason) {
    }

    public static Seen run() {
        boolean[] cleaned = {false};
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_regs: allocate, scalar setter and getter, $offset/$layout, sizeof.
            MemorySegment regs = kvm_regs.allocate(arena);
            kvm_regs.rip(regs, 0xfff0L);
            long rip = kvm_regs.rip(regs);
            long ripOffset = kvm_regs.rip$offset();
            ValueLayout.OfLong ripLayout = kvm_regs.rip$layout();
            GroupLayout regsLayout = kvm_regs.layout();

            // reinterpret: a bare address (as a native call or a pointer field hands it over) seen as one
            // struct, and as an array of structs, with and without a cleanup action.
            MemorySegment bare = MemorySegment.ofAddress(regs.address());
            MemorySegment viewed = kvm_regs.reinterpret(bare, arena, null);
            long ripAgain = viewed.get(ripLayout, ripOffset);
            MemorySegment arr = kvm_regs.allocateArray(2, arena);
            kvm_regs.rax(kvm_regs.asSlice(arr, 1), 42L);
            MemorySegment both = kvm_regs.reinterpret(MemorySegment.ofAddress(arr.address()), 2, arena, null);
            long regsInArray = kvm_regs.rax(kvm_regs.asSlice(both, 1));
            try (Arena scoped = Arena.ofConfined()) {
                Consumer<MemorySegment> cleanup = s -> cleaned[0] = true;
                kvm_msr_entry.reinterpret(bare, scoped, cleanup);
            }

            // Multi-dimensional array: __u8 fpr[8][16], one index per dimension.
            MemorySegment fpu = kvm_fpu.allocate(arena);
            kvm_fpu.fpr(fpu, 1, 2, (byte) 0x5a);
            byte fpr12 = kvm_fpu.fpr(fpu, 1, 2);
            long[] fprDims = kvm_fpu.fpr$dimensions();
            SequenceLayout fprLayout = kvm_fpu.fpr$layout();
            MemorySegment xmm = kvm_fpu.xmm(fpu);
            kvm_fpu.xmm(fpu, xmm);

            // Array of structs: struct kvm_xcr xcrs[16], indexed getter and setter.
            MemorySegment xcrs = kvm_xcrs.allocate(arena);
            MemorySegment xcr = kvm_xcr.allocate(arena);
            kvm_xcr.xcr(xcr, 7);
            kvm_xcrs.xcrs(xcrs, 1, xcr);
            int xcr1 = kvm_xcr.xcr(kvm_xcrs.xcrs(xcrs, 1));

            // Flexible array members: struct kvm_msrs { ...; struct kvm_msr_entry entries[]; }. jextract's
            // getter and setter of the member; the room for the entries is the caller's.
            MemorySegment msrs = arena.allocate(kvm_msrs.sizeof() + 2 * kvm_msr_entry.sizeof(),
                    kvm_msrs.layout().byteAlignment());
            kvm_msrs.nmsrs(msrs, 2);
            MemorySegment entries = kvm_msr_entry.allocateArray(2, arena);
            kvm_msr_entry.index(kvm_msr_entry.asSlice(entries, 1), 0xc0000080);
            kvm_msrs.entries(msrs, entries);
            MemorySegment entriesField = kvm_msrs.entries(msrs);
            SequenceLayout entriesLayout = kvm_msrs.entries$layout();
            int msrIndex = msrs.get(C_INT, kvm_msrs.entries$offset() + kvm_msr_entry.sizeof() + kvm_msr_entry.index$offset());
            int msrCount = kvm_msrs.nmsrs(msrs);
            // kvm_cpuid2.entries(seg, i, entry): the indexed setter of a flexible array of structs (a panavirt
            // extension, like the class-level sizeof(count) and allocate(count, allocator) used here).
            MemorySegment cpuid = kvm_cpuid2.allocate(4, arena);
            MemorySegment entry = kvm_cpuid_entry2.allocate(arena);
            kvm_cpuid_entry2.function(entry, 0x8000_0001);
            kvm_cpuid2.entries(cpuid, 3, entry);
            int cpuidFunction = kvm_cpuid_entry2.function(kvm_cpuid2.entries(cpuid, 3));
            long cpuidSize = kvm_cpuid2.sizeof(4);

            // Typedef layouts of the header class, used wherever a layout is wanted.
            ValueLayout.OfInt u32 = __u32;
            ValueLayout.OfLong le64 = __le64;
            ValueLayout.OfByte s8 = __s8;
            ValueLayout.OfShort u16 = __u16;
            AddressLayout caddr = __kernel_caddr_t;
            MemorySegment word = arena.allocate(__u64);
            word.set(__u64, 0, 0x1122334455667788L);
            long u64Read = word.get(le64, 0);

            // Nested named record of an anonymous type, and constants.
            MemorySegment run = kvm_run.allocate(arena);
            kvm_run.exit_reason(run, KVM_EXIT_IO());
            kvm_run.io.port(kvm_run.io(run), (short) 0x3f8);
            int exitReason = kvm_run.exit_reason(run);

            // A string macro: a NUL-terminated segment, ready to pass to C or read back.
            MemorySegment api = vfio_h.VFIO_DEVICE_API_PCI_STRING();
            String pciApi = api.getString(0);

            long unusedLayouts = regsLayout.byteSize() + fprLayout.byteSize() + entriesLayout.byteSize()
                    + entriesField.byteSize() + u32.byteSize() + s8.byteSize() + u16.byteSize() + caddr.byteSize();
            if (unusedLayouts < 0) throw new AssertionError();
            return new Seen(rip, ripAgain, regsInArray, fpr12, fprDims, xcr1, cpuidFunction, msrIndex, msrCount,
                    kvm_regs.sizeof(), cpuidSize, pciApi, u64Read, cleaned[0], KVM_GET_REGS(), exitReason);
        }
    }
}
