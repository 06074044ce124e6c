package dev.panavirt.cli;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.machine.BzImage;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.machine.GuestLoader;
import dev.panavirt.machine.Machine;
import dev.panavirt.machine.MachineSnapshot;
import dev.panavirt.machine.Multiboot;
import dev.panavirt.machine.MultibootInfo;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VhostVdpa;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code panavirt run [GUEST]} or {@code panavirt run --kernel FILE}: runs a guest on the real /dev/kvm with its
 * serial console on stdout.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run a guest on /dev/kvm with COM1 on stdout. Without GUEST, runs a built-in demo guest.",
                "GUEST is an x86 ELF (64-bit: long mode, 32-bit: flat protected mode) or a flat binary.",
                "--kernel boots a multiboot kernel the way QEMU's -kernel does (kvm-unit-tests): EAX=0x2BADB002, "
                        + "EBX=multiboot info with the command line \"FILE ARGS\", the --initrd file as its one module, "
                        + "memory map; fw_cfg on 0x510, isa-debug-exit on 0xf4, in-kernel LAPIC/IOAPIC/PIC/PIT; "
                        + "APs start through the kernel's INIT/SIPI.",
                "--kernel also boots a 64-bit Linux bzImage (boot protocol 2.12 or later) at its 64-bit entry: zero "
                        + "page with e820 map, --append as the kernel command line (default \"" + RunCommand.LINUX_CMDLINE
                        + "\"), --initrd as the initramfs; COM1 with IRQ 4 and input from stdin; --mem defaults to "
                        + RunCommand.LINUX_DEFAULT_MEM + ". The run ends with status 0 when the kernel reboots "
                        + "(keyboard controller reset, reboot=k).",
                "The machine (as QEMU's -M pc with -device pc-testdev -device pci-testdev -no-reboot):",
                "  pc-testdev: IRQ lines 0x2000-0x2017, scratch 0xe0/0xe8, flush page 0xe4, IORAM 0xff000000 (64K);",
                "  PCI config mechanism #1 0xcf8/0xcfc: host bridge 00:00.0, pci-testdev 00:01.0 (BAR0 0xfe000000, "
                        + "BAR1 0xc000);",
                "  port 0x92 (A20; the reset bit ends the run with status 0); keyboard controller 0x60/0x64 (command "
                        + "0xfe resets: the run ends with status 0); unmapped ports read all ones;",
                "  CPUID with the HYPERVISOR bit and KVM's leaves 0x40000000-0x40000001 unless --no-kvm-cpuid."},
        footer = {"", "Exit status:",
                "  the guest's    isa-debug-exit port 0xf4: (code << 1) | 1, low 8 bits as QEMU;",
                "                 ucall DONE: value & 0xff",
                "  0              all vCPUs halted (in-kernel irqchip: halted, interrupts off), or the guest reset",
                "                 the machine (port 0x92, or command 0xfe on port 0x64: a Linux reboot)",
                "  124            the time limit passed",
                "  125            triple fault (KVM_EXIT_SHUTDOWN)",
                "  126            KVM internal error, failed entry or unhandled exit",
                "  75             --snapshot wrote the machine to its file (resume it with --restore FILE)",
                "  2              a usage error (options that do not fit together or are out of range)",
                "  65             the guest file (or the --restore file) is unreadable or malformed",
                "  69             /dev/kvm is missing or not usable",
                "  70             an internal error of panavirt"})
final class RunCommand implements Callable<Integer> {
    /** The CPU mode for flat binaries. */
    enum ModeOption { real, protected_, long_;
        Machine.Mode mode() {
            return switch (this) {
                case real -> Machine.Mode.REAL;
                case protected_ -> Machine.Mode.PROTECTED;
                case long_ -> Machine.Mode.LONG;
            };
        }
    }

    @Parameters(index = "0", arity = "0..1", paramLabel = "GUEST", description = "Guest file (ELF or flat binary).")
    Path guest;

