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
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        return new Outcome(cl.execute(args), err.toString());
    }

    private static void usage(String expected, String... args) {
        Outcome o = panavirt(args);
        assertEquals(Main.EXIT_USAGE, o.status(), String.join(" ", args) + ": " + o.err());
        assertTrue(o.err().contains(expected), String.join(" ", args) + ": " + o.err());
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
    void timeoutAndVcpusOutOfRangeAreUsageErrors() {
        usage("--timeout must be at least 1 second, not 0", "run", "--timeout", "0");
        usage("--timeout must be at least 1 second, not -1", "run", "--timeout", "-1");
        usage("--vcpus must be between 1 and 64", "run", "--vcpus", "0");
        usage("--vcpus must be between 1 and 64", "run", "--vcpus", "65");
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
