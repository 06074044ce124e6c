package dev.panavirt.machine;

import dev.panavirt.testsupport.Guests;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Measures snapshots of a 256 MiB machine ({@code SnapshotTimes [ROUNDS]}, a main of the runtime's test classes;
 * in the lane: {@code lane/run --build --kvm --main dev.panavirt.machine.SnapshotTimes -- ROUNDS}): a guest halts
 * at once, the host writes a pattern over the first 0, 64 or 256 MiB of its RAM (the guest's own pages, a few KiB,
 * are written in every case), and the machine is saved and restored, ROUNDS times per size.
 * Prints per configuration the file's apparent size, the bytes of RAM written (non-zero pages) and the blocks the
 * file system allocated, and the median save and restore times. Save includes capturing the KVM state and
 * {@code fsync}; restore includes building the VM and copying the non-zero pages.
 */
public final class SnapshotTimes {
    private SnapshotTimes() {
    }

    static final long MEM = 256L << 20;

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path dir = Files.createTempDirectory("snapshot-times");
        System.out.println("| RAM filled by the host | file size | RAM written | allocated | save (median) | restore (median) |");
        System.out.println("|---|---|---|---|---|---|");
        GuestImage guest = Guests.c("int main(void) { cli(); for (;;) hlt(); return 0; }");
        for (long fill : new long[] {0, 64L << 20, MEM}) {
            List<Long> saves = new ArrayList<>(), restores = new ArrayList<>();
            MachineSnapshot.Saved saved = null;
            Path file = dir.resolve("m.snap");
            long allocated = 0;
            for (int r = 0; r < rounds; r++) {
                try (Machine m = new Machine(new Machine.Config(MEM, 1, true, Duration.ofSeconds(120)),
                        OutputStream.nullOutputStream())) {
                    m.load(guest, Machine.Mode.LONG);
                    Machine.Result res = m.run();
                    if (res.exitStatus() != 0) {
                        throw new IllegalStateException("guest: " + res);
                    }
                    // The host writes the pattern: a guest's first touch of each page is slow on the paravirtual
                    // KVM, and this measures the snapshot, not the guest.
                    MemorySegment ram = m.memory().slice(0, MEM);
                    for (long at = 0; at < fill; at += 8) {
                        ram.set(ValueLayout.JAVA_LONG, at, at * 0x9e37_79b9_7f4a_7c15L + 1);
                    }
                    saved = MachineSnapshot.save(m, file, res.elapsed());
                    saves.add(saved.took().toNanos());
                }
                allocated = allocatedBytes(file);
                MachineSnapshot.Restored back = MachineSnapshot.restore(file, OutputStream.nullOutputStream());
                back.machine().close();
                restores.add(back.took().toNanos());
            }
            System.out.printf(Locale.ROOT, "| %d MiB | %d MiB | %.2f MiB | %.2f MiB | %.1f ms | %.1f ms |%n", fill >> 20,
                    saved.fileSize() >> 20, saved.ramWritten() / 1048576.0, allocated / 1048576.0,
                    median(saves) / 1e6, median(restores) / 1e6);
            Files.deleteIfExists(file);
        }
    }

    private static long allocatedBytes(Path file) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
        String[] out = new String(p.getInputStream().readAllBytes()).trim().split(" ");
        p.waitFor();
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    private static long median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }
}
