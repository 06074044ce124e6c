package dev.panavirt.cli;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.KvmFlavour;
import dev.panavirt.kvm.state.UnsavedStateException;
import dev.panavirt.machine.Machine;
import dev.panavirt.machine.MachineMigration;
import dev.panavirt.machine.MachineSnapshot;
import dev.panavirt.machine.MigrationDemoGuest;
import dev.panavirt.migration.ConvergencePolicy;
import dev.panavirt.migration.StreamRefusedException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * {@code panavirt migrate [GUEST] [run's machine options]}: runs a guest, and while it runs moves it into a second
 * panavirt process that this one starts, over a loopback TCP socket ({@link MachineMigration}); the second process
 * resumes the guest, whose console goes on on stdout, and its status is the command's.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true,
        customSynopsis = {"panavirt migrate [GUEST] [run's machine options] [--after=DURATION]",
                "                        [--dirty=ring|log|auto] [--downtime=DURATION]",
                "                        [--max-rounds=N] [--rounds=N]"},
        description = {"Run a guest and move it, while it runs, into a second panavirt process started on this host "
                + "(live migration over loopback TCP): RAM is copied in rounds while the guest writes to it, tracked "
                + "by KVM's dirty ring or dirty log, then the vCPUs stop, the last pages, the KVM state and the device "
                + "models' state follow, and the second process resumes the guest. Its console goes on on stdout; "
                + "each round is reported on stderr.",
                "Without GUEST, runs a built-in guest that writes every page of its RAM above 4 MiB in each of "
                        + "--rounds rounds, printing a dot now and then, and at the end checks that every page holds "
                        + "every round's write: it prints \"LOST WRITES\" and exits with 3 if the move lost one.",
                "GUEST and the machine options are run's (see 'panavirt run --help': --mem, --vcpus, --irqchip, "
                        + "--timeout, --mode, --load-address, --no-kvm-cpuid, --kernel for a multiboot kernel); "
                        + "--disk, --net, --snapshot and --restore do not go with migrate."},
        footer = {"", "Exit status:",
                "  the guest's    as for run, from the process the guest ended in",
                "                 (the destination once it moved)",
                "  76             the migration failed: the guest ran on at the source",
                "                 (its own status is in the message)",
                "  2, 65, 69, 70  as for run: usage, unreadable guest file, no /dev/kvm,",
                "                 internal error"})
final class MigrateCommand implements Callable<Integer> {
    /** The migration failed and the guest stayed at the source (sysexits EX_PROTOCOL). */
    static final int EXIT_MIGRATION_FAILED = 76;
    /** Dirty ring bytes per vCPU when the ring tracks: 16,384 entries. */
    static final int RING_BYTES = 1 << 18;
    /** How long the source waits for the destination process to connect (a JVM under emulation starts slowly). */
    static final Duration CONNECT_WAIT = Duration.ofSeconds(120);

    @Option(names = "--after", paramLabel = "DURATION", defaultValue = "1s",
            description = "When the migration starts, from the start of the run, e.g. 500ms, 2s (default: ${DEFAULT-VALUE}).")
    String after;

    @Option(names = "--dirty", paramLabel = "ring|log|auto", defaultValue = "auto", description = "How written pages "
            + "are tracked: KVM's per-vCPU dirty ring, the dirty log with manual protection, or auto: the ring, except "
            + "on the paravirtual KVM (kvm_pvm), whose rings overflow their limit (default: ${DEFAULT-VALUE}).")
    String dirty;

    @Option(names = "--downtime", paramLabel = "DURATION", defaultValue = "20ms", description = "The stop-and-copy "
            + "time the rounds aim for before the vCPUs stop (default: ${DEFAULT-VALUE}).")
    String downtime;

    @Option(names = "--max-rounds", paramLabel = "N", defaultValue = "10", description = "Copy rounds at most, the first full copy "
            + "included, before the vCPUs stop anyway (default: ${DEFAULT-VALUE}).")
    int maxRounds;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "40", description = "The built-in guest's rounds over its RAM "
            + "(default: ${DEFAULT-VALUE}).")
    long rounds;

    @Option(names = "--incoming", paramLabel = "HOST:PORT", hidden = true,
            description = "Be the destination: connect to a migrating source there, receive the guest and run it.")
    String incoming;

    @Unmatched
    List<String> machineArgs = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (incoming != null) {
            return destination(err);
        }
        Duration start = duration("--after", after);
        Duration target = duration("--downtime", downtime);
        if (maxRounds < 1) {
            throw new ParameterException(spec.commandLine(), "--max-rounds must be at least 1");
        }
        if (rounds < 1 || rounds > 1_000_000_000L) {
            throw new ParameterException(spec.commandLine(), "--rounds must be between 1 and 1000000000");
        }
        if (!List.of("ring", "log", "auto").contains(dirty)) {
            throw new ParameterException(spec.commandLine(), "--dirty takes ring, log or auto, not " + dirty);
        }
        for (String a : machineArgs) {
            for (String refused : List.of("--disk", "--net", "--snapshot", "--snapshot-after", "--restore")) {
                if (a.equals(refused) || a.startsWith(refused + "=")) {
                    throw new ParameterException(spec.commandLine(), refused + " does not go with migrate ("
                            + (refused.startsWith("--s") || refused.equals("--restore") ? "a migration is not a "
                            + "snapshot" : "virtio devices keep state in their vDPA device that is not moved") + ")");
                }
            }
        }
        RunCommand run = new RunCommand();
        CommandLine runLine = new CommandLine(run);
        try {
            runLine.parseArgs(machineArgs.toArray(String[]::new));
        } catch (ParameterException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        run.spec.commandLine().setErr(err);
        boolean ring = dirty.equals("ring") || (dirty.equals("auto") && Kvm.available()
                && KvmFlavour.detect() != KvmFlavour.PARAVIRTUAL);
        run.configure = c -> c.withDirtyRing(ring ? RING_BYTES : 0);
        run.runner = (m, e) -> source(m, e, start, new ConvergencePolicy(maxRounds, target, 3));
        // the built-in guest must fit the RAM: checked here, as a usage error, before KVM is looked at
        if (run.guest == null && run.kernel == null) {
            try {
                run.demo = MigrationDemoGuest.image(RunCommand.parseSize(run.memory), rounds);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--mem: " + e.getMessage());
            }
        }
        return run.call();
    }

    private Duration duration(String option, String value) {
        try {
            return RunCommand.parseDuration(value);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), option + ": " + e.getMessage());
        }
    }

    /** The source: starts the destination process, runs the guest, moves it after {@code start}. */
    private int source(Machine m, PrintWriter err, Duration start, ConvergencePolicy policy) throws Exception {
        String tracking = m.config().dirtyRingBytes() > 0 ? "dirty ring" : "dirty log";
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            server.setSoTimeout((int) CONNECT_WAIT.toMillis());
            Process dst = startDestination(server.getLocalPort());
            Thread console = forward(dst.getInputStream(), System.out, "destination-console");
            Thread messages = forward(dst.getErrorStream(), err, "destination-messages");
            Socket accepted;
            try {
                accepted = accept(server, dst);
            } catch (IOException e) {
                err.println("panavirt: migrate: " + e.getMessage() + "; the guest did not start");
                err.flush();
                return EXIT_MIGRATION_FAILED;
            }
            try (Socket s = accepted) {
                s.setTcpNoDelay(true);
                err.printf(Locale.ROOT, "panavirt: migrate: destination process %d connected; moving the guest after "
                        + "%d ms, tracked by the %s%n", dst.pid(), start.toMillis(), tracking);
                err.flush();
                AtomicReference<Object> outcome = new AtomicReference<>();
                Thread mover = Thread.ofPlatform().daemon().name("migration").start(() -> {
                    try {
                        Thread.sleep(start.toMillis());
                        try (OutputStream out = new BufferedOutputStream(s.getOutputStream(), 1 << 16)) {
                            outcome.set(MachineMigration.send(m, out, s.getInputStream(), policy, r -> {
                                err.println("panavirt: migrate: " + r);
                                err.flush();
                            }));
                        }
                    } catch (Exception | Error e) {
                        outcome.set(e);
                    }
                });
                Machine.Result r = m.run();
                if (r.outcome() != Machine.Outcome.MIGRATED) {
                    mover.interrupt();      // the guest ended here: a migration still waiting to start never will
                }
                mover.join();
                System.out.flush();
                if (outcome.get() instanceof MachineMigration.Sent sent) {
                    err.println("panavirt: migrate: " + sent.report() + "; the guest ran nowhere for "
                            + sent.downtime().toMillis() + " ms (stop to the destination's acknowledgement)");
                    err.flush();
                    dst.waitFor();
                    console.join();
                    messages.join();
                    return dst.exitValue();
                }
                dst.destroy();
                Object failure = outcome.get();
                if (failure instanceof MachineMigration.RunEndedException || failure instanceof InterruptedException) {
                    err.printf(Locale.ROOT, "panavirt: %s (exit status %d) before the migration could move it%n",
                            r.message(), r.exitStatus());
                    err.flush();
                    return r.exitStatus();
                }
                err.printf(Locale.ROOT, "panavirt: migrate: the migration failed: %s; the guest ran on here: %s (exit "
                        + "status %d)%n", describe(failure), r.message(), r.exitStatus());
                err.flush();
                return EXIT_MIGRATION_FAILED;
            } finally {
                if (dst.isAlive()) {
                    dst.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static String describe(Object failure) {
        return failure instanceof Throwable t ? (t.getMessage() != null ? t.getMessage() : t.toString())
                : String.valueOf(failure);
    }

    /** Accepts the destination's connection, or fails with what the destination said when it ended first. */
    private static Socket accept(ServerSocket server, Process dst) throws IOException {
        try {
            return server.accept();
        } catch (IOException e) {
            throw new IOException("the destination process did not connect within " + CONNECT_WAIT.toSeconds()
                    + " s" + (dst.isAlive() ? "" : " (it ended with status " + dst.exitValue() + ")"), e);
        }
    }

    /** This program again, as {@code migrate --incoming 127.0.0.1:PORT}, on the same JDK, module or class path. */
    private static Process startDestination(int port) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // the JVM flags this process got (the nested host's, -D settings), not the module or class path
        List<String> own = ProcessHandle.current().info().arguments().map(List::of).orElse(List.of());
        for (String a : own) {
            if (a.startsWith("-XX:") || a.startsWith("-Dpanavirt.")) {
                cmd.add(a);
            }
        }
        String modulePath = System.getProperty("jdk.module.path");
        if (MigrateCommand.class.getModule().isNamed() && modulePath != null) {
            cmd.addAll(List.of("--enable-native-access=dev.panavirt.sys", "-p", modulePath, "-m",
                    "dev.panavirt.cli/" + Main.class.getName()));
        } else {
            cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", classPath(), Main.class.getName()));
        }
        cmd.addAll(List.of("migrate", "--incoming", InetAddress.getLoopbackAddress().getHostAddress() + ":" + port));
        return new ProcessBuilder(cmd).start();
    }

    /**
     * This process's class path as its class loader sees it: a launcher that loads classes through a class loader of
     * its own (a test runner's --class-path) leaves them out of java.class.path, so that loader's entries come first.
     */
    private static String classPath() {
        java.util.LinkedHashSet<String> entries = new java.util.LinkedHashSet<>();
        for (ClassLoader l = MigrateCommand.class.getClassLoader(); l != null; l = l.getParent()) {
            if (l instanceof java.net.URLClassLoader u) {
                for (java.net.URL url : u.getURLs()) {
                    try {
                        entries.add(Path.of(url.toURI()).toString());
                    } catch (java.net.URISyntaxException | IllegalArgumentException e) {
                        // not a file: java.class.path has to hold it
                    }
                }
            }
        }
        String own = System.getProperty("java.class.path", "");
        if (!own.isEmpty()) {
            entries.addAll(List.of(own.split(java.io.File.pathSeparator)));
        }
        return String.join(java.io.File.pathSeparator, entries);
    }

    /** Copies the destination's console to {@code to} as it comes, on a daemon thread. */
    private static Thread forward(InputStream from, java.io.PrintStream to, String name) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                byte[] buf = new byte[8192];
                for (int n; (n = from.read(buf)) > 0; ) {
                    to.write(buf, 0, n);
                    to.flush();
                }
            } catch (IOException e) {
                // the destination ended
            }
        });
    }

    /** Copies the destination's messages to {@code to}, line by line, on a daemon thread. */
    private static Thread forward(InputStream from, PrintWriter to, String name) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(from, StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    to.println(line);
                    to.flush();
                }
            } catch (IOException e) {
                // the destination ended
            }
        });
    }

    /** The destination: connects to the source, receives the guest, acknowledges, runs it to its end. */
    private int destination(PrintWriter err) throws Exception {
        int colon = incoming.lastIndexOf(':');
        int port;
        try {
            port = Integer.parseInt(incoming.substring(colon + 1));
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new ParameterException(spec.commandLine(), "--incoming takes HOST:PORT, not " + incoming);
        }
        if (!Kvm.available()) {
            err.println("panavirt: destination: " + Kvm.DEVICE + " is not usable here; cannot receive a guest");
            err.flush();
            return Main.EXIT_NO_KVM;
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(incoming.substring(0, colon), port), 10_000);
            s.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(s.getInputStream(), 1 << 16);
            MachineMigration.Received got;
            try {
                got = MachineMigration.receive(in, new RunCommand.StreamingOut(System.out));
            } catch (StreamRefusedException | MachineSnapshot.FormatException e) {
                err.println("panavirt: destination: the stream was refused: " + e.getMessage());
                err.flush();
                return Main.EXIT_BAD_INPUT;
            } catch (UnsavedStateException | ErrnoException e) {
                err.println("panavirt: destination: this host's KVM cannot take the guest: " + e.getMessage());
                err.flush();
                return Machine.EXIT_KVM_ERROR;
            } catch (IOException e) {
                err.println("panavirt: destination: the source went away: " + e.getMessage());
                err.flush();
                return EXIT_MIGRATION_FAILED;
            }
            try (Machine m = got.machine()) {
                MachineMigration.acknowledge(s.getOutputStream());
                err.printf(Locale.ROOT, "panavirt: destination: received %d pages in %d rounds and %d state "
                        + "sections; the guest runs here%n", got.incoming().pages(), got.incoming().rounds(),
                        got.incoming().state().size());
                err.flush();
                Machine.Result r = m.run();
                System.out.flush();
                err.printf(Locale.ROOT, "panavirt: destination: %s (exit status %d) after %d exits in %d ms%n",
                        r.message(), r.exitStatus(), r.exits(), r.elapsed().toMillis());
                err.flush();
                return r.exitStatus();
            }
        }
    }
}
