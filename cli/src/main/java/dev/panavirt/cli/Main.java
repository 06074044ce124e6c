package dev.panavirt.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code panavirt} command line. Every path ends in one line on stderr and one of the
 * documented exit statuses; no exception or error reaches the user as a stack trace (set {@code PANAVIRT_TRACE}
 * to see one after the line, when reporting a bug).
 */
@Command(name = "panavirt", mixinStandardHelpOptions = true, version = "panavirt 0.1.0",
        description = "Java access to Linux KVM, VFIO and vhost-vdpa through the FFM API.",
        footer = {"", "On a host without /dev/kvm the ./panavirt launcher runs 'run' and 'probe' in",
                "the nested host (lane/README.md). Choose with PANAVIRT_KVM=local|nested|auto",
                "or ./panavirt --kvm local|nested|auto COMMAND.",
                "", "Exit statuses common to every command: 2 a usage error, 65 an unreadable or malformed input",
                "file (guest, kernel, initrd, session script), 70 an internal error of panavirt. run, migrate and replay",
                "list their own (see their --help)."},
        subcommands = {ProbeCommand.class, RunCommand.class, MigrateCommand.class, ReplayCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    /** Exit status for usage errors (picocli's default). */
    static final int EXIT_USAGE = 2;
    /**
     * An input file (guest, kernel, initrd, session script) cannot be read or is malformed (sysexits
     * EX_DATAERR).
     */
    static final int EXIT_BAD_INPUT = 65;
    /** /dev/kvm is missing or not usable (sysexits EX_UNAVAILABLE). */
    static final int EXIT_NO_KVM = 69;
    /**
     * An internal error of panavirt (sysexits EX_SOFTWARE): never 1, which a guest's debug-exit status
     * and replay's unmet expectation use.
     */
    static final int EXIT_INTERNAL = 70;

    private Main() {}

    /**
     * Runs the command line and exits with its status. What escapes a command, an {@link Error} included
     * (OutOfMemoryError, StackOverflowError), and what escapes any other thread, ends as one line and
     * {@link #EXIT_INTERNAL}.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            report(new PrintWriter(System.err, true), e, " in thread " + thread.getName());
            // The run's state is unknown once one of its threads died: end it rather than wait on that thread.
            Runtime.getRuntime().halt(EXIT_INTERNAL);
        });
        System.exit(execute(commandLine(), args));
    }

    /** {@code cl.execute(args)}, with what escapes picocli's handlers (an {@link Error}) reported as internal. */
    static int execute(CommandLine cl, String... args) {
        try {
            return cl.execute(args);
        } catch (Throwable e) {
            return report(cl.getErr(), e, "");
        }
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> report(cmd.getErr(), ex, ""));
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            if (args.length == 0) {
                cmd.usage(err);   // a bare "panavirt": the commands, not just what is missing
                err.flush();
                return EXIT_USAGE;
            }
            String name = cmd.getCommandSpec().qualifiedName();
            err.println("panavirt: " + ex.getMessage() + " (see '" + name + " --help')");
            err.flush();
            return EXIT_USAGE;
        });
        return cl;
    }

    /**
     * Prints {@code e} as the one-line internal error and returns its status: the exception and where it was
     * thrown, enough to file a bug; the whole trace only when {@code PANAVIRT_TRACE} is set.
     */
    static int report(PrintWriter err, Throwable e, String where) {
        StackTraceElement[] trace = e.getStackTrace();
        err.println("panavirt: internal error" + where + ": " + e
                + (trace.length > 0 ? " (at " + trace[0] + ")" : ""));
        if (System.getenv("PANAVIRT_TRACE") != null) {
            e.printStackTrace(err);
        }
        err.flush();
        return EXIT_INTERNAL;
    }
}
