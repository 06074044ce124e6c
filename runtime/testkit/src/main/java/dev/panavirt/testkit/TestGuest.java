package dev.panavirt.testkit;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import dev.panavirt.kvm.Vm;
import dev.panavirt.kvm.X86Kvm;
import dev.panavirt.kvm.X86Vcpu;
import dev.panavirt.kvm.X86Vm;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.machine.Ucall;
import dev.panavirt.machine.VcpuReport;
import dev.panavirt.machine.X86Boot;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.ExitDispatcher;
import dev.panavirt.vmm.VcpuRunner;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * A small VM for tests, in the spirit of the kernel selftests' kvm_util: one call builds a VM with RAM,
 * loads a guest image, and starts its vCPUs in real mode or 64-bit long mode; {@link #next} runs a vCPU
 * until the guest syncs, finishes, or halts, dispatching port and MMIO exits to {@link #pio()} and
 * {@link #mmio()} and turning guest assertion failures ({@link Ucall}) into {@link AssertionError}s.
 *
 * {@snippet :
 * GuestImage image = new GuestCompiler().compile("""
 *     #include "panavirt_guest.h"
 *     int main(void) { GUEST_ASSERT(1 + 1 == 2); return 42; }
 *     """, TestGuest.IMAGE_BASE);
 * try (TestGuest g = TestGuest.longMode(image)) {
 *     assertEquals(42, g.next(0, Duration.ofSeconds(10)).value());
 * }
 * }
 */
public final class TestGuest implements AutoCloseable {
    /** Default guest RAM: 32 MiB at guest-physical 0. */
    public static final long DEFAULT_RAM = 32L << 20;
    /** Where long-mode images are usually linked. */
    public static final long IMAGE_BASE = 0x100000;

    /** Why {@link #next} returned. */
    public enum StopKind { SYNC, DONE, HALT, INTERRUPTED, DIRTY_RING_FULL, SYSTEM_EVENT }

    /** What {@link #next} stopped on: a ucall SYNC/DONE with its value, a HLT, or an interruption. */
    public record Stop(StopKind kind, long value) {}

    private final Kvm kvm;
    private final Vm vm;
    private final List<Vcpu> vcpus;
    private final Bus pio = new Bus("pio");
    private final Bus mmio = new Bus("mmio");
    /** One runner per vCPU, each with its own dispatcher (dispatchers own scratch windows) and exit policy. */
    private final VcpuRunner[] runners;
    private final GuestExits[] policies;
    private final List<String> prints = Collections.synchronizedList(new ArrayList<>());
    private volatile Consumer<String> printSink = s -> { };

    private TestGuest(Kvm kvm, Vm vm, List<Vcpu> vcpus) {
        this.kvm = kvm;
        this.vm = vm;
        this.vcpus = vcpus;
        this.runners = new VcpuRunner[vcpus.size()];
        this.policies = new GuestExits[vcpus.size()];
        for (int i = 0; i < runners.length; i++) {
            policies[i] = new GuestExits(i);
            runners[i] = new VcpuRunner(vcpus.get(i), new ExitDispatcher(pio, mmio), policies[i]);
        }
    }

    /** Options for {@link #create}. */
    public record Options(long ramSize, int vcpus, boolean irqchip, int dirtyRingBytes, int memoryFlags,
            boolean sharedMemory) {
        /** 32 MiB, one vCPU, no in-kernel irqchip, no dirty tracking. */
        public static Options defaults() {
            return new Options(DEFAULT_RAM, 1, false, 0, 0, false);
        }

        /** These options with {@code bytes} of RAM. */
        public Options withRam(long bytes) {
            return new Options(bytes, vcpus, irqchip, dirtyRingBytes, memoryFlags, sharedMemory);
        }

        /** These options with {@code n} vCPUs. */
        public Options withVcpus(int n) {
            return new Options(ramSize, n, irqchip, dirtyRingBytes, memoryFlags, sharedMemory);
        }

        /** These options with the in-kernel irqchip. */
        public Options withIrqchip() {
            return new Options(ramSize, vcpus, true, dirtyRingBytes, memoryFlags, sharedMemory);
        }

        /** These options with a dirty ring of {@code bytes} per vCPU. */
        public Options withDirtyRing(int bytes) {
            return new Options(ramSize, vcpus, irqchip, bytes, memoryFlags, sharedMemory);
        }

        /**
         * These options with the RAM in a memfd mapped shared ({@link dev.panavirt.fd.SharedMemory}), which
         * vhost-vdpa's {@code use_va} devices need to reach it.
         */
        public Options withSharedMemory() {
            return new Options(ramSize, vcpus, irqchip, dirtyRingBytes, memoryFlags, true);
        }

        /** These options with {@code KVM_MEM_*} flags on the RAM slot. */
        public Options withMemoryFlags(int flags) {
            return new Options(ramSize, vcpus, irqchip, dirtyRingBytes, flags, sharedMemory);
        }
    }

    /** A long-mode guest with default options, entered at the image's entry on one vCPU. */
    public static TestGuest longMode(GuestImage image) throws ErrnoException {
        return create(image, true, Options.defaults());
    }

    /** A real-mode guest (the image is entered at {@code load >> 4 : load & 0xf}) with default options. */
    public static TestGuest realMode(GuestImage image) throws ErrnoException {
        return create(image, false, Options.defaults());
    }

    /**
     * Builds the VM: RAM in slot 0 at address 0, the image copied in, every vCPU started at the entry
     * (long mode: own stack at the top of RAM, its index in RDI).
     */
    public static TestGuest create(GuestImage image, boolean longMode, Options o) throws ErrnoException {
        Kvm kvm = Kvm.open();
        Vm vm = null;
        try {
            vm = kvm.createVm();
            X86Vm.of(vm).setTssAddr(0xfffb_d000L);
            if (o.irqchip()) {
                vm.createIrqchip();
            }
            if (o.dirtyRingBytes() > 0) {
                vm.enableDirtyRing(o.dirtyRingBytes());
            }
            vm.addMemory(0, 0, o.ramSize(), o.memoryFlags(), o.sharedMemory());
            if (image.end() > o.ramSize()) {
                throw new IllegalArgumentException(image + " does not fit in " + o.ramSize() + " bytes of RAM");
            }
            vm.memory().write(image.loadAddress(), image.bytes());
            List<Vcpu> cpus = new ArrayList<>();
            var cpuid = X86Kvm.of(kvm).supportedCpuid();
            for (int i = 0; i < o.vcpus(); i++) {
                Vcpu v = vm.createVcpu(i);
                X86Vcpu.of(v).setCpuid(cpuid);
                if (longMode) {
                    long stack = o.ramSize() - i * X86Boot.STACK_SIZE - 16;
                    X86Boot.longMode(v, vm.memory(), X86Boot.TABLES_BASE, image.entry(), stack);
                    MemorySegment r = X86Vcpu.of(v).getRegs();
                    kvm_regs.rdi(r, i);
                    X86Vcpu.of(v).setRegs(r);
                } else {
                    X86Boot.realMode(v, (int) (image.entry() >>> 4), (int) (image.entry() & 0xf));
                }
                if (o.irqchip() && i > 0) {
                    v.setMpState(kvm_h.KVM_MP_STATE_RUNNABLE());
                }
                cpus.add(v);
            }
            return new TestGuest(kvm, vm, List.copyOf(cpus));
        } catch (ErrnoException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            kvm.close();
            throw e;
        }
    }

    public Kvm kvm() {
        return kvm;
    }

    public Vm vm() {
        return vm;
    }

    /** vCPU {@code i}. */
    public Vcpu vcpu(int i) {
        return vcpus.get(i);
    }

    public GuestMemory memory() {
        return vm.memory();
    }

    /** The port I/O bus exits are dispatched to (ucalls on {@link Ucall#PORT} are handled before it). */
    public Bus pio() {
        return pio;
    }

    /** The MMIO bus exits are dispatched to. */
    public Bus mmio() {
        return mmio;
    }

    /** Everything the guest printed with GUEST_PRINT, in order. */
    public List<String> prints() {
        synchronized (prints) {
            return List.copyOf(prints);
        }
    }

    /** Also sends each guest print line to {@code sink} (for example System.out::println). */
    public void onPrint(Consumer<String> sink) {
        this.printSink = sink;
    }

    /**
     * Runs vCPU {@code index} until the guest makes a SYNC or DONE ucall, halts, or is kicked.
     *
     * @throws AssertionError for a failed guest assertion (with the guest's file, line and message), a
     *                        triple fault, an internal error, a failed entry, an unexpected exit, or when
     *                        {@code timeout} passes first
     */
    public Stop next(int index, Duration timeout) throws ErrnoException {
        Vcpu v = vcpus.get(index);
        GuestExits policy = policies[index];
        policy.start(timeout);
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(timeout);
                v.kick();
            } catch (InterruptedException done) {
                // finished in time
            }
        });
        try {
            runners[index].run();
            return policy.stop;
        } finally {
            watchdog.interrupt();
        }
    }

    /** A test guest's exit policy: ucalls on {@link Ucall#PORT}, halts and kicks stop the run; faults fail the test. */
    private final class GuestExits implements VcpuRunner.ExitHandler {
        private final int index;
        private long deadline;
        private Duration timeout;
        private Stop stop;

        GuestExits(int index) {
            this.index = index;
        }

        void start(Duration limit) {
            timeout = limit;
            deadline = System.nanoTime() + limit.toNanos();
            stop = null;
        }

        @Override
        public boolean claims(VcpuExit.Io io) {
            return io.port() == Ucall.PORT && !io.isIn();
        }

        @Override
        public VcpuRunner.Step handle(VcpuExit exit) throws ErrnoException {
            Vcpu v = vcpus.get(index);
            switch (exit) {
                case VcpuExit.Io io -> {
                    Ucall u = Ucall.read(vm.memory(), Integer.toUnsignedLong(io.value()));
                    switch (u.command()) {
                        case PRINT -> {
                            prints.add(u.message());
                            printSink.accept(u.message());
                            return VcpuRunner.Step.CONTINUE;
                        }
                        case ASSERT -> throw new AssertionError("guest assertion failed at " + u.where());
                        case SYNC -> stop = new Stop(StopKind.SYNC, u.value());
                        case DONE -> stop = new Stop(StopKind.DONE, u.value());
                    }
                }
                case VcpuExit.Hlt h -> stop = new Stop(StopKind.HALT, 0);
                case VcpuExit.Interrupted i -> {
                    if (System.nanoTime() - deadline >= 0) {
                        throw new AssertionError("guest on vcpu " + index + " did not stop within " + timeout
                                + " (rip 0x" + Long.toHexString(kvm_regs.rip(X86Vcpu.of(v).getRegs())) + ")");
                    }
                    stop = new Stop(StopKind.INTERRUPTED, 0);
                }
                case VcpuExit.DirtyRingFull f -> stop = new Stop(StopKind.DIRTY_RING_FULL, 0);
                case VcpuExit.SystemEvent e -> stop = new Stop(StopKind.SYSTEM_EVENT, e.type());
                case VcpuExit.Shutdown s -> throw new AssertionError(
                        "guest triple-faulted (KVM_EXIT_SHUTDOWN) on vcpu " + index + VcpuReport.where(v, vm.memory()));
                case VcpuExit.InternalError e -> throw new AssertionError("KVM internal error, suberror "
                        + e.suberror() + " on vcpu " + index + VcpuReport.where(v, vm.memory()));
                case VcpuExit.FailEntry f -> throw new AssertionError("KVM could not enter the guest, reason 0x"
                        + Long.toHexString(f.hardwareEntryFailureReason()));
                case VcpuExit.MemoryFault f -> throw new AssertionError("KVM_EXIT_MEMORY_FAULT on vcpu " + index
                        + ": " + f + VcpuReport.where(v, vm.memory()));
                case VcpuExit.Unknown u -> throw new AssertionError("unexpected exit reason " + u.reason()
                        + " on vcpu " + index + VcpuReport.where(v, vm.memory()));
                case VcpuExit.Mmio m -> throw new IllegalStateException("MMIO is the bus's: " + m);
            }
            return VcpuRunner.Step.STOP;
        }
    }

    /** Runs vCPU {@code index} to its DONE ucall, failing on anything else, and returns the value. */
    public long runToDone(int index, Duration timeout) throws ErrnoException {
        Stop s = next(index, timeout);
        if (s.kind() != StopKind.DONE) {
            throw new AssertionError("expected the guest to finish, it stopped with " + s);
        }
        return s.value();
    }

    @Override
    public void close() {
        vm.close();
        kvm.close();
    }
}
