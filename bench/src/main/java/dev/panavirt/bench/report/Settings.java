package dev.panavirt.bench.report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How a run is configured: the mode's defaults, then any explicit overrides.
 *
 * @param mode       "quick", "full" or "custom"
 * @param forks      forks per benchmark; each fork is its own round over the whole suite (see README)
 * @param warmup     warmup iterations per fork
 * @param warmupMs   milliseconds per warmup iteration
 * @param iterations measurement iterations per fork
 * @param timeMs     milliseconds per measurement iteration
 * @param include    regular expressions; a benchmark runs when its name ({@link Bench#name()}) contains a match of
 *                   any (all when empty)
 * @param out        where the report goes
 * @param commit     the source revision, shown in the report when known
 * @param list       only list the benchmarks that would run
 * @param reportFrom when set, run nothing: draw the report again from this results JSON
 */
public record Settings(String mode, int forks, int warmup, int warmupMs, int iterations, int timeMs,
                       List<String> include, Path out, String commit, boolean list, Path reportFrom) {

    /**
     * Three to five minutes: three interleaved rounds, each one short fork per benchmark. For CI-like smoke runs;
     * its error bars are wide on a busy machine.
     */
    public static Settings quick() {
        return new Settings("quick", 3, 2, 150, 2, 200, List.of(), Path.of("bench/results"), "", false, null);
    }

    /**
     * About 40 minutes: ten interleaved rounds of one fork per benchmark, 3 x 1 s measured each (30
     * iterations per benchmark). Many short rounds rather than a few long forks, so that a burst of load
     * from other tenants lands on every path alike. For real numbers.
     */
    public static Settings full() {
        return new Settings("full", 10, 2, 500, 3, 1000, List.of(), Path.of("bench/results"), "", false, null);
    }

    /** The command line help. */
    public static final String USAGE = """
            usage: bench/run [--quick | --full] [options]

              --quick            3 forks x 2 iterations x 200 ms, warmup 2 x 150 ms (default; 3 to 5 minutes)
              --full             10 forks x 3 iterations x 1 s, warmup 2 x 500 ms (about 40 minutes)
              --forks N          forks (rounds over the suite) per benchmark
              --iterations N     measurement iterations per fork
              --time MS          milliseconds per measurement iteration
              --warmup N         warmup iterations per fork
              --warmup-time MS   milliseconds per warmup iteration
              --include REGEX    only benchmarks whose name (package.Class.method, then :param=value for a class
                                 with a JMH @Param) matches (repeatable), e.g. CheckExtension, exit=mmio or '\\.c(:|$)'
              --out DIR          where to write the report (default bench/results)
              --commit REV       source revision to name in the report
              --list             list the benchmarks and exit
              --report-from FILE draw the report again from a results-MODE.json, running nothing

            Writes DIR/report-MODE.md, DIR/ratios-MODE.png and .svg, DIR/results-MODE.json and DIR/jmh-MODE.log.
            """;

    /** Parses the command line. @throws IllegalArgumentException with a message for bad arguments */
    public static Settings parse(String... args) {
        Settings s = quick();
        boolean custom = false;
        List<String> include = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--quick" -> s = quick().withOut(s.out).withCommit(s.commit);
                case "--full" -> s = full().withOut(s.out).withCommit(s.commit);
                case "--forks" -> { s = s.with(1, positive(args, ++i)); custom = true; }
                case "--iterations" -> { s = s.with(2, positive(args, ++i)); custom = true; }
                case "--time" -> { s = s.with(3, positive(args, ++i)); custom = true; }
                case "--warmup" -> { s = s.with(4, nonNegative(args, ++i)); custom = true; }
                case "--warmup-time" -> { s = s.with(5, positive(args, ++i)); custom = true; }
                case "--include" -> include.add(value(args, ++i));
                case "--out" -> s = s.withOut(Path.of(value(args, ++i)));
                case "--commit" -> s = s.withCommit(value(args, ++i));
                case "--list" -> s = new Settings(s.mode, s.forks, s.warmup, s.warmupMs, s.iterations, s.timeMs,
                        s.include, s.out, s.commit, true, s.reportFrom);
                case "--report-from" -> s = new Settings(s.mode, s.forks, s.warmup, s.warmupMs, s.iterations,
                        s.timeMs, s.include, s.out, s.commit, s.list, Path.of(value(args, ++i)));
                default -> throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        String mode = custom ? "custom" : s.mode;
        return new Settings(mode, s.forks, s.warmup, s.warmupMs, s.iterations, s.timeMs, List.copyOf(include),
                s.out, s.commit, s.list, s.reportFrom);
    }

    private Settings with(int field, int v) {
        return new Settings(mode, field == 1 ? v : forks, field == 4 ? v : warmup, field == 5 ? v : warmupMs,
                field == 2 ? v : iterations, field == 3 ? v : timeMs, include, out, commit, list, reportFrom);
    }

    private Settings withOut(Path p) {
        return new Settings(mode, forks, warmup, warmupMs, iterations, timeMs, include, p, commit, list, reportFrom);
    }

    private Settings withCommit(String c) {
        return new Settings(mode, forks, warmup, warmupMs, iterations, timeMs, include, out, c, list, reportFrom);
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static int positive(String[] args, int i) {
        int v = nonNegative(args, i);
        if (v == 0) {
            throw new IllegalArgumentException(args[i - 1] + " must be at least 1");
        }
        return v;
    }

    private static int nonNegative(String[] args, int i) {
        String v = value(args, i);
        try {
            int n = Integer.parseInt(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(args[i - 1] + " takes a non-negative number, not " + v);
        }
    }

    /** "5 forks × 8 iterations × 1 s (warmup 3 × 1 s)" */
    public String describe() {
        return forks + (forks == 1 ? " fork" : " forks") + " × " + iterations + " iterations × " + ms(timeMs)
                + " per benchmark (warmup " + warmup + " × " + ms(warmupMs) + " in each fork)";
    }

    private static String ms(int ms) {
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }
}
