package dev.panavirt.machine;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.guest.GuestImage;
import dev.panavirt.guest.Ucall;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import dev.panavirt.kvm.Vm;
import dev.panavirt.sys.ErrnoException;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DebugExit;
import dev.panavirt.vmm.ExitDispatcher;
import dev.panavirt.vmm.Serial16550;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * A small x86 machine on KVM: RAM from address 0, a 16550 UART on COM1 whose output goes to a stream,
 * QEMU's {@code isa-debug-exit} port, the ucall port of {@code panavirt_guest.h}, and vCPUs each on
 * its own platform thread. {@link #run()} returns when the guest asks to exit, every vCPU has halted,
 * something fatal happens, or the time limit passes.
 *
 * <p>Exit statuses ({@link Result#exitStatus()}): the guest's own value for a debug-exit write
 * ({@code (code << 1) | 1}) or a ucall DONE ({@code value & 0xff}); 0 when all vCPUs halted;
 * {@link #EXIT_TIMEOUT}, {@link #EXIT_TRIPLE_FAULT}, {@link #EXIT_KVM_ERROR} otherwise.
 */
public final class Machine implements AutoCloseable {
    /** QEMU {@code isa-debug-exit,iobase=0xf4,iosize=4}, as kvm-unit-tests use it. */
    public static final int DEBUG_EXIT_PORT = 0xf4, DEBUG_EXIT_SIZE = 4;
    /** Exit status when the time limit passed. */
    public static final int EXIT_TIMEOUT = 124;
    /** Exit status for a triple fault ({@code KVM_EXIT_SHUTDOWN}). */
    public static final int EXIT_TRIPLE_FAULT = 125;
    /** Exit status for a KVM internal error, failed entry, or an exit panavirt cannot handle. */
    public static final int EXIT_KVM_ERROR = 126;
    /** Where long-mode and protected-mode tables go (below the usual 1 MiB load address). */
    public static final long TABLES_BASE = 0x8000;
    /** Stack bytes per vCPU, carved from the top of RAM. */
    public static final long STACK_SIZE = 0x10000;

    /** The CPU mode a guest starts in. */
    public enum Mode { REAL, PROTECTED, LONG }

    /** Why the run ended. */
    public enum Outcome { DEBUG_EXIT, DONE, HALTED, ASSERT_FAILED, TRIPLE_FAULT, INTERNAL_ERROR, FAIL_ENTRY,
        UNKNOWN_EXIT, SYSTEM_EVENT, TIMEOUT, ERROR }

    /** How a run ended: the outcome, the process exit status to use, a message, and counters. */
    public record Result(Outcome outcome, int exitStatus, String message, Duration elapsed, long exits) {}

    /**
     * Machine settings.
     *
     * @param memorySize RAM bytes (page multiple)
     * @param vcpus      vCPU count
     * @param irqchip    create the in-kernel PIC/IOAPIC/LAPIC (and PIT)
     * @param timeout    wall-clock limit for {@link #run()}
     */
    public record Config(long memorySize, int vcpus, boolean irqchip, Duration timeout) {
        public Config {
            if (memorySize < 1 << 20 || (memorySize & 0xfff) != 0) {
                throw new IllegalArgumentException("memory must be at least 1 MiB and page-aligned: " + memorySize);
            }
            if (vcpus < 1) {
                throw new IllegalArgumentException("at least one vCPU");
            }
        }
    }

    private final Config config;
    private final Kvm kvm;
    private final Vm vm;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final Bus pio = new Bus("pio");
    private final Bus mmio = new Bus("mmio");
    private final Serial16550 serial;
    private final PrintStream console;
    private final AtomicReference<Result> result = new AtomicReference<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final LongAdder exits = new LongAdder();
    private final AtomicInteger halted = new AtomicInteger();
    private volatile boolean stopping;
    private long startNanos;

    /** Creates the VM, RAM, devices and vCPUs (not yet started). */
    public Machine(Config config, OutputStream consoleOut) throws ErrnoException {
        this.config = config;
        this.console = new PrintStream(consoleOut, true, StandardCharsets.UTF_8);
        this.serial = new Serial16550(consoleOut);
        this.kvm = Kvm.open();
        Vm v = null;
        try {
            v = kvm.createVm();
            v.setTssAddr(0xfffb_d000L);
            if (config.irqchip()) {
                v.createIrqchip();
                v.createPit2(0);
            }
            v.addMemory(0, 0, config.memorySize(), 0);
            var cpuid = kvm.supportedCpuid();
            for (int i = 0; i < config.vcpus(); i++) {
                Vcpu c = v.createVcpu(i);
                c.setCpuid(cpuid);
                vcpus.add(c);
            }
        } catch (ErrnoException | RuntimeException e) {
            if (v != null) {
                v.close();
            }
            kvm.close();
            throw e;
        }
        this.vm = v;
        pio.insert(serial, Serial16550.COM1_BASE, Serial16550.REGISTER_COUNT);
        pio.insert(new DebugExit(status -> finish(Outcome.DEBUG_EXIT, status, "guest wrote to the debug-exit port")),
                DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE);
        pio.insert(new UcallPort(), Ucall.PORT, 4);
    }

    public Vm vm() {
        return vm;
    }

    public GuestMemory memory() {
        return vm.memory();
    }

    /** The port I/O bus, for adding devices. */
    public Bus pio() {
        return pio;
    }

    /** The MMIO bus, for adding devices. */
    public Bus mmio() {
        return mmio;
    }

    public List<Vcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /** Copies a flat image into RAM and points every vCPU at its entry in {@code mode}. */
    public void load(GuestImage image, Mode mode) throws ErrnoException {
        requireRam(image.loadAddress(), image.bytes().length);
        memory().write(image.loadAddress(), image.bytes());
        start(image.entry(), mode);
    }

    /** Copies an ELF's segments into RAM and enters it in long mode (64-bit) or protected mode (32-bit). */
    public void load(GuestLoader.Elf elf) throws ErrnoException {
        for (GuestLoader.Segment s : elf.segments()) {
            requireRam(s.physAddr(), s.memSize());
            memory().slice(s.physAddr(), s.memSize()).fill((byte) 0);
            memory().write(s.physAddr(), s.fileBytes());
        }
        start(elf.entry(), elf.is64() ? Mode.LONG : Mode.PROTECTED);
    }

    private void requireRam(long addr, long length) {
        if (!memory().isMapped(addr, length)) {
            throw new IllegalArgumentException("guest bytes at 0x" + Long.toHexString(addr) + "+" + length
                    + " do not fit in " + (config.memorySize() >> 20) + " MiB of RAM");
        }
    }

    private void start(long entry, Mode mode) throws ErrnoException {
        for (Vcpu c : vcpus) {
            long stack = config.memorySize() - c.id() * STACK_SIZE - 16;
            switch (mode) {
                case REAL -> X86Boot.realMode(c, (int) (entry >>> 4), (int) (entry & 0xf));
                case PROTECTED -> X86Boot.protectedMode(c, memory(), TABLES_BASE, entry, stack);
                case LONG -> X86Boot.longMode(c, memory(), TABLES_BASE, entry, stack);
            }
            MemorySegment r = c.getRegs();
            kvm_regs.rdi(r, c.id());
            c.setRegs(r);
            if (config.irqchip() && c.id() > 0) {
                c.setMpState(kvm_h.KVM_MP_STATE_RUNNABLE());
            }
        }
    }

    /** Runs every vCPU on its own platform thread until the guest finishes or the time limit passes. */
    public Result run() throws InterruptedException {
        startNanos = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (Vcpu c : vcpus) {
            threads.add(Thread.ofPlatform().name("vcpu-" + c.id()).start(() -> loop(c)));
        }
        if (!finished.await(config.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
            finish(Outcome.TIMEOUT, EXIT_TIMEOUT, "the guest ran past its time limit of "
                    + config.timeout().toSeconds() + " s");
        }
        for (Thread t : threads) {
            while (t.isAlive()) {
                for (Vcpu c : vcpus) {
                    c.kick();
                }
                t.join(50);
            }
        }
        serial.flush();
        return result.get();
    }

    private void loop(Vcpu c) {
        // One dispatcher per vCPU thread: it owns scratch windows; the buses are shared.
        ExitDispatcher dispatcher = new ExitDispatcher(pio, mmio);
        try {
            while (!stopping) {
                VcpuExit exit = c.run();
                exits.increment();
                switch (exit) {
                    case VcpuExit.Io io -> dispatcher.pio(io.port(), io.size(), io.isIn(), io.data(), io.count());
                    case VcpuExit.Mmio m -> dispatcher.mmio(m.address(), m.length(), m.isWrite(), m.data());
                    case VcpuExit.Interrupted i -> { }
                    case VcpuExit.Hlt h -> {
                        if (halted.incrementAndGet() == vcpus.size()) {
                            finish(Outcome.HALTED, 0, "all vCPUs halted");
                        }
                        return;
                    }
                    case VcpuExit.Shutdown s -> {
                        finish(Outcome.TRIPLE_FAULT, EXIT_TRIPLE_FAULT,
                                "vCPU " + c.id() + " triple-faulted (KVM_EXIT_SHUTDOWN)" + describe(c));
                        return;
                    }
                    case VcpuExit.InternalError e -> {
                        finish(Outcome.INTERNAL_ERROR, EXIT_KVM_ERROR, "KVM internal error (KVM_EXIT_INTERNAL_ERROR"
                                + ", suberror " + e.suberror() + ") on vCPU " + c.id() + describe(c));
                        return;
                    }
                    case VcpuExit.FailEntry f -> {
                        finish(Outcome.FAIL_ENTRY, EXIT_KVM_ERROR, "KVM could not enter vCPU " + c.id()
                                + " (KVM_EXIT_FAIL_ENTRY, reason 0x" + Long.toHexString(f.hardwareEntryFailureReason())
                                + ")" + describe(c));
                        return;
                    }
                    case VcpuExit.SystemEvent e -> {
                        finish(Outcome.SYSTEM_EVENT, e.type() == kvm_h.KVM_SYSTEM_EVENT_SHUTDOWN() ? 0 : EXIT_KVM_ERROR,
                                "guest system event " + e.type());
                        return;
                    }
                    case VcpuExit.DirtyRingFull f -> { }
                    case VcpuExit.Unknown u -> {
                        finish(Outcome.UNKNOWN_EXIT, EXIT_KVM_ERROR,
                                "unhandled exit reason " + u.reason() + " on vCPU " + c.id() + describe(c));
                        return;
                    }
                }
            }
        } catch (ErrnoException | RuntimeException e) {
            finish(Outcome.ERROR, EXIT_KVM_ERROR, "vCPU " + c.id() + ": " + e.getMessage());
        }
    }

    /** Ends the run with this outcome, unless another one came first; wakes every vCPU. */
    public void finish(Outcome outcome, int status, String message) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - startNanos);
        if (result.compareAndSet(null, new Result(outcome, status, message, elapsed, exits.sum()))) {
            stopping = true;
            for (Vcpu c : vcpus) {
                c.kick();
            }
            finished.countDown();
        }
    }

    /** The instruction pointer and the bytes there, for reports of fatal exits. */
    private String describe(Vcpu c) {
        try {
            MemorySegment r = c.getRegs();
            long rip = kvm_regs.rip(r);
            long cs = dev.panavirt.bindings.kvm.x86_64.kvm_segment.base(
                    dev.panavirt.bindings.kvm.x86_64.kvm_sregs.cs(c.getSregs()));
            long at = cs + rip;
            StringBuilder sb = new StringBuilder(" at rip 0x").append(Long.toHexString(rip));
            if (memory().isMapped(at, 16)) {
                sb.append(", instruction bytes:");
                for (byte b : memory().read(at, 16)) {
                    sb.append(String.format(" %02x", b));
                }
            }
            return sb.toString();
        } catch (ErrnoException | RuntimeException e) {
            return " (registers unavailable: " + e.getMessage() + ")";
        }
    }

    /** The ucall port: PRINT goes to the console, DONE and failed ASSERTs end the run. */
    private final class UcallPort implements BusDevice {
        @Override
        public void write(long base, long offset, MemorySegment data) {
            if (data.byteSize() != 4) {
                return;
            }
            long gpa = Integer.toUnsignedLong(data.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
            Ucall u;
            try {
                u = Ucall.read(memory(), gpa);
            } catch (IllegalArgumentException e) {
                console.println("panavirt: ignored ucall: " + e.getMessage());
                return;
            }
            switch (u.command()) {
                case PRINT -> console.println(u.message());
                case SYNC -> { }
                case DONE -> finish(Outcome.DONE, (int) (u.value() & 0xff), "guest finished with " + u.value());
                case ASSERT -> finish(Outcome.ASSERT_FAILED, 1, "guest assertion failed at " + u.where());
            }
        }
    }

    @Override
    public void close() {
        vm.close();
        kvm.close();
    }
}
