package dev.panavirt.cli;

import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.targets.SessionTargets;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.OptionalInt;
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
    @Parameters(index = "0", paramLabel = "SCRIPT", description = "The session script.")
    Path script;

    @Option(names = "--device", required = true, converter = DeviceConverter.class,
            description = "its, eiointc or riscv-vector.")
    String device;

    @Option(names = "--vcpus", description = "vCPUs of the model, 1 to " + SessionTargets.MAX_VCPUS
            + " for every model (default: 4 for its and eiointc, 1 for riscv-vector).")
    Integer vcpus;

    @Option(names = "--vlenb", defaultValue = "" + SessionTargets.DEFAULT_VLENB,
            description = "RISC-V vector register bytes, a power of two from 4 to 8192 (default: ${DEFAULT-VALUE}).")
    int vlenb;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        SessionTargets.Options options;
        try {
            options = new SessionTargets.Options(vcpus == null ? OptionalInt.empty() : OptionalInt.of(vcpus), vlenb);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--" + e.getMessage());
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
        SessionRunner.Outcome outcome = SessionTargets.runner(device, options).run(parsed);
        outcome.lines().forEach(out::println);
        out.flush();
        if (!outcome.passed()) {
            err.println("panavirt: " + script + ": " + outcome.failure());
            err.flush();
            return 1;
        }
        return 0;
    }

    /** Accepts the device names as written on the command line. */
    static final class DeviceConverter implements picocli.CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            if (!SessionTargets.names().contains(value)) {
                throw new picocli.CommandLine.TypeConversionException(
                        "expected " + String.join(", ", SessionTargets.names()) + ", got " + value);
            }
            return value;
        }
    }
}
