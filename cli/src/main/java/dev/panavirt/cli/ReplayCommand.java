package dev.panavirt.cli;

import dev.panavirt.devices.gicv3.HeapGuestRam;
import dev.panavirt.devices.gicv3.ItsRegisters;
import dev.panavirt.devices.gicv3.ItsSessionTarget;
import dev.panavirt.devices.gicv3.Redistributors;
import dev.panavirt.devices.loongarch.EiointcRegisters;
import dev.panavirt.devices.loongarch.EiointcSessionTarget;
import dev.panavirt.devices.riscv.RiscvVectorRegisters;
import dev.panavirt.devices.riscv.RiscvVectorSessionTarget;
import dev.panavirt.devices.riscv.RiscvVectorUnit;
import dev.panavirt.devices.session.Script;
import dev.panavirt.devices.session.SessionRunner;
import dev.panavirt.devices.session.SessionTarget;
import dev.panavirt.devices.session.Symbols;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code panavirt replay SCRIPT --device D}: runs a scripted device session against a software model. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Run a scripted device session (see README: \"Scripted device sessions\") against a "
                + "software model, printing one result line per operation.",
                "Exits 1 at the first unmet expectation (naming its line), 2 for a malformed script."})
final class ReplayCommand implements Callable<Integer> {
    /** The devices a session can drive. */
    enum Device { its, eiointc, riscv_vector }

    @Parameters(index = "0", paramLabel = "SCRIPT", description = "The session script.")
    Path script;

    @Option(names = "--device", required = true, converter = DeviceConverter.class,
            description = "its, eiointc or riscv-vector.")
    Device device;

    @Option(names = "--vcpus", description = "vCPUs of the model, 1 to " + MAX_VCPUS + " for every model "
            + "(default: 4 for its and eiointc, 1 for riscv-vector).")
    Integer vcpus;

    @Option(names = "--vlenb", defaultValue = "16", description = "RISC-V vector register bytes, a power of two "
            + "from 4 to 8192 (default: ${DEFAULT-VALUE}).")
    int vlenb;

    @Spec
    CommandSpec spec;

    /**
     * The most vCPUs a model session may have, the same for every model: the 256 that LoongArch's
     * EIOINTC can route to (its CPU-encoded COREMAP bytes), well within what the others accept.
     */
    static final int MAX_VCPUS = 256;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (vcpus != null && (vcpus < 1 || vcpus > MAX_VCPUS)) {
            throw new ParameterException(spec.commandLine(), "--vcpus must be between 1 and " + MAX_VCPUS + ", not " + vcpus);
        }
        RiscvVectorUnit.Config vector;
        try {
            vector = RiscvVectorUnit.Config.vlenb(vlenb);   // the model's own rule for vlenb
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--vlenb: " + e.getMessage());
        }
        Script parsed;
        try {
            parsed = Script.parse(InputFiles.text(script, InputFiles.MAX_SCRIPT));
        } catch (InputFiles.BadInputException e) {
            err.println("panavirt: cannot read " + script + ": " + e.getMessage());
            return Main.EXIT_USAGE;
        } catch (Script.ScriptException e) {
            err.println("panavirt: " + script + ": " + e.getMessage());
            return Main.EXIT_USAGE;
        }
        SessionRunner.Outcome outcome = runner(vector).run(parsed);
        outcome.lines().forEach(out::println);
        out.flush();
        if (!outcome.passed()) {
            err.println("panavirt: " + script + ": " + outcome.failure());
            err.flush();
            return 1;
        }
        return 0;
    }

    private SessionRunner runner(RiscvVectorUnit.Config vector) throws Exception {
        return switch (device) {
            case its -> {
                SessionTarget t = ItsSessionTarget.create(new HeapGuestRam(ItsSessionTarget.DEFAULT_RAM_BASE,
                        ItsSessionTarget.DEFAULT_RAM_SIZE), vcpus == null ? ItsSessionTarget.DEFAULT_VCPUS : vcpus);
                yield new SessionRunner(t, Symbols.of(Map.of(), dev.panavirt.bindings.kvm.arm64.kvm_h.class,
                        ItsRegisters.class, Redistributors.class));
            }
            case eiointc -> {
                Map<String, Long> names = new HashMap<>();
                for (EiointcRegisters.Register r : EiointcRegisters.Register.values()) {
                    names.put(r.name(), EiointcRegisters.EIOINTC_BASE + r.start());
                }
                names.put("VIRT_FEATURES", EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_FEATURES);
                names.put("VIRT_CONFIG", EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_CONFIG);
                SessionTarget t = EiointcSessionTarget.create(vcpus == null ? 4 : vcpus);
                yield new SessionRunner(t, Symbols.of(names, dev.panavirt.bindings.kvm.loongarch64.kvm_h.class,
                        EiointcRegisters.class));
            }
            case riscv_vector -> {
                SessionTarget t = new RiscvVectorSessionTarget(vcpus == null ? 1 : vcpus, vector);
                yield new SessionRunner(t, Symbols.of(Map.of(), dev.panavirt.bindings.kvm.riscv64.kvm_h.class,
                        RiscvVectorRegisters.class));
            }
        };
    }

    /** Accepts the device names as written on the command line. */
    static final class DeviceConverter implements picocli.CommandLine.ITypeConverter<Device> {
        @Override
        public Device convert(String value) {
            return switch (value) {
                case "its" -> Device.its;
                case "eiointc" -> Device.eiointc;
                case "riscv-vector" -> Device.riscv_vector;
                default -> throw new picocli.CommandLine.TypeConversionException(
                        "expected its, eiointc or riscv-vector, got " + value);
            };
        }
    }
}