    @Option(names = "--kernel", paramLabel = "FILE", description = "Boot this kernel instead of GUEST: a Linux "
            + "bzImage, or a multiboot kernel (ELF32, or a file whose multiboot header gives its load addresses); "
            + "implies --irqchip.")
    Path kernel;

    @Option(names = "--append", paramLabel = "ARGS", description = "Arguments for --kernel: a multiboot kernel's "
            + "command line is FILE, a space and ARGS; a Linux kernel's is ARGS (default: \"" + LINUX_CMDLINE + "\").")
    String append;

    @Option(names = "--initrd", paramLabel = "FILE", description = "Give this file to --kernel: a Linux kernel's "
            + "initramfs (cpio, optionally compressed), or a multiboot kernel's boot module (kvm-unit-tests read it "
            + "as KEY=VALUE environment lines).")
    Path initrd;

    @Option(names = "--disk", paramLabel = "FILE[,ro]", description = "With a Linux kernel: a virtio-blk disk "
            + "backed by FILE (whole 512-byte sectors; writes reach the file, flush is fdatasync; ,ro makes it "
            + "read-only), served by panavirt's vDPA model on virtio-mmio. Repeatable; disks come first (vda, vdb...).")
    List<String> disks = new ArrayList<>();

    @Option(names = "--net", paramLabel = "vdpa:NODE|model", description = "With a Linux kernel: a virtio-net "
            + "device on virtio-mmio whose queues a vhost-vdpa device serves: vdpa:/dev/vhost-vdpa-N (a kernel vDPA "
            + "device; guest RAM then lives in a shared memfd) or model (panavirt's model of vdpa_sim_net, MAC "
            + "52:54:00:12:34:56, which loops every frame back). Repeatable.")
    List<String> nets = new ArrayList<>();

    @Option(names = "--mem", defaultValue = "64M", description = "Guest RAM from address 0, 1M to 3G, e.g. 64M or "
            + "1G (default: ${DEFAULT-VALUE}; " + LINUX_DEFAULT_MEM + " for a Linux kernel).")
    String memory;

    @Option(names = "--vcpus", defaultValue = "1", description = "Number of vCPUs, 1 to 64 (default: ${DEFAULT-VALUE}).")
    int vcpus;

    @Option(names = "--mode", defaultValue = "long", converter = ModeConverter.class,
            description = "CPU mode for a flat binary: real, protected or long (default: ${DEFAULT-VALUE}).")
    ModeOption mode;

    @Option(names = "--load-address", description = "Where a flat binary is loaded and entered "
            + "(default 0x100000; 0x7c00 in real mode).")
    String loadAddress;

    /** {@code --load-address} as a number, checked; -1 when not given. */
    private long loadAt = -1;

    @Option(names = "--timeout", defaultValue = "10", description = "Time limit in seconds, at least 1 "
            + "(default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--irqchip", description = "Create KVM's in-kernel PIC, IOAPIC, local APICs and PIT.")
    boolean irqchip;

    @Option(names = "--no-kvm-cpuid", description = "Hide the hypervisor from CPUID: no HYPERVISOR bit (leaf 1 "
            + "ECX bit 31) and no KVM leaves 0x40000000/0x40000001, like QEMU's -cpu ...,kvm=off,-hypervisor.")
    boolean noKvmCpuid;

    @Option(names = "--snapshot", paramLabel = "FILE", description = "With --snapshot-after: pause the vCPUs at "
            + "that time, write the whole machine to FILE (RAM as a sparse file) and exit with status 75.")
    Path snapshot;

    @Option(names = "--snapshot-after", paramLabel = "DURATION", description = "When --snapshot saves, measured from "
            + "the start of the run: e.g. 500ms, 2s, 1m.")
    String snapshotAfter;

