package dev.panavirt.machine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Times boots of the lane's Debian kernel on panavirt (run in the lane: {@code lane/run --build --kvm --main
 * dev.panavirt.machine.LinuxBootTimes -- ROUNDS}): after one warm-up boot, ROUNDS rounds each booting with 1 and
 * 2 vCPUs and with the command line as {@link LinuxBootTest} gives it and with {@code quiet} added (the kernel's
 * console output costs one exit per register access), in alternating order. Prints one line per boot (time to
 * the init program's first line, to the end of the run, exits by reason) and the medians; the quiet-to-verbose
 * ratios come from the same run.
 */
public final class LinuxBootTimes {
    private LinuxBootTimes() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path dir = Files.createTempDirectory("linux-boot-times");
        LinuxGuestBoot guest = new LinuxGuestBoot(LinuxBootTest.laneFile("panavirt.lane.kernel", "root/boot", "vmlinuz-"),
                LinuxBootTest.laneFile("panavirt.lane.modules", "root/lib/modules", ""), dir);
        Path disk = dir.resolve("disk.img");
        guest.boot(1, LinuxGuestBoot.CMDLINE, disk, null);
        String[] lines = {LinuxGuestBoot.CMDLINE, LinuxGuestBoot.CMDLINE + " quiet"};
        List<List<double[]>> samples = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            samples.add(new ArrayList<>());
        }
        for (int round = 0; round < rounds; round++) {
            for (int j = 0; j < 4; j++) {
                int k = (j + round) % 4;          // rotate the order so no configuration always goes first
                int vcpus = 1 + (k & 1);
                boolean quiet = k >= 2;
                LinuxGuestBoot.Outcome o = guest.boot(vcpus, lines[quiet ? 1 : 0], disk, null);
                boolean ok = o.result().outcome() == Machine.Outcome.RESET && o.console().contains("panavirt-init: done\n");
                System.out.printf(Locale.ROOT, "boot vcpus=%d quiet=%s first-line=%.2fs end=%.2fs ok=%s exits=%s ports=%s%n",
                        vcpus, quiet, o.firstLine(), o.total(), ok, o.exits(), o.ports());
                samples.get(k).add(new double[] {o.firstLine(), o.total()});
            }
        }
        double[][] med = new double[4][];
        for (int k = 0; k < 4; k++) {
            med[k] = new double[] {median(samples.get(k), 0), median(samples.get(k), 1)};
            System.out.printf(Locale.ROOT, "median vcpus=%d quiet=%s first-line=%.2fs end=%.2fs (%d boots)%n",
                    1 + (k & 1), k >= 2, med[k][0], med[k][1], samples.get(k).size());
        }
        for (int v = 0; v < 2; v++) {
            System.out.printf(Locale.ROOT, "ratio quiet/verbose vcpus=%d first-line=%.2f%n", v + 1, med[v + 2][0] / med[v][0]);
        }
        System.out.printf(Locale.ROOT, "ratio 2/1 vCPUs verbose first-line=%.2f quiet first-line=%.2f%n",
                med[1][0] / med[0][0], med[3][0] / med[2][0]);
    }

    private static double median(List<double[]> s, int i) {
        double[] v = s.stream().mapToDouble(x -> x[i]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
