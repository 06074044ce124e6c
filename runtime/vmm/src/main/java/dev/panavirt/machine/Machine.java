package dev.panavirt.machine;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.kvm.Cpuid;
import dev.panavirt.kvm.GsiRoute;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.KvmFlavour;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import dev.panavirt.kvm.Vm;
import dev.panavirt.kvm.X86Kvm;
import dev.panavirt.kvm.X86Vcpu;
import dev.panavirt.kvm.X86Vm;
import dev.panavirt.kvm.state.UnsavedStateException;
import dev.panavirt.machine.acpi.AcpiTables;
import dev.panavirt.machine.acpi.VirtioMmioSlot;
import dev.panavirt.vhost.VdpaDevice;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import dev.panavirt.vmm.ExitDispatcher;
import dev.panavirt.vmm.VcpuRunner;
import dev.panavirt.vmm.legacy.DebugExit;
import dev.panavirt.vmm.legacy.FwCfg;
import dev.panavirt.vmm.legacy.I8042;
import dev.panavirt.vmm.legacy.PcTestdev;
import dev.panavirt.vmm.legacy.PicMask;
import dev.panavirt.vmm.legacy.Port92;
import dev.panavirt.vmm.legacy.Serial16550;
import dev.panavirt.vmm.pci.PciHostBridge;
import dev.panavirt.vmm.pci.PciTestdev;
import dev.panavirt.vmm.virtio.VirtioMmioVdpa;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

