package dev.panavirt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code panavirt} command line. */
@Command(name = "panavirt", mixinStandardHelpOptions = true, version = "panavirt 0.1.0",
        description = "Java access to Linux KVM, VFIO and vhost-vdpa through the FFM API.",
        footer = {"", "On a host without /dev/kvm the ./panavirt launcher runs 'run' and 'probe' in",
                "the nested host (lane/README.md). Choose with PANAVIRT_KVM=local|nested|auto",
                "or ./panavirt --kvm local|nested|auto COMMAND."},
        subcommands = {ProbeCommand.class, RunCommand.class, ReplayCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    /** Exit status for usage errors (picocli's default). */
    static final int EXIT_USAGE = 2;
    /** The guest file cannot be read or is not a guest (sysexits EX_DATAERR). */
    static final int EXIT_BAD_GUEST = 65;
    /** /dev/kvm is missing or not usable (sysexits EX_UNAVAILABLE). */
    static final int EXIT_NO_KVM = 69;
    /**
     * An internal error of panavirt (sysexits EX_SOFTWARE): never 1, which a guest's debug-exit status
     * and replay's unmet expectation use.
     */
    static final int EXIT_INTERNAL = 70;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("panavirt: internal error: " + ex);
            return EXIT_INTERNAL;
        });
        return cl;
    }
}
