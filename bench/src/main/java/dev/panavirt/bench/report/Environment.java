package dev.panavirt.bench.report;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The machine and software a run measured, for the report's header.
 *
 * @param cpu        the CPU model
 * @param cores      online CPUs
 * @param hypervisor whether the CPU reports a hypervisor (KVM is then nested or paravirtual)
 * @param kernel     the kernel release
 * @param jdk        the JDK running the forks
 * @param versions   library versions from the build (JMH, JNA, jnr-ffi, XChart, C compiler)
 * @param loadBefore {@code /proc/loadavg} when the run started
 */
public record Environment(String cpu, int cores, boolean hypervisor, String kernel, String jdk, Properties versions,
                          String loadBefore) {

    /** This machine, now. */
    public static Environment probe() {
        String cpuinfo = read("/proc/cpuinfo");
        String cpu = cpuinfo.lines().filter(l -> l.startsWith("model name")).findFirst()
                .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown CPU");
        boolean hv = cpuinfo.lines().anyMatch(l -> l.startsWith("flags") && l.contains(" hypervisor"));
        Properties p = new Properties();
        try (InputStream in = Environment.class.getResourceAsStream("/panavirt-bench.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // versions stay unknown
        }
        String jdk = System.getProperty("java.vm.name") + " " + Runtime.version();
        return new Environment(cpu, Runtime.getRuntime().availableProcessors(), hv,
                read("/proc/sys/kernel/osrelease").trim(), jdk, p, loadavg());
    }

    /** The load average now (1, 5, 15 minutes). */
    public static String loadavg() {
        String[] f = read("/proc/loadavg").trim().split("\\s+");
        return f.length >= 3 ? f[0] + " " + f[1] + " " + f[2] : "?";
    }

    /** A library version from the build, or "?". */
    public String version(String key) {
        return versions.getProperty(key, "?");
    }

    private static String read(String file) {
        try {
            return Files.readString(Path.of(file));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