/**
 * A small x86 machine on KVM: RAM from address 0, a 16550 UART on COM1 whose output goes to a stream,
 * QEMU's {@code isa-debug-exit} port, QEMU's {@code fw_cfg} ports ({@link FwCfg}), the ucall port of
 * {@code panavirt_guest.h}, optionally KVM's in-kernel irqchip (PIC, IOAPIC, local APICs) and PIT, the rest of
 * the machine kvm-unit-tests ask QEMU for ({@link PcTestdev}, a {@link PciHostBridge} with {@link PciTestdev},
 * {@link Port92}, CPUID with the hypervisor's leaves: {@link PcPlatform#withHypervisorLeaves}), and
 * vCPUs each on its own platform thread. Without the in-kernel irqchip, {@link PicMask} stands in for the
 * two PICs' registers. {@link #run()} returns when the guest asks to exit, every vCPU has halted,
 * something fatal happens, or the time limit passes.
 *
 * <p>Guests start as flat images or ELF files ({@link #load}) or as multiboot kernels
 * ({@link #bootMultiboot}, the way QEMU's {@code -kernel} boots them).
 *
 * <h2>When is the guest done?</h2>
 * Without the in-kernel irqchip a HLT exits to user space, and the run ends when every vCPU has executed one.
 * With it, KVM keeps a halted vCPU inside {@code KVM_RUN} until an interrupt wakes it, so the main thread
 * checks instead, every {@value #IDLE_POLL_MS} ms: it parks every vCPU thread outside {@code KVM_RUN} (a kick,
 * then a wait until each has seen it), reads each vCPU's MP state and RFLAGS, and lets them run again. The
 * machine is idle when every vCPU is either halted with interrupts disabled (MP state HALTED and RFLAGS.IF
 * clear: only an NMI, SMI or INIT could wake it, and no device here sends those) or was never started (an AP
 * still waiting for INIT/SIPI). The run ends with status 0 after two idle checks in a row, so a wake-up that
 * was already on its way when the first check stopped the world gets its chance to run. A check costs one
 * exit per vCPU. A vCPU halted with interrupts enabled is waiting for something; if nothing comes, the time
 * limit ends the run.
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
    /**
     * Exit status when panavirt itself failed during the run: a device model or exit handler threw (sysexits
     * EX_SOFTWARE, as the command line's internal errors). Not 126: KVM did nothing wrong.
     */
    public static final int EXIT_INTERNAL = 70;
    /**
     * Exit status when the run ended because {@link #snapshotAfter} wrote a snapshot (sysexits EX_TEMPFAIL: the
     * guest is not done; {@link MachineSnapshot#restore} resumes it).
     */
    public static final int EXIT_SNAPSHOT = 75;
    /** How often the main thread flushes the console and, with the in-kernel irqchip, checks for idle vCPUs. */
    public static final long IDLE_POLL_MS = 25;
    /** How long an idle check waits for the vCPU threads to park before giving up on that check. */
    private static final long PARK_TIMEOUT_MS = 1000;
    private static final long RFLAGS_IF = 1 << 9;
    /** How long a vCPU whose dirty ring is full waits before it tries KVM_RUN again. */
    private static final long RING_FULL_WAIT_NANOS = 50_000;

    /** The CPU mode a guest starts in. */
    public enum Mode { REAL, PROTECTED, LONG }

    /** Why the run ended. */
    public enum Outcome { DEBUG_EXIT, DONE, HALTED, ASSERT_FAILED, TRIPLE_FAULT, INTERNAL_ERROR, FAIL_ENTRY,
        MEMORY_FAULT, UNKNOWN_EXIT, SYSTEM_EVENT, TIMEOUT, ERROR, RESET,
        /** A device model or exit handler of panavirt threw: a bug, reported with {@link #EXIT_INTERNAL}. */
        PANAVIRT_ERROR,
        /** {@link #snapshotAfter} saved the machine to its file and stopped it ({@link #EXIT_SNAPSHOT}). */
        SNAPSHOT,
        /** {@link #snapshotAfter} could not save the machine ({@link #EXIT_INTERNAL}); the message says why. */
        SNAPSHOT_FAILED,
        /**
         * A migration ({@link MachineMigration}) moved the guest to another machine, which runs it on; this run ends
         * with {@link #EXIT_SNAPSHOT} (the guest is not done here).
         */
        MIGRATED }

    /** Where {@code pci-testdev}'s BARs are placed (as firmware would): 4 KiB of MMIO and 256 I/O ports. */
    public static final long PCI_TESTDEV_MEM_BAR = 0xfe00_0000L, PCI_TESTDEV_IO_BAR = 0xc000;
    /** {@code pci-testdev}'s slot on bus 0. */
    public static final int PCI_TESTDEV_SLOT = 1;
    /** Where the virtio-mmio windows of {@link #addVirtioMmio} go, one page each, below the 32-bit PCI hole. */
    public static final long VIRTIO_MMIO_BASE = 0xd000_0000L;
    /** The GSI of the first virtio-mmio device; the next ones take the next GSIs (4 is COM1's). */
    public static final int VIRTIO_MMIO_FIRST_GSI = 5;
    /** Where {@link #bootLinux} writes the ACPI RSDP and the other tables: the BIOS area, reserved in the e820 map. */
    public static final long ACPI_RSDP = LinuxBoot.BIOS_AREA, ACPI_TABLES = LinuxBoot.BIOS_AREA + 0x40;

    /**
     * How a run ended: the outcome, the process exit status to use, a message, the time taken, and how many
     * times the vCPUs exited to user space for the guest (port and MMIO accesses, halts, errors; not the
     * interruptions panavirt itself causes).
     */
    public record Result(Outcome outcome, int exitStatus, String message, Duration elapsed, long exits) {}

    /**
     * Machine settings.
     *
     * @param memorySize RAM bytes (page multiple)
     * @param vcpus      vCPU count
     * @param irqchip    create the in-kernel PIC/IOAPIC/LAPIC (and PIT)
     * @param timeout    wall-clock limit for {@link #run()}
     * @param hypervisorCpuid present CPUID as a hypervisor does (the HYPERVISOR bit and KVM's leaves 0x40000000
     *                   and 0x40000001, as QEMU does); false hides them, as on bare metal
     * @param sharedMemory RAM in a memfd mapped shared ({@link dev.panavirt.fd.SharedMemory}) instead of anonymous
     *                   memory: a kernel vDPA device (vdpa_sim with {@code use_va}) can only map RAM that has a file
     * @param dirtyRingBytes a dirty ring of this many bytes per vCPU ({@code KVM_CAP_DIRTY_LOG_RING}), which a
     *                   migration's {@link dev.panavirt.migration.DirtyRingSource} harvests; 0 for none. A vCPU whose
     *                   ring is full waits for the harvest. Not saved in snapshots: it is the source's choice.
     */
    public record Config(long memorySize, int vcpus, boolean irqchip, Duration timeout, boolean hypervisorCpuid,
            boolean sharedMemory, int dirtyRingBytes) {
        public Config {
            if (memorySize < 1 << 20 || (memorySize & 0xfff) != 0) {
                throw new IllegalArgumentException("memory must be at least 1 MiB and page-aligned: " + memorySize);
            }
            if (vcpus < 1) {
                throw new IllegalArgumentException("at least one vCPU");
            }
            if (dirtyRingBytes < 0) {
                throw new IllegalArgumentException("a negative dirty ring size: " + dirtyRingBytes);
            }
        }

        /** Settings without a dirty ring. */
        public Config(long memorySize, int vcpus, boolean irqchip, Duration timeout, boolean hypervisorCpuid,
                boolean sharedMemory) {
            this(memorySize, vcpus, irqchip, timeout, hypervisorCpuid, sharedMemory, 0);
        }

        /** Settings with the hypervisor's CPUID leaves presented. */
        public Config(long memorySize, int vcpus, boolean irqchip, Duration timeout) {
            this(memorySize, vcpus, irqchip, timeout, true);
        }

        /** Settings with anonymous RAM. */
        public Config(long memorySize, int vcpus, boolean irqchip, Duration timeout, boolean hypervisorCpuid) {
            this(memorySize, vcpus, irqchip, timeout, hypervisorCpuid, false);
        }

        /** These settings with the RAM in a shared memfd (or not). */
        public Config withSharedMemory(boolean shared) {
            return new Config(memorySize, vcpus, irqchip, timeout, hypervisorCpuid, shared, dirtyRingBytes);
        }

        /** These settings with a dirty ring of {@code bytes} per vCPU (0: none). */
        public Config withDirtyRing(int bytes) {
            return new Config(memorySize, vcpus, irqchip, timeout, hypervisorCpuid, sharedMemory, bytes);
        }
    }

    private final Config config;
    private final Kvm kvm;
    /** Which KVM runs the guest: decides what a shutdown exit's registers mean. */
    private final KvmFlavour flavour = KvmFlavour.detect();
    private final Vm vm;
    private final List<Vcpu> vcpus = new ArrayList<>();
    // Unmapped ports read all ones, as on a PC's ISA bus (and QEMU's unassigned I/O).
    private final Bus pio = new Bus("pio", Bus.DEFAULT_UNMAPPED_LOG_LIMIT, (byte) 0xff);
    private final Bus mmio = new Bus("mmio");
    private final Serial16550 serial;
    private final FwCfg fwCfg;
    private final Port92 port92;
    private final I8042 i8042;
    /** Whether the UART's interrupt condition pulses GSI {@link Serial16550#COM1_IRQ} (set by {@link #bootLinux}). */
    private volatile boolean serialInterrupts;
    private final PcTestdev pcTestdev;
    /** pc-testdev's data window on port 0xe0, which a multiboot kernel gets instead of the ucall port. */
    private final BusDevice pcTestdevWord;
    private final PciHostBridge pciHost = new PciHostBridge();
    private final PciTestdev pciTestdev = new PciTestdev();
    /** The two PIC stand-ins, without the in-kernel irqchip; null with it. */
    private final PicMask picMaster, picSlave;
    /** The bus devices the machine itself put there, by identity: their state is in {@link #ownDevices()}. */
    private final java.util.Set<BusDevice> builtIn = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /** When {@link #run()} saves a snapshot, after its start; null for never. */
    private volatile Duration snapshotAfter;
    private volatile java.nio.file.Path snapshotFile;
    /** How long the guest had run before this machine restored it from a snapshot: counts against the time limit. */
    private Duration elapsedBefore = Duration.ZERO;
    private final List<VirtioMmioSlot> virtioSlots = new ArrayList<>();
    private final List<VirtioMmioVdpa> virtioDevices = new ArrayList<>();
    private final List<VdpaDevice> vdpaDevices = new ArrayList<>();
    private final PrintStream console;
    private final AtomicReference<Result> result = new AtomicReference<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final AtomicInteger halted = new AtomicInteger();
    private final VcpuPause pause = new VcpuPause(vcpus);
    /**
     * Held by whoever stops the world for longer than a check: the idle check, a snapshot, a migration's
     * switchover. The main thread's checks only try it, so a switchover on another thread never waits for them.
     */
    private final java.util.concurrent.locks.ReentrantLock world = new java.util.concurrent.locks.ReentrantLock();
    private volatile long startNanos;

    /** Creates the VM, RAM, devices and vCPUs (not yet started). */
    public Machine(Config config, OutputStream consoleOut) throws ErrnoException {
        this.config = config;
        this.console = new PrintStream(consoleOut, true, StandardCharsets.UTF_8);
        this.serial = new Serial16550(consoleOut, this::serialInterrupt);
        this.kvm = Kvm.open();
        Vm v = null;
        try {
            v = kvm.createVm();
            X86Vm.of(v).setTssAddr(0xfffb_d000L);
            if (config.irqchip()) {
                v.createIrqchip();
                X86Vm.of(v).createPit2(0);
                v.setGsiRouting(PcPlatform.interruptRouting());
            }
            v.addMemory(0, 0, config.memorySize(), 0, config.sharedMemory());
            if (config.dirtyRingBytes() > 0) {
                v.enableDirtyRing(config.dirtyRingBytes());     // before the vCPUs: each maps its ring at creation
            }
            Cpuid cpuid = PcPlatform.withHypervisorLeaves(X86Kvm.of(kvm).supportedCpuid(), config.hypervisorCpuid());
            for (int i = 0; i < config.vcpus(); i++) {
                Vcpu c = v.createVcpu(i);
                X86Vcpu.of(c).setCpuid(PcPlatform.withApicId(cpuid, i));
                vcpus.add(c);
                // One dispatcher per vCPU: it owns scratch windows; the buses are shared.
                runners.add(new VcpuRunner(c, new ExitDispatcher(pio, mmio), exit -> onExit(c, exit)));
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
        this.fwCfg = FwCfg.forMachine(config.memorySize(), config.vcpus());
        pio.insert(fwCfg, FwCfg.SELECTOR_PORT, FwCfg.PORT_COUNT);
        if (config.irqchip()) {
            fwCfg.putInt(FwCfg.IRQ0_OVERRIDE, 1);
            picMaster = picSlave = null;
        } else {
            picMaster = new PicMask();
            picSlave = new PicMask();
            pio.insert(picMaster, PicMask.MASTER_PORT, PicMask.PORT_COUNT);
            pio.insert(picSlave, PicMask.SLAVE_PORT, PicMask.PORT_COUNT);
        }
        // QEMU's -no-reboot: a reset ends the run (there is no firmware to run the reset vector).
        this.port92 = new Port92(() -> finish(Outcome.RESET, 0, "the guest reset the machine (port 0x92 bit 0)"));
        pio.insert(port92, Port92.PORT, 1);
        this.i8042 = new I8042(() -> finish(Outcome.RESET, 0,
                "the guest reset the machine (keyboard controller command 0xfe)"));
        i8042.attach(pio);
        // Port 0xe0 is the ucall port of panavirt's own guests until a multiboot kernel boots (bootMultiboot).
        this.pcTestdev = new PcTestdev(this::setIrqLine, this::flushPage);
        pcTestdev.attachWithoutWordWindow(pio, mmio);
        pciHost.add(PCI_TESTDEV_SLOT, 0, pciTestdev);
        pciHost.attach(pio);
        pciTestdev.attach(pio, mmio, PCI_TESTDEV_MEM_BAR, PCI_TESTDEV_IO_BAR);
        // pc-testdev's data window for port 0xe0 goes there only for a multiboot kernel: built in, too.
        this.pcTestdevWord = pcTestdev.dataDevice();
        builtIn.add(pcTestdevWord);
        for (Bus b : List.of(pio, mmio)) {
            b.ranges().forEach(r -> builtIn.add(b.deviceAt(r.base()).orElseThrow()));
        }
    }

    private void setIrqLine(int line, boolean level) throws ErrnoException {
        if (config.irqchip()) {
            vm.setIrqLine(line, level);     // GSI n: PIC and IOAPIC pin n (PcPlatform.interruptRouting)
        }
    }

    /** The UART's interrupt: an edge on its ISA line (PIC and IOAPIC pin 4), once a kernel that uses it boots. */
    private void serialInterrupt() {
        if (!serialInterrupts) {
            return;
        }
        try {
            vm.setIrqLine(Serial16550.COM1_IRQ, true);
            vm.setIrqLine(Serial16550.COM1_IRQ, false);
        } catch (ErrnoException e) {
            finish(Outcome.ERROR, EXIT_KVM_ERROR, "raising the UART's interrupt: " + e.getMessage());
        }
    }

    /** pc-testdev's flush: take the host page away and give it back, so KVM drops its mapping (QEMU does the same). */
    private void flushPage(long gpa) throws ErrnoException {
        if (memory().isMapped(gpa, 4096)) {
            memory().flushPage(gpa);
        }
    }

    /** System control port A (0x92). */
    public Port92 port92() {
        return port92;
    }

    /** The PCI host bridge (config mechanism #1 at 0xcf8/0xcfc). */
    public PciHostBridge pciHost() {
        return pciHost;
    }

    /** QEMU's pci-testdev at 00:01.0. */
    public PciTestdev pciTestdev() {
        return pciTestdev;
    }

    /** The VM. */
    public Vm vm() {
        return vm;
    }

    /** The guest's RAM (slot 0 from guest-physical 0). */
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

    /** The vCPUs, by id. */
    public List<Vcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /** The COM1 UART. */
    public Serial16550 serial() {
        return serial;
    }

    /** The fw_cfg device, for adding items before {@link #run()}. */
    public FwCfg fwCfg() {
        return fwCfg;
    }

    /**
     * Boots a multiboot kernel the way QEMU's {@code -kernel} does: its segments at their physical addresses,
     * the modules and the information structure placed as {@link MultibootInfo} describes, and the first vCPU
     * in 32-bit flat protected mode with paging and interrupts off, EAX = {@link Multiboot#BOOTLOADER_MAGIC}
     * and EBX = the information structure. Port 0xe0 becomes pc-testdev's register, as under QEMU, instead of the
     * ucall port of panavirt's own guests. The other vCPUs are left as KVM creates them with the in-kernel
     * local APIC: waiting for the INIT and STARTUP IPIs the kernel sends.
     *
     * @param cmdline the command line: by convention the kernel's file name, a space and its arguments
     * @param modules boot modules (kvm-unit-tests read one as their environment)
     * @return where things went
     * @throws IllegalStateException with more than one vCPU but no in-kernel irqchip (nothing could start the APs)
     * @throws IllegalArgumentException when the kernel or its data do not fit in RAM
     */
    public MultibootInfo.Layout bootMultiboot(Multiboot.Kernel kernel, String cmdline, List<Multiboot.Module> modules)
            throws ErrnoException {
        if (vcpus.size() > 1 && !config.irqchip()) {
            throw new IllegalStateException("a multiboot kernel with more than one vCPU needs the in-kernel irqchip: "
                    + "the kernel starts the other vCPUs with INIT and STARTUP IPIs through its local APIC");
        }
        MultibootInfo.Layout layout = MultibootInfo.plan(kernel, config.memorySize(), cmdline, modules);
        if (pio.deviceAt(Ucall.PORT).orElse(null) instanceof UcallPort) {
            pio.remove(Ucall.PORT);
            pio.insert(pcTestdevWord, PcTestdev.DATA_PORT, 4);
        }
        Vcpu bsp = vcpus.getFirst();
        // The entry state's GDT first: a kernel loaded over it wins, since only the cached descriptors matter.
        X86Boot.protectedMode(bsp, memory(), MultibootInfo.BOOT_TABLES, kernel.entry(), layout.stackTop());
        for (GuestLoader.Segment s : kernel.segments()) {
            requireRam(s.physAddr(), s.memSize());
            memory().slice(s.physAddr(), s.memSize()).fill((byte) 0);
            memory().write(s.physAddr(), s.fileBytes());
        }
        for (MultibootInfo.Blob b : layout.blobs()) {
            requireRam(b.address(), b.bytes().length);
            memory().write(b.address(), b.bytes());
        }
        MemorySegment r = X86Vcpu.of(bsp).getRegs();
        kvm_regs.rax(r, Integer.toUnsignedLong(Multiboot.BOOTLOADER_MAGIC));
        kvm_regs.rbx(r, layout.infoAddress());
        X86Vcpu.of(bsp).setRegs(r);
        return layout;
    }

    /**
     * Boots a 64-bit Linux kernel through the x86 boot protocol (Documentation/arch/x86/boot.rst): the protected-mode
     * kernel, the zero page, the command line and the initrd placed as {@link LinuxBoot#plan} says, and the first
     * vCPU at the 64-bit entry point in the state {@link X86Boot#linux64} describes. The machine is described by
     * hardware-reduced ACPI tables ({@link AcpiTables}: every vCPU, the IOAPIC, the devices of
     * {@link #addVirtioMmio}, the keyboard controller's reset) at {@link #ACPI_RSDP}, whose address the zero page
     * also gives. The UART's interrupt goes to ISA IRQ {@value Serial16550#COM1_IRQ} from now on, port 0xe0 is
     * no longer the ucall port, and the PCI configuration ports 0xcf8/0xcfc go away (the guest has no PCI bus). The other vCPUs wait for the kernel's INIT and STARTUP IPIs.
     *
     * @param kernel      the kernel
     * @param cmdline     its command line
     * @param initrd      the initrd's bytes, empty for none
     * @return where things went
     * @throws IllegalStateException without the in-kernel irqchip (Linux needs the local APIC, IOAPIC and PIT)
     * @throws IllegalArgumentException when the kernel or its data do not fit in RAM
     */
    public LinuxBoot.Layout bootLinux(BzImage kernel, String cmdline, byte[] initrd) throws ErrnoException {
        if (!config.irqchip()) {
            throw new IllegalStateException("booting Linux needs the in-kernel irqchip (local APICs, IOAPIC, PIC, PIT)");
        }
        AcpiTables.Layout acpi = AcpiTables.forMachine(vcpus.size(), virtioSlots)
                .writeTo(memory(), ACPI_RSDP, ACPI_TABLES);
        if (acpi.end() > LinuxBoot.HIGH_MEMORY) {
            throw new IllegalStateException("the ACPI tables run past the BIOS area to 0x" + Long.toHexString(acpi.end()));
        }
        LinuxBoot.Layout layout = LinuxBoot.plan(kernel, config.memorySize(), cmdline, initrd, acpi.rsdpAddress());
        if (pio.deviceAt(Ucall.PORT).orElse(null) instanceof UcallPort) {
            pio.remove(Ucall.PORT);
        }
        // No PCI for Linux: its devices are on virtio-mmio, and the DSDT declares no host bridge. Without config
        // ports the kernel's conf1 probe reads all ones and finds no PCI; pci=off also spares the early quirks'
        // scan of every bus (arch/x86/kernel/early-quirks.c), which reads the ports whether or not they answer.
        for (int port : new int[] {PciHostBridge.ADDRESS_PORT, PciHostBridge.DATA_PORT}) {
            if (pio.deviceAt(port).isPresent()) {
                pio.remove(port);
            }
        }
        for (LinuxBoot.Blob b : layout.blobs()) {
            requireRam(b.address(), b.bytes().length);
            memory().write(b.address(), b.bytes());
        }
        X86Boot.linux64(vcpus.getFirst(), memory(), LinuxBoot.BOOT_TABLES, layout.entry(), LinuxBoot.ZERO_PAGE);
        serialInterrupts = true;
        return layout;
    }

    /**
     * Adds a virtio-mmio device whose queues {@code vdpa} serves ({@link VirtioMmioVdpa}) in the next window from
     * {@link #VIRTIO_MMIO_BASE} with the next GSI from {@link #VIRTIO_MMIO_FIRST_GSI}; {@link #bootLinux} lists it
     * in the ACPI tables. The machine closes the transport and {@code vdpa} with itself. A kernel vhost-vdpa device
     * needs {@link Config#sharedMemory()}.
     *
     * @return the window and GSI
     * @throws ErrnoException from the device's set-up (owner, features, IOTLB, eventfds); {@code vdpa} is closed
     * @throws IllegalArgumentException when the GSIs run out (the IOAPIC has 24 pins)
     */
    public VirtioMmioSlot addVirtioMmio(VdpaDevice vdpa) throws ErrnoException {
        try {
            int i = virtioSlots.size();
            VirtioMmioSlot slot = new VirtioMmioSlot(VIRTIO_MMIO_BASE + i * VirtioMmioSlot.PAGE, VirtioMmioSlot.PAGE,
                    VIRTIO_MMIO_FIRST_GSI + i);
            virtioDevices.add(VirtioMmioVdpa.attach(vm, mmio, slot.base(), slot.gsi(), vdpa));
            vdpaDevices.add(vdpa);
            virtioSlots.add(slot);
            return slot;
        } catch (ErrnoException | RuntimeException e) {
            closeQuietly(vdpa);
            throw e;
        }
    }

    /** {@return the virtio-mmio devices of {@link #addVirtioMmio}, in slot order} */
    public List<VirtioMmioVdpa> virtioDevices() {
        return List.copyOf(virtioDevices);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            System.getLogger(Machine.class.getName()).log(System.Logger.Level.WARNING, "closing " + c, e);
        }
    }

    /**
     * The exits of every vCPU so far by KVM exit reason, named as in {@code linux/kvm.h} ({@code KVM_EXIT_IO}, ...),
     * kicks ({@code KVM_EXIT_INTR}) included, most frequent first; exact once {@link #run()} has returned.
     */
    public LinkedHashMap<String, Long> exitsByReason() {
        Map<Integer, Long> counts = new TreeMap<>();
        for (VcpuRunner r : runners) {
            for (int reason = 0; reason <= VcpuRunner.MAX_COUNTED_REASON; reason++) {
                long n = r.exits(reason);
                if (n > 0) {
                    counts.merge(reason, n, Long::sum);
                }
            }
        }
        LinkedHashMap<String, Long> named = new LinkedHashMap<>();
        counts.entrySet().stream().sorted(Map.Entry.<Integer, Long>comparingByValue().reversed())
                .forEach(e -> named.put(exitReasonName(e.getKey()), e.getValue()));
        return named;
    }

    /**
     * Counts port I/O exits per port on every vCPU from now on ({@link #exitsByPort}); call before {@link #run()}.
     * Costs 512 KiB per vCPU and one array increment per port exit.
     */
    public void countPortExits() {
        runners.forEach(VcpuRunner::countPorts);
    }

    /**
     * The ports with the most exits so far (after {@link #countPortExits}), as {@code "0x3f8"} to count, most
     * frequent first; exact once {@link #run()} has returned.
     *
     * @param limit how many ports at most
     */
    public LinkedHashMap<String, Long> exitsByPort(int limit) {
        long[] total = new long[0x10000];
        for (VcpuRunner r : runners) {
            for (int p = 0; p < total.length; p++) {
                total[p] += r.exitsAtPort(p);
            }
        }
        LinkedHashMap<String, Long> top = new LinkedHashMap<>();
        IntStream.range(0, total.length).filter(p -> total[p] > 0).boxed()
                .sorted((a, b) -> Long.compare(total[b], total[a])).limit(limit)
                .forEach(p -> top.put("0x" + Integer.toHexString(p), total[p]));
        return top;
    }

    private static String exitReasonName(int reason) {
        return switch (reason) {
            case 0 -> "KVM_EXIT_UNKNOWN";
            case 2 -> "KVM_EXIT_IO";
            case 5 -> "KVM_EXIT_HLT";
            case 6 -> "KVM_EXIT_MMIO";
            case 8 -> "KVM_EXIT_SHUTDOWN";
            case 9 -> "KVM_EXIT_FAIL_ENTRY";
            case 10 -> "KVM_EXIT_INTR";
            case 17 -> "KVM_EXIT_INTERNAL_ERROR";
            case 24 -> "KVM_EXIT_SYSTEM_EVENT";
            case 29 -> "KVM_EXIT_X86_RDMSR";
            case 30 -> "KVM_EXIT_X86_WRMSR";
            case VcpuRunner.MAX_COUNTED_REASON -> "reason >= " + VcpuRunner.MAX_COUNTED_REASON;
            default -> "exit reason " + reason;
        };
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
        if (length > 0 && !memory().isMapped(addr, length)) {
            throw new IllegalArgumentException("guest bytes at 0x" + Long.toHexString(addr) + "+" + length
                    + " do not fit in " + (config.memorySize() >> 20) + " MiB of RAM");
        }
    }

    private void start(long entry, Mode mode) throws ErrnoException {
        for (Vcpu c : vcpus) {
            long stack = config.memorySize() - c.id() * X86Boot.STACK_SIZE - 16;
            switch (mode) {
                case REAL -> X86Boot.realMode(c, (int) (entry >>> 4), (int) (entry & 0xf));
                case PROTECTED -> X86Boot.protectedMode(c, memory(), X86Boot.TABLES_BASE, entry, stack);
                case LONG -> X86Boot.longMode(c, memory(), X86Boot.TABLES_BASE, entry, stack);
            }
            MemorySegment r = X86Vcpu.of(c).getRegs();
            kvm_regs.rdi(r, c.id());
            X86Vcpu.of(c).setRegs(r);
            if (config.irqchip() && c.id() > 0) {
                c.setMpState(kvm_h.KVM_MP_STATE_RUNNABLE());
            }
        }
    }

    // ---- snapshots ----

    /**
     * Makes {@link #run()} save the machine to {@code file} once it has run for {@code after} (measured from
     * {@link #run()}'s start): it parks every vCPU outside {@code KVM_RUN}, writes the snapshot
     * ({@link MachineSnapshot#save}), and ends the run with {@link Outcome#SNAPSHOT} and {@link #EXIT_SNAPSHOT}, or
     * with {@link Outcome#SNAPSHOT_FAILED} and {@link #EXIT_INTERNAL} when the save fails. A guest that finishes
     * first ends the run as usual and no file is written. Call before {@link #run()}.
     *
     * @throws UnsavedStateException when the machine has devices a snapshot cannot hold (see
     *         {@link #snapshotRefusals()}), so the refusal comes before the guest runs
     */
    public void snapshotAfter(Duration after, java.nio.file.Path file) {
        List<String> refused = snapshotRefusals();
        if (!refused.isEmpty()) {
            throw new UnsavedStateException("cannot snapshot this machine: " + String.join("; ", refused));
        }
        this.snapshotFile = java.util.Objects.requireNonNull(file, "file");
        this.snapshotAfter = after;
    }

    /**
     * What keeps this machine from being saved, one line per device: the virtio-mmio devices (their queues live
     * in a vDPA device, the kernel's or a model, whose ring state is not saved) and any device a caller put on the
     * buses that does not implement {@link DeviceState}. Empty when a snapshot can be taken.
     */
    public List<String> snapshotRefusals() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < virtioDevices.size(); i++) {
            out.add("virtio-mmio device " + i + " at 0x" + Long.toHexString(virtioSlots.get(i).base()) + " served by "
                    + vdpaDevices.get(i) + ": its virtqueue and device state are not saved");
        }
        for (Bus b : List.of(pio, mmio)) {
            for (var r : b.ranges()) {
                BusDevice d = b.deviceAt(r.base()).orElseThrow();
                if (!builtIn.contains(d) && !(d instanceof DeviceState) && !isVirtioWindow(b, r.base())) {
                    out.add(b.name() + " device at 0x" + Long.toHexString(r.base()) + " (" + d.getClass().getName()
                            + ") does not implement DeviceState");
                }
            }
        }
        return out;
    }

    private boolean isVirtioWindow(Bus b, long base) {
        return b == mmio && virtioSlots.stream().anyMatch(s -> s.base() == base);
    }

    /** Parks the vCPUs, saves, and ends the run; a pause that does not succeed now is tried again at the next poll. */
    private void saveSnapshot() throws InterruptedException {
        if (!world.tryLock()) {
            return;
        }
        try {
            if (!pause.pauseAll(PARK_TIMEOUT_MS)) {
                return;
            }
            serial.flush();
            try {
                MachineSnapshot.save(this, snapshotFile, guestTime());
                stopRunners();      // before the pause ends: no vCPU may run guest code after the save
                finish(Outcome.SNAPSHOT, EXIT_SNAPSHOT, "saved a snapshot to " + snapshotFile);
            } catch (java.io.IOException | IllegalStateException e) {
                stopRunners();
                finish(Outcome.SNAPSHOT_FAILED, EXIT_INTERNAL, "the snapshot to " + snapshotFile + " failed: "
                        + e.getMessage());
            }
        } finally {
            pause.resume();
            world.unlock();
        }
    }

    // ---- migration (MachineMigration drives these from its own thread while run() goes on) ----

    /**
     * Parks every vCPU outside {@code KVM_RUN} and keeps them there, for a migration's switchover; on true the
     * caller must end with {@link #endMoved} or {@link #resumeAfterFailedMove}, on the same thread.
     *
     * @return false when the vCPUs did not park within {@code timeoutMs} or the run is ending (nothing held)
     */
    boolean parkForSwitchover(long timeoutMs) throws InterruptedException {
        if (!running()) {
            return false;
        }
        world.lockInterruptibly();
        boolean parked = false;
        try {
            parked = pause.pauseAll(timeoutMs);
            if (parked) {
                serial.flush();
            }
            return parked;
        } finally {
            if (!parked) {
                pause.resume();
                world.unlock();
            }
        }
    }

    /** After a switchover that moved the guest: this run ends ({@link Outcome#MIGRATED}); no vCPU runs again. */
    void endMoved(String message) {
        try {
            stopRunners();      // before the pause ends: no vCPU may run guest code once its state has left
            finish(Outcome.MIGRATED, EXIT_SNAPSHOT, message);
        } finally {
            pause.resume();
            world.unlock();
        }
    }

    /** After a switchover that failed before the destination took over: the guest runs on here. */
    void resumeAfterFailedMove() {
        pause.resume();
        world.unlock();
    }

    /** Whether {@link #run()} has started its vCPUs and not yet ended. */
    boolean running() {
        return startNanos != 0 && finished.getCount() > 0;
    }

    /** How long the guest has run, snapshots it resumed from included (the time limit's measure). */
    Duration guestTime() {
        return elapsedBefore.plusNanos(System.nanoTime() - startNanos);
    }

    private void stopRunners() {
        for (VcpuRunner r : runners) {
            r.stop();
        }
    }

    /** {@return the settings this machine was built with} */
    public Config config() {
        return config;
    }

    /** The device models whose state is the machine's, by the name a snapshot stores them under, in a fixed order. */
    LinkedHashMap<String, DeviceState> ownDevices() {
        LinkedHashMap<String, DeviceState> d = new LinkedHashMap<>();
        d.put("serial", serial);
        d.put("port92", port92);
        d.put("i8042", i8042);
        if (picMaster != null) {
            d.put("pic-master", picMaster);
            d.put("pic-slave", picSlave);
        }
        d.put("fw_cfg", fwCfg);
        d.put("pc-testdev", pcTestdev);
        d.put("pci-host", pciHost);
        d.put("pci-testdev", pciTestdev);
        return d;
    }

    /** Devices a caller added that carry their own state ({@link DeviceState}), by bus and address. */
    LinkedHashMap<String, DeviceState> addedDevices() {
        LinkedHashMap<String, DeviceState> d = new LinkedHashMap<>();
        for (Bus b : List.of(pio, mmio)) {
            for (var r : b.ranges()) {
                if (b.deviceAt(r.base()).orElseThrow() instanceof DeviceState s && !builtIn.contains(s)) {
                    d.putIfAbsent(b.name() + "@0x" + Long.toHexString(r.base()), s);
                }
            }
        }
        return d;
    }

    /**
     * How the boot changed the machine, as bits: 1 the UART's interrupt is on ({@link #bootLinux}), 2 port 0xe0 is
     * the ucall port, 4 port 0xe0 is pc-testdev's data window ({@link #bootMultiboot}), 8 the PCI configuration ports
     * are there.
     */
    int bootChanges() {
        BusDevice e0 = pio.deviceAt(Ucall.PORT).orElse(null);
        return (serialInterrupts ? 1 : 0) | (e0 instanceof UcallPort ? 2 : 0) | (e0 == pcTestdevWord ? 4 : 0)
                | (pio.deviceAt(PciHostBridge.ADDRESS_PORT).isPresent() ? 8 : 0);
    }

    /** Makes a freshly built machine's ports what {@link #bootChanges()} says of the saved one. */
    void applyBootChanges(int bits) {
        serialInterrupts = (bits & 1) != 0;
        if ((bits & 2) == 0 && pio.deviceAt(Ucall.PORT).orElse(null) instanceof UcallPort) {
            pio.remove(Ucall.PORT);
        }
        if ((bits & 4) != 0 && pio.deviceAt(Ucall.PORT).isEmpty()) {
            pio.insert(pcTestdevWord, PcTestdev.DATA_PORT, 4);
        }
        if ((bits & 8) == 0) {
            for (int port : new int[] {PciHostBridge.ADDRESS_PORT, PciHostBridge.DATA_PORT}) {
                if (pio.deviceAt(port).isPresent()) {
                    pio.remove(port);
                }
            }
        }
    }

    /** Whether a vCPU left its run for good (a HLT without the in-kernel irqchip): a snapshot cannot resume it. */
    int haltedVcpus() {
        return halted.get();
    }

    void setElapsedBefore(Duration d) {
        elapsedBefore = d;
    }

    /** {@return whether the UART's interrupt is on, as after {@link #bootLinux}: a console that takes input} */
    public boolean serialInterrupts() {
        return serialInterrupts;
    }

    /**
     * How long {@link #run} waits, after the run has ended, for every vCPU thread to stop. A thread inside KVM_RUN
     * stops at the first kick; one blocked in a device model is left behind after this, named in the result.
     */
    public static final Duration STOP_WAIT = Duration.ofSeconds(5);

    /**
     * Runs every vCPU on its own platform thread until the guest finishes or the time limit passes. Returns at
     * most {@link #STOP_WAIT} after that, even if a device model keeps a vCPU thread.
     */
    public Result run() throws InterruptedException {
        startNanos = System.nanoTime() | 1;     // never 0: 0 means not started (running())
        pause.started(runners.size());
        List<Thread> threads = new ArrayList<>();
        for (VcpuRunner r : runners) {
            // daemon: a vCPU thread stuck in a device model must not keep the JVM alive after the run
            threads.add(Thread.ofPlatform().daemon().name("vcpu-" + r.vcpu().id()).start(() -> loop(r)));
        }
        long deadline = startNanos + config.timeout().minus(elapsedBefore).toNanos();
        Duration snapshotDelay = snapshotAfter;
        long snapshotAt = snapshotDelay == null ? 0 : startNanos + snapshotDelay.toNanos();
        int idleChecks = 0;
        while (!finished.await(IDLE_POLL_MS, TimeUnit.MILLISECONDS)) {
            serial.flush();
            if (snapshotDelay != null && System.nanoTime() - snapshotAt >= 0) {
                saveSnapshot();
                continue;
            }
            if (System.nanoTime() - deadline >= 0) {
                finish(Outcome.TIMEOUT, EXIT_TIMEOUT, "the guest ran past its time limit of "
                        + config.timeout().toSeconds() + " s" + (elapsedBefore.isZero() ? ""
                                : " (" + elapsedBefore.toMillis() + " ms of it before the snapshot it resumed from)"));
                break;
            }
            if (config.irqchip()) {
                idleChecks = allIdle() ? idleChecks + 1 : 0;
                if (idleChecks >= 2) {
                    finish(Outcome.HALTED, 0, "all vCPUs halted with interrupts disabled");
                }
            }
        }
        // A kick ends KVM_RUN, but not a device model that blocks on a vCPU thread: wait a bounded time, then
        // report the threads still busy rather than hang the caller.
        long stopDeadline = System.nanoTime() + STOP_WAIT.toNanos();
        List<String> busy = new ArrayList<>();
        for (Thread t : threads) {
            while (t.isAlive() && System.nanoTime() - stopDeadline < 0) {
                for (Vcpu c : vcpus) {
                    c.kick();
                }
                t.join(50);
            }
            if (t.isAlive()) {
                busy.add(t.getName());
            }
        }
        serial.flush();
        // Ended threads' exit counts are final and visible here (a busy thread's may still grow).
        long exits = runners.stream().mapToLong(VcpuRunner::guestExits).sum();
        Result r = result.get();
        String message = busy.isEmpty() ? r.message() : r.message() + "; " + String.join(", ", busy)
                + " still busy " + STOP_WAIT.toSeconds() + " s after the run ended (a device model that does not "
                + "return?), left behind";
        return new Result(r.outcome(), r.exitStatus(), message, r.elapsed(), exits);
    }

    private void loop(VcpuRunner runner) {
        try {
            runner.run();
        } catch (ErrnoException e) {
            finish(Outcome.ERROR, EXIT_KVM_ERROR, "vCPU " + runner.vcpu().id() + ": " + e.getMessage());
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            // a device model or handler failed on this vCPU's thread: end the run with a report, not a dead thread
            StackTraceElement[] at = e.getStackTrace();
            finish(Outcome.PANAVIRT_ERROR, EXIT_INTERNAL, "internal error on vCPU " + runner.vcpu().id() + ": " + e
                    + (at.length > 0 ? " (at " + at[0] + ")" : ""));
        } finally {
            pause.ended();
        }
    }

    /** The machine's policy for the exits that are not bus I/O: when the run ends and with what result. */
    private VcpuRunner.Step onExit(Vcpu c, VcpuExit exit) {
        switch (exit) {
            case VcpuExit.Interrupted i -> {
                if (pause.requested()) {
                    pause.park();
                }
                return VcpuRunner.Step.CONTINUE;
            }
            case VcpuExit.DirtyRingFull f -> {
                // KVM re-enters only once the harvest has reset the ring (KVM_RESET_DIRTY_RINGS): wait for it
                // briefly rather than spin on KVM_RUN. A pause must be honoured here too: a vCPU with a full ring
                // exits with this reason again at every entry, never with the kick's KVM_EXIT_INTR.
                if (pause.requested()) {
                    pause.park();
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(RING_FULL_WAIT_NANOS);
                }
                return VcpuRunner.Step.CONTINUE;
            }
            case VcpuExit.Hlt h -> {
                if (halted.incrementAndGet() == vcpus.size()) {
                    finish(Outcome.HALTED, 0, "all vCPUs halted");
                }
            }
            case VcpuExit.Shutdown s -> finish(Outcome.TRIPLE_FAULT, EXIT_TRIPLE_FAULT,
                    "vCPU " + c.id() + " triple-faulted (KVM_EXIT_SHUTDOWN)" + shutdownState(c));
            case VcpuExit.InternalError e -> finish(Outcome.INTERNAL_ERROR, EXIT_KVM_ERROR,
                    "KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror " + internalError(e) + ") on vCPU " + c.id()
                            + VcpuReport.where(c, memory()));
            case VcpuExit.FailEntry f -> finish(Outcome.FAIL_ENTRY, EXIT_KVM_ERROR, "KVM could not enter vCPU "
                    + c.id() + " (KVM_EXIT_FAIL_ENTRY, reason 0x" + Long.toHexString(f.hardwareEntryFailureReason())
                    + ")" + VcpuReport.where(c, memory()));
            case VcpuExit.SystemEvent e -> finish(Outcome.SYSTEM_EVENT,
                    e.type() == kvm_h.KVM_SYSTEM_EVENT_SHUTDOWN() ? 0 : EXIT_KVM_ERROR, "guest system event " + e.type());
            case VcpuExit.MemoryFault f -> finish(Outcome.MEMORY_FAULT, EXIT_KVM_ERROR, "vCPU " + c.id()
                    + " touched memory KVM could not map (KVM_EXIT_MEMORY_FAULT, " + f + ")" + VcpuReport.where(c, memory()));
            case VcpuExit.Unknown u -> finish(Outcome.UNKNOWN_EXIT, EXIT_KVM_ERROR,
                    "unhandled exit reason " + u.reason() + " on vCPU " + c.id() + VcpuReport.where(c, memory()));
            case VcpuExit.Io io -> throw new IllegalStateException("port I/O is the bus's: " + io);
            case VcpuExit.Mmio m -> throw new IllegalStateException("MMIO is the bus's: " + m);
        }
        return VcpuRunner.Step.STOP;
    }

    /** Ends the run with this outcome, unless another one came first; wakes every vCPU. */
    public void finish(Outcome outcome, int status, String message) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - startNanos);
        if (result.compareAndSet(null, new Result(outcome, status, message, elapsed, 0))) {
            pause.stop();
            for (VcpuRunner r : runners) {
                r.stop();
            }
            finished.countDown();
        }
    }

    /**
     * Whether every vCPU is halted with interrupts disabled or not started (see the class comment). Parks all vCPU
     * threads for the duration of the check, so the states read belong together.
     */
    private boolean allIdle() throws InterruptedException {
        if (!world.tryLock()) {
            return false;       // a switchover holds the vCPUs: they are not idle, they are moving
        }
        try {
            if (!pause.pauseAll(PARK_TIMEOUT_MS)) {
                return false;
            }
            for (Vcpu c : vcpus) {
                int mp = c.getMpState();
                if (mp == kvm_h.KVM_MP_STATE_HALTED()) {
                    if ((kvm_regs.rflags(X86Vcpu.of(c).getRegs()) & RFLAGS_IF) != 0) {
                        return false;
                    }
                } else if (mp != kvm_h.KVM_MP_STATE_UNINITIALIZED() && mp != kvm_h.KVM_MP_STATE_INIT_RECEIVED()) {
                    return false;
                }
            }
            return true;
        } catch (ErrnoException e) {
            return false;
        } finally {
            pause.resume();
            world.unlock();
        }
    }

    /** The suberror with its name, and KVM's extra data words (QEMU prints the same). */
    private static String internalError(VcpuExit.InternalError e) {
        StringBuilder sb = new StringBuilder().append(e.suberror());
        String name = switch (e.suberror()) {
            case 1 -> "emulation failure: KVM's instruction emulator cannot handle the instruction";
            case 2 -> "exception while delivering an exception";
            case 3 -> "error while delivering an event";
            case 4 -> "unexpected exit reason";
            default -> null;
        };
        if (name != null) {
            sb.append(", ").append(name);
        }
        if (e.ndata() > 0) {
            sb.append(", data");
            for (int i = 0; i < e.ndata(); i++) {
                sb.append(" 0x").append(Long.toHexString(e.data(i)));
            }
        }
        return sb.toString();
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

    /** Closes the virtio devices, the VM and {@code /dev/kvm}; call after {@link #run()} has returned. */
    @Override
    public void close() {
        virtioDevices.forEach(VirtioMmioVdpa::close);
        vdpaDevices.forEach(Machine::closeQuietly);
        vm.close();
        kvm.close();
    }

    /**
     * Where the vCPU was when it shut down, if that can still be known. kvm_amd re-initialises a vCPU before it
     * reports the shutdown (arch/x86/kvm/svm/svm.c, {@code shutdown_interception}), so its registers then read
     * the reset state (RIP 0xfff0), not the faulting one; say so instead of presenting them.
     */
    private String shutdownState(Vcpu c) {
        if (flavour == KvmFlavour.SVM) {
            return "; the faulting state is lost: kvm_amd re-initialises the vCPU on shutdown, its registers now"
                    + " read the reset state";
        }
        return VcpuReport.where(c, memory());
    }
}