    @Option(names = "--restore", paramLabel = "FILE", description = "Resume the machine a --snapshot wrote to FILE "
            + "(its RAM, vCPUs, devices and time limit); takes no guest and no machine options.")
    Path restore;

    @Spec
    CommandSpec spec;

    /** How a booted machine runs and what status the command ends with: {@code migrate}'s, instead of run's. */
    interface Runner {
        int run(Machine machine, PrintWriter err) throws Exception;
    }

    /** Set by {@code migrate}: runs the machine in its place (null: run it here). */
    Runner runner;
    /** Set by {@code migrate}: adjusts the machine's settings (its dirty ring). */
    java.util.function.UnaryOperator<Machine.Config> configure = c -> c;
    /** Set by {@code migrate}: the guest to load when no file is given (null: the greeting demo). */
    GuestImage demo;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Duration snapshotDelay = checkSnapshotOptions();
        if (restore != null) {
            return resume(err, snapshotDelay);
        }
        long mem = checkOptions();
        // Files are read and parsed before KVM is looked at: a bad file is status 65 on any host.
        Guest parsed = parseGuest(err);
        if (parsed == null) {
            err.flush();
            return Main.EXIT_BAD_INPUT;
        }
        if (parsed instanceof Guest.Linux && !spec.commandLine().getParseResult().hasMatchedOption("--mem")) {
            mem = parseSize(LINUX_DEFAULT_MEM);
        }
        if (!(parsed instanceof Guest.Linux) && (!disks.isEmpty() || !nets.isEmpty())) {
            throw new ParameterException(spec.commandLine(), "--disk and --net need a Linux kernel (--kernel with a "
                    + "bzImage): the virtio-mmio devices are announced in its ACPI tables");
        }
        if (!Kvm.available()) {
            err.println("panavirt: " + Kvm.DEVICE + (Files.exists(Kvm.DEVICE) ? " is not readable and writable by "
                    + "this user" : " does not exist: this host has no KVM") + "; cannot run a guest");
            err.flush();
            return Main.EXIT_NO_KVM;
        }
        Machine.Config config = configure.apply(new Machine.Config(mem, vcpus, irqchip || kernel != null,
                Duration.ofSeconds(timeoutSeconds), !noKvmCpuid)
                .withSharedMemory(nets.stream().anyMatch(n -> n.startsWith("vdpa:"))));
        AtomicLong demoWrite = new AtomicLong(-1);
        try (Machine m = new Machine(config, new StreamingOut(System.out))) {
            try {
                switch (parsed) {
                    case Guest.Kernel k -> m.bootMultiboot(k.kernel(), k.cmdline(), k.modules());
                    case Guest.Linux l -> {
                        if (!addDevices(m, err)) {
                            err.flush();
                            return Main.EXIT_BAD_INPUT;
                        }
                        m.bootLinux(l.kernel(), l.cmdline(), l.initramfs());
                        startInput(m);
                        m.countPortExits();
                    }
                    case Guest.Elf e -> m.load(e.elf());
                    case Guest.Flat f -> m.load(f.image(), f.mode());
                    case Guest.Demo d when demo != null -> m.load(demo, Machine.Mode.LONG);
                    case Guest.Demo d -> {
                        m.mmio().insert(new BusDevice() {
                            @Override
                            public void write(long base, long offset, MemorySegment data) {
                                demoWrite.set(BusData.get(data));
                            }

                            @Override
                            public void read(long base, long offset, MemorySegment data) {
                                BusData.set(data, 42);
                            }
                        }, DemoGuest.DEVICE, 0x1000);
                        m.load(DemoGuest.image(), Machine.Mode.LONG);
                    }
                }
            } catch (IllegalArgumentException e) {
                // the file is well-formed but does not fit this machine (its RAM, the boot tables)
                err.println("panavirt: " + (kernel != null ? kernel : guest) + ": " + e.getMessage());
                err.flush();
                return Main.EXIT_BAD_INPUT;
            }
            if (snapshot != null && !snapshotRefused(m, err, snapshotDelay)) {
                return Main.EXIT_USAGE;
            }
            if (runner != null) {
                return runner.run(m, err);
            }
            Machine.Result r = m.run();
            System.out.flush();
            err.printf(Locale.ROOT, "panavirt: %s (exit status %d) after %d exits in %d ms%n", r.message(),
                    r.exitStatus(), r.exits(), r.elapsed().toMillis());
            if (parsed instanceof Guest.Linux) {
                err.println("panavirt: exits by reason: " + m.exitsByReason() + "; port I/O exits, busiest ports: "
                        + m.exitsByPort(8));
            }
            if (parsed instanceof Guest.Demo && demoWrite.get() >= 0) {
                err.printf(Locale.ROOT, "panavirt: the demo's MMIO device received 0x%x (the UART line status) "
                        + "and answered a read with 42%n", demoWrite.get());
            }
            err.flush();
            return r.exitStatus();
        } catch (ErrnoException e) {
            err.println("panavirt: " + e.getMessage());
            err.flush();
            return Machine.EXIT_KVM_ERROR;
        }
    }

    /**
     * Checks --snapshot, --snapshot-after and --restore against the other options; returns the snapshot delay, or
     * null without --snapshot.
     */
    private Duration checkSnapshotOptions() {
        var parsed = spec.commandLine().getParseResult();
        if ((snapshot == null) != (snapshotAfter == null)) {
            throw new ParameterException(spec.commandLine(), "--snapshot FILE and --snapshot-after DURATION go together");
        }
        if (restore != null) {
            for (String o : new String[] {"--kernel", "--append", "--initrd", "--disk", "--net", "--mem", "--vcpus",
                    "--mode", "--load-address", "--timeout", "--irqchip", "--no-kvm-cpuid"}) {
                if (parsed.hasMatchedOption(o)) {
                    throw new ParameterException(spec.commandLine(), o + " does not go with --restore: the machine, "
                            + "its guest and its time limit come from the snapshot");
                }
            }
            if (guest != null) {
                throw new ParameterException(spec.commandLine(), "give either GUEST or --restore FILE, not both");
            }
        }
        if (snapshotAfter == null) {
            return null;
        }
        try {
            return parseDuration(snapshotAfter);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--snapshot-after: " + e.getMessage());
        }
    }

    /** "500ms", "2s", "1m" (a bare number is seconds) to a positive duration. */
    static Duration parseDuration(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long unitNanos = 1_000_000_000L;
        if (t.endsWith("ms")) {
            unitNanos = 1_000_000L;
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("s")) {
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("m")) {
            unitNanos = 60_000_000_000L;
            t = t.substring(0, t.length() - 1);
        }
        long n;
        try {
            n = Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a duration: " + s + " (use e.g. 500ms, 2s or 1m)");
        }
        if (n <= 0 || n > Long.MAX_VALUE / unitNanos) {
            throw new IllegalArgumentException("must be positive and below 292 years, not " + s);
        }
        return Duration.ofNanos(n * unitNanos);
    }

    /** Arms the snapshot; false (said on err) when the machine has devices a snapshot cannot hold. */
    private boolean snapshotRefused(Machine m, PrintWriter err, Duration delay) {
        try {
            m.snapshotAfter(delay, snapshot);
            return true;
        } catch (IllegalStateException e) {
            err.println("panavirt: --snapshot: " + e.getMessage());
            err.flush();
            return false;
        }
    }

    /** {@code run --restore FILE}: the machine from the file, run to its end (or to the next snapshot). */
    private int resume(PrintWriter err, Duration snapshotDelay) throws Exception {
        if (!Kvm.available()) {
            err.println("panavirt: " + Kvm.DEVICE + " is not usable here; cannot restore a guest");
            err.flush();
            return Main.EXIT_NO_KVM;
        }
        MachineSnapshot.Restored restored;
        try {
            restored = MachineSnapshot.restore(restore, new StreamingOut(System.out));
        } catch (MachineSnapshot.FormatException e) {
            err.println("panavirt: --restore: " + e.getMessage());
            err.flush();
            return Main.EXIT_BAD_INPUT;
        } catch (ErrnoException e) {
            err.println("panavirt: --restore: " + e.getMessage());
            err.flush();
            return Machine.EXIT_KVM_ERROR;
        } catch (java.io.IOException e) {
            err.println("panavirt: --restore: cannot read " + restore + ": " + e.getMessage());
            err.flush();
            return Main.EXIT_BAD_INPUT;
        }
        try (Machine m = restored.machine()) {
            if (m.serialInterrupts()) {
                startInput(m);
            }
            if (snapshot != null && !snapshotRefused(m, err, snapshotDelay)) {
                return Main.EXIT_USAGE;
            }
            Machine.Result r = m.run();
            System.out.flush();
            err.printf(Locale.ROOT, "panavirt: %s (exit status %d) after %d exits in %d ms, restored from %s in %d ms%n",
                    r.message(), r.exitStatus(), r.exits(), r.elapsed().toMillis(), restore,
                    restored.took().toMillis());
            err.flush();
            return r.exitStatus();
        }
    }

    /**
     * Usage errors picocli cannot see on its own: options that only make sense together, or not at all.
     * Every option is checked here, before KVM is looked at: a usage error is status 2 on any host.
     * Returns the guest RAM size in bytes that {@code --mem} asks for.
     */
    private long checkOptions() {
        var parsed = spec.commandLine().getParseResult();
        long mem;
        try {
            mem = parseSize(memory);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--mem: " + e.getMessage());
        }
        if (mem > MAX_RAM) {
            throw new ParameterException(spec.commandLine(), "--mem: at most " + (MAX_RAM >> 20) + "M of RAM (from "
                    + "address 0 up to the 32-bit hole of the LAPIC and IOAPIC), not " + memory);
        }
        if (mem < MIN_RAM) {
            throw new ParameterException(spec.commandLine(), "--mem: at least 1M, not " + memory);
        }
        if (vcpus < 1 || vcpus > 64) {
            throw new ParameterException(spec.commandLine(), "--vcpus must be between 1 and 64");
        }
        if (timeoutSeconds < 1) {
            throw new ParameterException(spec.commandLine(), "--timeout must be at least 1 second, not " + timeoutSeconds);
        }
        if (loadAddress != null) {
            try {
                loadAt = parseAddress(loadAddress, mem);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--load-address: " + e.getMessage());
            }
        }
        for (String n : nets) {
            if (!n.equals("model") && !(n.startsWith("vdpa:") && n.length() > "vdpa:".length())) {
                throw new ParameterException(spec.commandLine(), "--net: vdpa:/dev/vhost-vdpa-N or model, not " + n);
            }
        }
        if ((!disks.isEmpty() || !nets.isEmpty()) && kernel == null) {
            throw new ParameterException(spec.commandLine(), "--disk and --net need --kernel with a Linux bzImage");
        }
        if (kernel != null) {
            if (guest != null) {
                throw new ParameterException(spec.commandLine(), "give either GUEST or --kernel FILE, not both");
            }
            for (String flatOnly : new String[] {"--mode", "--load-address"}) {
                if (parsed.hasMatchedOption(flatOnly)) {
                    throw new ParameterException(spec.commandLine(), flatOnly + " applies to flat binaries, not to "
                            + "--kernel (a multiboot kernel says where it goes and starts in 32-bit protected mode)");
                }
            }
        } else if (append != null || initrd != null) {
            throw new ParameterException(spec.commandLine(), (append != null ? "--append" : "--initrd")
                    + " needs --kernel FILE");
        }
        return mem;
    }

    /** What {@code run} boots, read and parsed from its files. */
    private sealed interface Guest {
        record Kernel(Multiboot.Kernel kernel, String cmdline, List<Multiboot.Module> modules) implements Guest {}

        record Linux(BzImage kernel, String cmdline, byte[] initramfs) implements Guest {}

        record Elf(GuestLoader.Elf elf) implements Guest {}

        record Flat(GuestImage image, Machine.Mode mode) implements Guest {}

        record Demo() implements Guest {}
    }

    /** The guest the options name, or null after printing why its file cannot be used. */
    private Guest parseGuest(PrintWriter err) {
        if (kernel == null && guest == null) {
            return new Guest.Demo();
        }
        Path file = kernel != null ? kernel : guest;
        byte[] bytes = read(file, err);
        if (bytes == null) {
            return null;
        }
        try {
            if (kernel != null && BzImage.isBzImage(bytes)) {
                byte[] initramfs = new byte[0];
                if (initrd != null) {
                    initramfs = read(initrd, err);
                    if (initramfs == null) {
                        return null;
                    }
                }
                return new Guest.Linux(BzImage.parse(bytes), append == null ? LINUX_CMDLINE : append, initramfs);
            }
            if (kernel != null) {
                List<Multiboot.Module> modules = List.of();
                if (initrd != null) {
                    byte[] module = read(initrd, err);
                    if (module == null) {
                        return null;
                    }
                    modules = List.of(new Multiboot.Module(module, initrd.toString()));
                }
                String cmdline = append == null || append.isEmpty() ? kernel.toString() : kernel + " " + append;
                return new Guest.Kernel(Multiboot.parse(bytes), cmdline, modules);
            }
            if (GuestLoader.isElf(bytes)) {
                return new Guest.Elf(GuestLoader.elf(bytes));
            }
            Machine.Mode md = mode.mode();
            long at = loadAt >= 0 ? loadAt : md == Machine.Mode.REAL ? 0x7c00 : 0x100000;
            return new Guest.Flat(GuestLoader.flat(bytes, at), md);
        } catch (GuestLoader.GuestFormatException | IllegalArgumentException e) {
            err.println("panavirt: " + file + ": " + e.getMessage());
            return null;
        }
    }

    /** The --disk and --net devices, in that order, on virtio-mmio; false (said on err) for an unusable one. */
    private boolean addDevices(Machine m, PrintWriter err) throws ErrnoException {
        for (String d : disks) {
            boolean ro = d.endsWith(",ro");
            Path file = Path.of(ro ? d.substring(0, d.length() - 3) : d);
            try {
                m.addVirtioMmio(ModelVdpa.blk(file, ro));
            } catch (IOException | IllegalArgumentException e) {
                err.println("panavirt: --disk " + d + ": " + e.getMessage());
                return false;
            }
        }
        for (String n : nets) {
            try {
                m.addVirtioMmio(n.equals("model")
                        ? ModelVdpa.net(MODEL_MAC)
                        : VhostVdpa.open(n.substring("vdpa:".length())));
            } catch (ErrnoException e) {
                err.println("panavirt: --net " + n + ": " + e.getMessage());
                return false;
            }
        }
        return true;
    }

    /** Boots a bzImage: --append is its whole command line, --initrd its initramfs. */
    private boolean bootLinux(Machine m, byte[] bytes, PrintWriter err) throws ErrnoException {
        byte[] initramfs = new byte[0];
        if (initrd != null) {
            initramfs = read(initrd, err);
            if (initramfs == null) {
                return false;
            }
        }
        try {
            m.bootLinux(BzImage.parse(bytes), append == null ? LINUX_CMDLINE : append, initramfs);
            return true;
        } catch (GuestLoader.GuestFormatException | IllegalArgumentException e) {
            err.println("panavirt: " + kernel + ": " + e.getMessage());
            return false;
        }
    }

    /**
     * Feeds stdin to COM1 on a daemon thread, as a serial line would: the bytes wait in the UART's queue until the
     * guest reads them. End of input (stdin at /dev/null) ends the thread; a terminal's blocked read never holds
     * the run or the exit up.
     */
    private static void startInput(Machine m) {
        Thread.ofPlatform().daemon().name("console-input").start(() -> {
            byte[] buf = new byte[4096];
            try {
                for (int n; (n = System.in.read(buf)) > 0; ) {
                    for (int off = 0; off < n; ) {
                        int queued = m.serial().queueInput(buf, off, n - off);
                        off += queued;
                        if (queued == 0) {
                            Thread.sleep(10);       // the queue is full until the guest reads
                        }
                    }
                }
            } catch (java.io.IOException | InterruptedException e) {
                // no more input: the guest sees a quiet line
            }
        });
    }

    private static byte[] read(Path file, PrintWriter err) {
        try {
            return InputFiles.bytes(file, InputFiles.MAX_GUEST_FILE);
        } catch (InputFiles.BadInputException e) {
            err.println("panavirt: cannot read " + file + ": " + e.getMessage());
            return null;
        }
    }

    /**
     * The console stream: every byte the guest sends through the UART goes to stdout at once, so a guest's
     * output streams as it arrives (a partial line included).
     */
    static final class StreamingOut extends OutputStream {
        private final PrintStream out;

        StreamingOut(PrintStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) {
            out.write(b);
            out.flush();
        }

        @Override
        public void write(byte[] b, int off, int len) {
            out.write(b, off, len);
            out.flush();
        }

        @Override
        public void flush() {
            out.flush();
        }
    }

    /** The MAC of {@code --net model}: the one the lane gives vdpasim_net, QEMU's first default MAC. */
    static final byte[] MODEL_MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

    /** A Linux kernel's default command line: the console on COM1, reboot through the keyboard controller. */
    static final String LINUX_CMDLINE = "console=ttyS0 reboot=k panic=-1 pci=off";
    /** A Linux kernel's default RAM: room for a distribution kernel's init_size and an initramfs. */
    static final String LINUX_DEFAULT_MEM = "256M";

    /** The least guest RAM: the boot tables and a small guest. */
    static final long MIN_RAM = 1L << 20;
    /** The most guest RAM: from address 0 up to the 32-bit hole where the LAPIC and IOAPIC live. */
    static final long MAX_RAM = MultibootInfo.MAX_RAM;

    /** "64M", "1G", "4096", "512K" to bytes; IllegalArgumentException for anything else or an overflow. */
    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("K")) {
            mult = 1L << 10;
        } else if (t.endsWith("M")) {
            mult = 1L << 20;
        } else if (t.endsWith("G")) {
            mult = 1L << 30;
        }
        if (mult != 1) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            return Math.multiplyExact(Long.parseLong(t), mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: " + s + " (use e.g. 64M or 1G)");
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("too large: " + s);
        }
    }

    /**
     * A guest-physical address below {@code mem}, decimal or {@code 0x} hex; IllegalArgumentException for
     * anything else, an overflow included.
     */
    static long parseAddress(String s, long mem) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long value;
        try {
            value = t.startsWith("0x") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an address: " + s + " (decimal or 0x hex, below the RAM size)");
        }
        if (value < 0 || value >= mem) {
            throw new IllegalArgumentException(s + " is not inside the guest's " + (mem >> 20) + "M of RAM");
        }
        return value;
    }

    /** Accepts real, protected and long for {@link ModeOption}. */
    static final class ModeConverter implements picocli.CommandLine.ITypeConverter<ModeOption> {
        @Override
        public ModeOption convert(String value) {
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "real" -> ModeOption.real;
                case "protected" -> ModeOption.protected_;
                case "long" -> ModeOption.long_;
                default -> throw new picocli.CommandLine.TypeConversionException(
                        "expected real, protected or long, got " + value);
            };
        }
    }
}
