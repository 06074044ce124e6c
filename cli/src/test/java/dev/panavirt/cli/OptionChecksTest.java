package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Options are checked before anything else (so on any host, KVM or not): out-of-range and
 * overflowing values are usage errors, status 2, with a one-line message; never 1, which a guest's
 * debug-exit status and replay's unmet expectation use.
 */
class OptionChecksTest {
    record Outcome(int status, String err) {}

    static Outcome panavirt(String... args) {
        return panavirt(Main.commandLine(), args);
    }

    static Outcome panavirt(CommandLine cl, String... args) {
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        return new Outcome(Main.execute(cl, args), err.toString());
    }

    private static void usage(String expected, String... args) {
        Outcome o = panavirt(args);
        assertEquals(Main.EXIT_USAGE, o.status(), String.join(" ", args) + ": " + o.err());
        assertTrue(o.err().contains(expected), String.join(" ", args) + ": " + o.err());
        assertEquals(1, o.err().lines().count(), "one line, not the usage text: " + o.err());
    }

    @Test
    void memoryThatOverflowsOrIsOutOfRangeIsAUsageError() {
        usage("--mem: too large: 17179869185G", "run", "--mem", "17179869185G");   // used to wrap to 1 GiB
        usage("--mem: too large: 99999999999G", "run", "--mem", "99999999999G");   // used to print a negative size
        usage("--mem: at most 3072M of RAM", "run", "--mem", "4G");
        usage("--mem: at least 1M, not 0", "run", "--mem", "0");
        usage("--mem: at least 1M, not -5M", "run", "--mem", "-5M");
        usage("--mem: not a size: lots", "run", "--mem", "lots");
    }

    @Test
    void diskAndNetNeedALinuxKernelAndAKnownBackend() {
        usage("--disk and --net need --kernel with a Linux bzImage", "run", "--disk", "disk.img");
        usage("--disk and --net need --kernel with a Linux bzImage", "run", "--net", "model");
        usage("--net: vdpa:/dev/vhost-vdpa-N or model, not tap0", "run", "--kernel", "k", "--net", "tap0");
        usage("--net: vdpa:/dev/vhost-vdpa-N or model, not vdpa:", "run", "--kernel", "k", "--net", "vdpa:");
    }

    @Test
    void snapshotOptionsAreCheckedBeforeKvm() {
        usage("--snapshot FILE and --snapshot-after DURATION go together", "run", "--snapshot", "f.snap");
        usage("--snapshot FILE and --snapshot-after DURATION go together", "run", "--snapshot-after", "1s");
        usage("--snapshot-after: not a duration: soon", "run", "--snapshot", "f", "--snapshot-after", "soon");
        usage("--snapshot-after: must be positive", "run", "--snapshot", "f", "--snapshot-after", "0ms");
        usage("--mem does not go with --restore", "run", "--restore", "f.snap", "--mem", "64M");
        usage("--timeout does not go with --restore", "run", "--restore", "f.snap", "--timeout", "5");
        usage("give either GUEST or --restore FILE, not both", "run", "--restore", "f.snap", "guest.bin");
    }

    @Test
    void timeoutAndVcpusOutOfRangeAreUsageErrors() {
        usage("--timeout must be at least 1 second, not 0", "run", "--timeout", "0");
        usage("--timeout must be at least 1 second, not -1", "run", "--timeout", "-1");
        usage("--vcpus must be between 1 and 64", "run", "--vcpus", "0");
        usage("--vcpus must be between 1 and 64", "run", "--vcpus", "65");
    }

    @Test
    void loadAddressIsANumberInsideRam() {
        usage("--load-address: not an address: zz", "run", "--load-address", "zz", "guest.bin");
        // used to reach the loader and come back as a bad guest file: "For input string ... under radix 16"
        usage("--load-address: not an address: 0xffffffffffffffff", "run", "--load-address", "0xffffffffffffffff",
                "guest.bin");
        usage("--load-address: 0x4000000 is not inside the guest's 64M of RAM", "run", "--load-address", "0x4000000",
                "guest.bin");
        usage("--load-address: -1 is not inside", "run", "--load-address", "-1", "guest.bin");
        assertEquals(0x7c00, RunCommand.parseAddress("0x7C00", 1 << 20));
        assertEquals(4096, RunCommand.parseAddress("4096", 1 << 20));
    }

    @Test
    void unknownOptionsAndCommandsAreOneLineUsageErrors() {
        usage("Unknown option: '--frobnicate' (see 'panavirt run --help')", "run", "--frobnicate");
        usage("Unmatched argument at index 0: 'frobnicate' (see 'panavirt --help')", "frobnicate");
        usage("Missing required option: '--device=<device>' (see 'panavirt replay --help')", "replay", "x.pvs");
        Outcome bare = panavirt();
        assertEquals(Main.EXIT_USAGE, bare.status());
        assertTrue(bare.err().contains("Usage: panavirt") && bare.err().contains("replay"), "the commands: " + bare.err());
    }

    /** A command that fails the way a bug would. */
    @CommandLine.Command(name = "fail")
    static final class Failing implements java.util.concurrent.Callable<Integer> {
        @CommandLine.Parameters(index = "0")
        String what;

        @Override
        public Integer call() {
            return switch (what) {
                case "oom" -> throw new OutOfMemoryError("Java heap space");
                case "stack" -> call(new Failing());
                default -> throw new IllegalStateException("a bug");
            };
        }

        private static int call(Failing f) {
            return call(f) + 1;   // recursion without end: StackOverflowError
        }
    }

    @Test
    void errorsAndExceptionsThatEscapeACommandAreOneLineInternalErrors() {
        for (String[] c : new String[][] {{"oom", "java.lang.OutOfMemoryError: Java heap space"},
                {"stack", "java.lang.StackOverflowError"}, {"bug", "java.lang.IllegalStateException: a bug"}}) {
            CommandLine cl = Main.commandLine().addSubcommand(new Failing());
            Outcome o = panavirt(cl, "fail", c[0]);
            assertEquals(Main.EXIT_INTERNAL, o.status(), o.err());
            assertTrue(o.err().startsWith("panavirt: internal error: " + c[1] + " (at dev.panavirt.cli."), o.err());
            assertEquals(1, o.err().lines().count(), "one line, no stack trace: " + o.err());
        }
    }

    @Test
    void replayVcpusFollowOneRuleForEveryModelAndVlenbIsChecked() {
        for (String device : new String[] {"its", "eiointc", "riscv-vector"}) {
            usage("--vcpus must be between 1 and 256, not 0", "replay", "x.pvs", "--device", device, "--vcpus", "0");
            usage("--vcpus must be between 1 and 256, not 2147483647", "replay", "x.pvs", "--device", device,
                    "--vcpus", "2147483647");   // used to end in an OutOfMemoryError (its, riscv-vector)
            usage("--vcpus must be between 1 and 256, not -1", "replay", "x.pvs", "--device", device, "--vcpus", "-1");
        }
        usage("--vlenb: vlenb must be a power of two in 4..8192: 3", "replay", "x.pvs", "--device", "riscv-vector",
                "--vlenb", "3");
    }
}
