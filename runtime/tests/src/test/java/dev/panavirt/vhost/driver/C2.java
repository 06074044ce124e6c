package dev.panavirt.vhost.driver;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Assumptions;

/**
 * Allocation is checked on C2's code: C1 leaves about 40 bytes per downcall (an eventfd write or poll), which C2's
 * escape analysis removes. The lane's JVM stops at C1 unless told otherwise ({@code lane/run --jvm-arg
 * -XX:TieredStopAtLevel=4}), so there the allocation checks are skipped with that reason.
 */
final class C2 {
    private C2() {
    }

    static void assume() {
        String stop = null;
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:TieredStopAtLevel=")) {
                stop = arg.substring(arg.indexOf('=') + 1);
            }
        }
        Assumptions.assumeTrue(stop == null || stop.equals("4"),
                "this JVM compiles with C1 only (-XX:TieredStopAtLevel=" + stop + "); allocation is checked on C2 code");
    }
}
