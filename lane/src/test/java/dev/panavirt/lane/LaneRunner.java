package dev.panavirt.lane;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code lane/run} as a child process, streams its output (the guest console) to standard
 * output, and makes sure neither it nor QEMU outlives the test: on time-out, on an exception and from
 * a JVM shutdown hook, the whole process tree is killed.
 */
final class LaneRunner {
    /** Exit status of lane/run for a lane that failed by itself (oops/panic/hang twice, setup error). */
    static final int LANE_FAILED = 3;

    /** What one lane run left behind. */
    record Result(int exitCode, Path runDir, List<String> outputTail) {
        Path reportsDir() {
            return runDir.resolve("out").resolve("reports");
        }

        Path consoleLog() {
            return runDir.resolve("console.log");
        }
    }

    private LaneRunner() {
    }

    static Result run(Path repo, Path runDir, List<String> args, Duration limit) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setpriv"))) {
            // If this JVM dies without running its shutdown hooks (SIGKILL), the kernel kills lane/run,
            // which takes lane/boot and QEMU with it the same way.
            command.addAll(List.of("/usr/bin/setpriv", "--pdeathsig", "KILL", "--"));
        }
        command.add("bash");
        command.add(repo.resolve("lane/run").toString());
        command.add("--run-dir");
        command.add(runDir.toString());
        command.addAll(args);
        Files.createDirectories(runDir);
        ProcessBuilder pb = new ProcessBuilder(command).directory(repo.toFile()).redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        Thread hook = new Thread(() -> killTree(p), "lane-kill");
        Runtime.getRuntime().addShutdownHook(hook);
        Deque<String> tail = new ArrayDeque<>();
        Thread pump = Thread.ofPlatform().name("lane-output").daemon().start(() -> pump(p, tail));
        try {
            if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                killTree(p);
                throw new IOException("lane/run did not finish within " + limit.toSeconds() + " s; run dir " + runDir);
            }
            pump.join(5_000);
            synchronized (tail) {
                return new Result(p.exitValue(), runDir, List.copyOf(tail));
            }
        } finally {
            killTree(p);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    private static void pump(Process p, Deque<String> tail) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                System.out.println(line);
                synchronized (tail) {
                    tail.addLast(line);
                    if (tail.size() > 60) {
                        tail.removeFirst();
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Kills QEMU and every other descendant first, then the script itself. */
    static void killTree(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }
}
