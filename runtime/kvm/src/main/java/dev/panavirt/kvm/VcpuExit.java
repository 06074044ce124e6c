package dev.panavirt.kvm;

import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_run;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Why {@link Vcpu#run()} returned. Each vCPU keeps one instance of every variant and reuses it, so a
 * run allocates nothing: the values are views of the vCPU's {@code kvm_run} area and are valid until
 * the next {@code run()} on the same vCPU. Copy what you need to keep.
 *
 * {@snippet :
 * switch (vcpu.run()) {
 *     case VcpuExit.Io io when !io.isIn() -> System.out.write(io.data().get(ValueLayout.JAVA_BYTE, 0));
 *     case VcpuExit.Hlt h -> running = false;
 *     case VcpuExit.Unknown u -> throw new IllegalStateException("exit " + u.reason());
 *     default -> { }
 * }
 * }
 */
public sealed interface VcpuExit {

    /** The {@code KVM_EXIT_*} reason, or -1 for {@link Interrupted}. */
    int reason();

    /** {@code KVM_EXIT_IO}: port I/O. For {@code in}, write the value into {@link #data()} before the next run. */
    final class Io implements VcpuExit {
        private final MemorySegment run;
        private final MemorySegment io;
        private final MemorySegment[] single = new MemorySegment[9];
        private long cachedOffset = -1;

        Io(MemorySegment run) {
            this.run = run;
            this.io = kvm_run.io(run);
        }

        @Override
        public int reason() {
            return KvmExits.IO;
        }

        /** Whether the guest reads from the port ({@code KVM_EXIT_IO_IN}). */
        public boolean isIn() {
            return kvm_run.io.direction(io) == KvmExits.IO_IN;
        }

        /** Access width in bytes: 1, 2 or 4. */
        public int size() {
            return Byte.toUnsignedInt(kvm_run.io.size(io));
        }

        /** The port. */
        public int port() {
            return Short.toUnsignedInt(kvm_run.io.port(io));
        }

        /** Number of elements: more than 1 for string I/O ({@code rep outsb} and the like). */
        public int count() {
            return kvm_run.io.count(io);
        }

        /** The {@code size * count} data bytes, inside the {@code kvm_run} mapping. */
        public MemorySegment data() {
            long offset = kvm_run.io.data_offset(io);
            int len = Byte.toUnsignedInt(kvm_run.io.size(io)) * kvm_run.io.count(io);
            if (len <= 8 && offset == cachedOffset && single[len] != null) {
                return single[len];
            }
            MemorySegment s = run.asSlice(offset, len);
            if (len <= 8) {
                if (offset != cachedOffset) {
                    java.util.Arrays.fill(single, null);
                    cachedOffset = offset;
                }
                single[len] = s;
            }
            return s;
        }

        /** The first element as an unsigned value (for {@code out}). */
        public int value() {
            MemorySegment d = data();
            return switch (size()) {
                case 1 -> Byte.toUnsignedInt(d.get(ValueLayout.JAVA_BYTE, 0));
                case 2 -> Short.toUnsignedInt(d.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                default -> d.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
            };
        }
    }

    /** {@code KVM_EXIT_MMIO}: a guest access to unbacked guest-physical memory. */
    final class Mmio implements VcpuExit {
        private final MemorySegment run;
        private final MemorySegment mmio;
        private final MemorySegment[] byLength = new MemorySegment[9];

        Mmio(MemorySegment run) {
            this.run = run;
            this.mmio = kvm_run.mmio(run);
            MemorySegment data = kvm_run.mmio.data(this.mmio);
            for (int len = 0; len <= 8; len++) {
                byLength[len] = data.asSlice(0, len);
            }
        }

        @Override
        public int reason() {
            return KvmExits.MMIO;
        }

        /** The guest-physical address. */
        public long address() {
            return kvm_run.mmio.phys_addr(mmio);
        }

        /** Access width in bytes (1 to 8). */
        public int length() {
            return kvm_run.mmio.len(mmio);
        }

        /** Whether the guest writes. */
        public boolean isWrite() {
            return kvm_run.mmio.is_write(mmio) != 0;
        }

        /** The {@link #length()} data bytes; for reads, fill them before the next run. */
        public MemorySegment data() {
            int len = length();
            return len >= 0 && len <= 8 ? byLength[len] : byLength[8];
        }
    }

    /** {@code KVM_EXIT_HLT}: the guest halted (without an in-kernel local APIC to wait on). */
    final class Hlt implements VcpuExit {
        static final Hlt INSTANCE = new Hlt();

        private Hlt() {
        }

        @Override
        public int reason() {
            return KvmExits.HLT;
        }
    }

    /** {@code KVM_EXIT_SHUTDOWN}: a triple fault or similar; the vCPU cannot continue. */
    final class Shutdown implements VcpuExit {
        static final Shutdown INSTANCE = new Shutdown();

        private Shutdown() {
        }

        @Override
        public int reason() {
            return KvmExits.SHUTDOWN;
        }
    }

    /** {@code KVM_EXIT_DIRTY_RING_FULL}: harvest the dirty ring and reset it before running again. */
    final class DirtyRingFull implements VcpuExit {
        static final DirtyRingFull INSTANCE = new DirtyRingFull();

        private DirtyRingFull() {
        }

        @Override
        public int reason() {
            return KvmExits.DIRTY_RING_FULL;
        }
    }

    /** KVM_RUN returned EINTR: the vCPU was kicked ({@link Vcpu#kick()}) or a signal arrived. */
    final class Interrupted implements VcpuExit {
        static final Interrupted INSTANCE = new Interrupted();

        private Interrupted() {
        }

        @Override
        public int reason() {
            return -1;
        }
    }

    /** {@code KVM_EXIT_FAIL_ENTRY}: the hardware refused to enter the guest. */
    final class FailEntry implements VcpuExit {
        private final MemorySegment failEntry;

        FailEntry(MemorySegment run) {
            this.failEntry = kvm_run.fail_entry(run);
        }

        @Override
        public int reason() {
            return KvmExits.FAIL_ENTRY;
        }

        /** The hardware's reason code. */
        public long hardwareEntryFailureReason() {
            return kvm_run.fail_entry.hardware_entry_failure_reason(failEntry);
        }

        /** The physical CPU the entry failed on. */
        public int cpu() {
            return kvm_run.fail_entry.cpu(failEntry);
        }
    }

    /**
     * An exit that carries up to 16 data words in {@code kvm_run} ({@link InternalError},
     * {@link SystemEvent}): how many are valid, and each one.
     */
    abstract sealed class WithData implements VcpuExit permits InternalError, SystemEvent {
        /** Reads word {@code i} of a {@code kvm_run} section. */
        interface WordReader {
            long word(MemorySegment section, long i);
        }

        private final int reason;
        private final MemorySegment section;
        private final java.util.function.ToIntFunction<MemorySegment> count;
        private final WordReader words;

        WithData(int reason, MemorySegment section, java.util.function.ToIntFunction<MemorySegment> count,
                WordReader words) {
            this.reason = reason;
            this.section = section;
            this.count = count;
            this.words = words;
        }

        @Override
        public final int reason() {
            return reason;
        }

        /** How many {@link #data(int)} words are valid (at most 16). */
        public final int ndata() {
            return Math.min(16, count.applyAsInt(section));
        }

        /** Data word {@code i}, for {@code i} below {@link #ndata()}. */
        public final long data(int i) {
            return words.word(section, java.util.Objects.checkIndex(i, ndata()));
        }
    }

    /** {@code KVM_EXIT_INTERNAL_ERROR}: KVM could not handle something (often instruction emulation). */
    final class InternalError extends WithData {
        InternalError(MemorySegment run) {
            super(KvmExits.INTERNAL_ERROR, kvm_run.internal(run), kvm_run.internal::ndata, kvm_run.internal::data);
        }

        /** {@code KVM_INTERNAL_ERROR_*}: 1 emulation, 2 simultaneous exception, 3 delivery event, ... */
        public int suberror() {
            return kvm_run.internal.suberror(super.section);
        }
    }

    /** {@code KVM_EXIT_SYSTEM_EVENT}: shutdown, reset or crash requested by the guest. */
    final class SystemEvent extends WithData {
        SystemEvent(MemorySegment run) {
            super(KvmExits.SYSTEM_EVENT, kvm_run.system_event(run), kvm_run.system_event::ndata,
                    kvm_run.system_event::data);
        }

        /** {@code KVM_SYSTEM_EVENT_*}: 1 shutdown, 2 reset, 3 crash, ... */
        public int type() {
            return kvm_run.system_event.type(super.section);
        }
    }

    /**
     * {@code KVM_EXIT_MEMORY_FAULT}: the guest touched memory KVM could not map (a guest_memfd page in the
     * wrong shared/private state, or memory the VMM must populate first). {@code KVM_RUN} fails with EFAULT
     * and fills this in; {@link Vcpu#run()} returns it instead of throwing, because the VMM can resolve it
     * (convert the range, populate it) and run again.
     */
    final class MemoryFault implements VcpuExit {
        private final MemorySegment fault;

        MemoryFault(MemorySegment run) {
            this.fault = kvm_run.memory_fault(run);
        }

        @Override
        public int reason() {
            return KvmExits.MEMORY_FAULT;
        }

        /** {@code KVM_MEMORY_EXIT_FLAG_*}; bit 3 ({@code KVM_MEMORY_EXIT_FLAG_PRIVATE}) for a private access. */
        public long flags() {
            return kvm_run.memory_fault.flags(fault);
        }

        /** Whether the access was to private memory ({@code KVM_MEMORY_EXIT_FLAG_PRIVATE}). */
        public boolean isPrivate() {
            return (flags() & kvm_h.KVM_MEMORY_EXIT_FLAG_PRIVATE()) != 0;
        }

        /** The guest-physical address of the faulting range. */
        public long address() {
            return kvm_run.memory_fault.gpa(fault);
        }

        /** The size of the faulting range in bytes. */
        public long size() {
            return kvm_run.memory_fault.size(fault);
        }

        @Override
        public String toString() {
            return "MemoryFault[gpa=0x" + Long.toHexString(address()) + ", size=" + size() + ", flags=0x"
                    + Long.toHexString(flags()) + "]";
        }
    }

    /** Any other exit reason, reported rather than thrown. */
    final class Unknown implements VcpuExit {
        private final MemorySegment run;
        private final MemorySegment hw;

        Unknown(MemorySegment run) {
            this.run = run;
            this.hw = kvm_run.hw(run);
        }

        @Override
        public int reason() {
            return kvm_run.exit_reason(run);
        }

        /** For {@code KVM_EXIT_UNKNOWN}: the hardware exit reason. */
        public long hardwareExitReason() {
            return kvm_run.hw.hardware_exit_reason(hw);
        }
    }
}
