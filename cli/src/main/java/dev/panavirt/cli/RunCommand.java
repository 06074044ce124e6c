package dev.panavirt.cli;

import dev.panavirt.guest.GuestImage;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.machine.GuestLoader;
import dev.panavirt.machine.Machine;
import dev.panavirt.sys.ErrnoException;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code panavirt run [GUEST]}: runs a guest on the real /dev/kvm with its serial console on stdout. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run a guest on /dev/kvm with COM1 on stdout. Without GUEST, runs a built-in demo guest.",
                "GUEST is an x86 ELF (64-bit: long mode, 32-bit: flat protected mode) or a flat binary."},
        footer = {"", "Exit status:",
                "  the guest's    isa-debug-exit port 0xf4: (code << 1) | 1; ucall DONE: value & 0xff",
                "  0              all vCPUs halted",
                "  124            the time limit passed",
                "  125            triple fault (KVM_EXIT_SHUTDOWN)",
                "  126            KVM internal error, failed entry or unhandled exit",
                "  65             the guest file is unreadable or malformed",
                "  69             /dev/kvm is missing or not usable"})
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

    @Option(names = "--mem", defaultValue = "64M", description = "Guest RAM, e.g. 64M or 1G (default: ${DEFAULT-VALUE}).")
    String memory;

    @Option(names = "--vcpus", defaultValue = "1", description = "Number of vCPUs (default: ${DEFAULT-VALUE}).")
    int vcpus;

    @Option(names = "--mode", defaultValue = "long", converter = ModeConverter.class,
            description = "CPU mode for a flat binary: real, protected or long (default: ${DEFAULT-VALUE}).")
    ModeOption mode;

    @Option(names = "--load-address", description = "Where a flat binary is loaded and entered "
            + "(default 0x100000; 0x7c00 in real mode).")
    String loadAddress;

    @Option(names = "--timeout", defaultValue = "10", description = "Time limit in seconds (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--irqchip", description = "Create KVM's in-kernel PIC, IOAPIC, local APICs and PIT.")
    boolean irqchip;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (!Kvm.available()) {
            err.println("panavirt: " + Kvm.DEVICE + (Files.exists(Kvm.DEVICE) ? " is not readable and writable by "
                    + "this user" : " does not exist: this host has no KVM") + "; cannot run a guest");
            err.flush();
            return Main.EXIT_NO_KVM;
        }
        long mem = parseSize(memory);
        if (vcpus < 1 || vcpus > 64) {
            err.println("panavirt: --vcpus must be between 1 and 64");
            return Main.EXIT_USAGE;
        }
        Machine.Config config = new Machine.Config(mem, vcpus, irqchip, Duration.ofSeconds(timeoutSeconds));
        AtomicLong demoWrite = new AtomicLong(-1);
        try (Machine m = new Machine(config, System.out)) {
            if (guest == null) {
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
            } else if (!load(m, err)) {
                return Main.EXIT_BAD_GUEST;
            }
            Machine.Result r = m.run();
            System.out.flush();
            err.printf(Locale.ROOT, "panavirt: %s (exit status %d) after %d exits in %d ms%n", r.message(),
                    r.exitStatus(), r.exits(), r.elapsed().toMillis());
            if (guest == null && demoWrite.get() >= 0) {
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

    private boolean load(Machine m, PrintWriter err) throws ErrnoException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(guest);
        } catch (IOException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.getMessage();
            err.println("panavirt: cannot read " + guest + ": " + why);
            return false;
        }
        try {
            if (GuestLoader.isElf(bytes)) {
                m.load(GuestLoader.elf(bytes));
            } else {
                Machine.Mode md = mode.mode();
                long load = loadAddress != null ? Long.decode(loadAddress) : md == Machine.Mode.REAL ? 0x7c00 : 0x100000;
                GuestImage image = GuestLoader.flat(bytes, load);
                m.load(image, md);
            }
            return true;
        } catch (GuestLoader.GuestFormatException | IllegalArgumentException e) {
            err.println("panavirt: " + guest + ": " + e.getMessage());
            return false;
        }
    }

    /** "64M", "1G", "4096", "512K" to bytes. */
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
            return Long.parseLong(t) * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: " + s + " (use e.g. 64M or 1G)");
        }
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
