package dev.panavirt.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/** {@code panavirt bench}: the JMH suite of {@code bench/}, through its {@code bench/run} script. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run the JMH benchmarks of the ioctl paths against C, JNA and jnr-ffi and write a Markdown "
                + "report and a chart to bench/results/ (bench/README.md).",
                "Other options go to bench/run (--include REGEX, --forks N, ...; see bench/run --help)."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--quick", description = "Quick mode, a few minutes (the default).")
    boolean quick;

    @Option(names = "--full", description = "Full mode: enough forks and iterations for real numbers (about 45 min).")
    boolean full;

    @Unmatched
    List<String> more = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        String home = System.getProperty("panavirt.home");
        Path script = home == null ? null : Path.of(home, "bench", "run");
        if (script == null || !Files.isExecutable(script)) {
            err.println("panavirt: the benchmarks run from a panavirt checkout (bench/run); start this command "
                    + "with the ./panavirt launcher there");
            err.flush();
            return Main.EXIT_USAGE;
        }
        List<String> cmd = new ArrayList<>(List.of(script.toString()));
        if (full) {
            cmd.add("--full");
        } else if (quick) {
            cmd.add("--quick");
        }
        cmd.addAll(more);
        return new ProcessBuilder(cmd).inheritIO().start().waitFor();
    }
}
