package dev.panavirt.machine;

import java.nio.file.Path;

/**
 * The second process of {@link MachineSnapshotTest}: restores the snapshot named by its argument with the console
 * on stdout, runs it, prints the run's outcome on stderr and exits with the run's status.
 */
public final class SnapshotResume {
    private SnapshotResume() {
    }

    /** {@code SnapshotResume FILE}. */
    public static void main(String[] args) throws Exception {
        MachineSnapshot.Restored r = MachineSnapshot.restore(Path.of(args[0]), System.out);
        Machine.Result result;
        try (Machine m = r.machine()) {
            result = m.run();
        }
        System.out.flush();
        System.err.println("restored in " + r.took().toMillis() + " ms: " + result.message());
        System.exit(result.exitStatus());
    }
}
