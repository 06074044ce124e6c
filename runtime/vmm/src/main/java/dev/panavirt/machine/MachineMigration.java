package dev.panavirt.machine;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.state.StateFormatException;
import dev.panavirt.kvm.state.UnsavedStateException;
import dev.panavirt.kvm.state.X86MachineState;
import dev.panavirt.migration.ConvergencePolicy;
import dev.panavirt.migration.DirtyLogSource;
import dev.panavirt.migration.DirtyRingSource;
import dev.panavirt.migration.DirtySource;
import dev.panavirt.migration.MigrationReport;
import dev.panavirt.migration.PrecopyDestination;
import dev.panavirt.migration.PrecopySource;
import dev.panavirt.migration.RoundReport;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Live migration of a running {@link Machine} to a new one, in this process or another: the source copies RAM
 * while the guest runs ({@link PrecopySource}, tracked by the dirty ring when the machine has one,
 * {@link Machine.Config#dirtyRingBytes}, else by the dirty log), then parks the vCPUs, sends the last dirty pages
 * and the state a snapshot holds, and ends its run with {@link Machine.Outcome#MIGRATED}; the destination builds
 * the same machine, receives, applies the state and is ready to {@link Machine#run()}: the guest carries on,
 * console included, and its time limit counts the time it ran at the source.
 *
 * <h2>The stream</h2>
 * The bytes {@code "PVMACHIN"}, a big-endian u32 length (at most {@value #MAX_DESCRIPTION}) and the machine's
 * settings (RAM size, vCPUs, irqchip, hypervisor CPUID, shared memory, time limit: a snapshot's encoding,
 * {@link MachineSnapshot}), so that the destination can build the machine before pages arrive; then one
 * {@link dev.panavirt.migration.MigrationStream} whose state sections are {@value #MACHINE_SECTION} (run time in ns,
 * the boot's port changes), {@value #KVM_SECTION} ({@link X86MachineState}) and {@value #DEVICE_PREFIX}NAME for
 * every device model, as in a snapshot.
 *
 * <p>What refuses is what refuses a snapshot ({@link Machine#snapshotRefusals()}, a vCPU halted for good without
 * the in-kernel irqchip, nested virtualization in use), checked before the first page is sent. If the
 * switchover fails (the stream breaks, a state refuses), the guest runs on at the source: nothing is lost.
 */
public final class MachineMigration {
    /** The first bytes of the stream. */
    public static final String MAGIC = "PVMACHIN";
    /** The largest settings record a destination reads. */
    public static final int MAX_DESCRIPTION = 4096;
    /** State section names. */
    public static final String MACHINE_SECTION = "machine", KVM_SECTION = "kvm", DEVICE_PREFIX = "device/";
    /** The byte a destination sends back once it holds the guest ({@link #acknowledge}). */
    public static final int ACK = 0x06;
    /** How long the switchover waits for the vCPUs to leave {@code KVM_RUN}. */
    static final long PARK_TIMEOUT_MS = 2000;

    private MachineMigration() {
    }

    /**
     * The machine was not running when the migration began, or its run ended (the guest finished, the time limit
     * passed) before the switchover could stop it.
     */
    public static final class RunEndedException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        RunEndedException(String message) {
            super(message);
        }
    }

    /**
     * What a migration's source did.
     *
     * @param report   the precopy's rounds, pages and stop-and-copy time
     * @param downtime from the stop request to the destination's acknowledgement (to the END record without one):
     *                 how long the guest ran nowhere
     */
    public record Sent(MigrationReport report, Duration downtime) {}

    /**
     * Moves {@code machine}, which another thread is running ({@link Machine#run()}), to the destination at the
     * other end of {@code out} (flushed, not closed). On success the source's run ends with
     * {@link Machine.Outcome#MIGRATED}; on any failure it runs on.
     *
     * @param ack  where the destination's {@link #acknowledge acknowledgement} arrives (the socket's other
     *             direction): the source's run ends only once it has, and runs on if it does not come; null to hand
     *             over at the END record (a destination in this process that cannot fail unseen)
     * @param log receives each round's report as the round ends
     * @throws UnsavedStateException when the machine holds state a migration cannot carry (nothing sent then)
     * @throws RunEndedException when the run has not started, or ended before the switchover (the stream is then
     *         left incomplete)
     * @throws IllegalStateException when the vCPUs do not stop within {@value #PARK_TIMEOUT_MS} ms at the switchover
     *         (the guest runs on)
     * @throws IOException when the stream fails
     * @throws ErrnoException naming the ioctl of the dirty tracking or of the state capture that failed
     */
    public static Sent send(Machine machine, OutputStream out, InputStream ack, ConvergencePolicy policy,
            Consumer<RoundReport> log) throws IOException, ErrnoException, InterruptedException {
        if (!machine.running()) {
            throw new RunEndedException("the machine is not running (its run has not started or has ended)");
        }
        List<String> refused = machine.snapshotRefusals();
        if (!refused.isEmpty()) {
            throw new UnsavedStateException("cannot migrate this machine: " + String.join("; ", refused));
        }
        ByteArrayOutputStream settings = new ByteArrayOutputStream();
        MachineSnapshot.writeConfig(new DataOutputStream(settings), machine.config());
        DataOutputStream d = new DataOutputStream(out);
        d.write(MAGIC.getBytes(StandardCharsets.US_ASCII));
        d.writeInt(settings.size());
        settings.writeTo(d);

        var ram = machine.memory().regions();
        DirtySource tracking = machine.config().dirtyRingBytes() > 0
                ? new DirtyRingSource(machine.vm(), ram) : new DirtyLogSource(machine.vm(), ram);
        boolean[] parked = {false};
        long[] stopAt = {0};
        try (tracking) {
            MigrationReport report = new PrecopySource(ram, List.of(tracking), policy, log).migrate(out,
                    new PrecopySource.Switchover() {
                        @Override
                        public void pause() throws InterruptedException {
                            stopAt[0] = System.nanoTime();
                            if (!machine.parkForSwitchover(PARK_TIMEOUT_MS)) {
                                if (machine.running()) {
                                    throw new IllegalStateException("the vCPUs did not leave KVM_RUN within "
                                            + PARK_TIMEOUT_MS + " ms (a device model that does not return?); the "
                                            + "guest runs on here");
                                }
                                throw new RunEndedException("the run ended before the switchover could stop it");
                            }
                            parked[0] = true;
                        }

                        @Override
                        public Map<String, byte[]> state() throws ErrnoException {
                            return capture(machine);
                        }
                    });
            if (ack != null) {
                int b = ack.read();
                if (b != ACK) {
                    throw new IOException("the destination did not take the guest over (it answered "
                            + (b < 0 ? "nothing: the connection closed" : "0x" + Integer.toHexString(b))
                            + "); the guest runs on here");
                }
            }
            Duration downtime = Duration.ofNanos(System.nanoTime() - stopAt[0]);
            machine.endMoved("the guest moved to the migration's destination (downtime " + downtime.toMillis()
                    + " ms)");
            parked[0] = false;
            return new Sent(report, downtime);
        } finally {
            if (parked[0]) {
                machine.resumeAfterFailedMove();
            }
        }
    }

    /**
     * Tells the source that this destination holds the guest ({@link #receive} returned), so that it ends its run:
     * call before running the received machine.
     */
    public static void acknowledge(OutputStream toSource) throws IOException {
        toSource.write(ACK);
        toSource.flush();
    }

    /** The state sections of a parked machine. */
    private static Map<String, byte[]> capture(Machine machine) throws ErrnoException {
        if (machine.haltedVcpus() > 0) {
            throw new UnsavedStateException(machine.haltedVcpus() + " vCPU(s) halted without the in-kernel irqchip"
                    + " and left their run: the destination could not resume them as they are");
        }
        Map<String, byte[]> sections = new LinkedHashMap<>();
        try {
            ByteArrayOutputStream m = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(m);
            d.writeLong(machine.guestTime().toNanos());
            d.writeInt(machine.bootChanges());
            sections.put(MACHINE_SECTION, m.toByteArray());
            sections.put(KVM_SECTION, X86MachineState.capture(machine.vm(), machine.vcpus()).encode());
            for (var e : MachineSnapshot.deviceStates(machine).entrySet()) {
                sections.put(DEVICE_PREFIX + e.getKey(), e.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sections;
    }

    /**
     * A destination machine, filled and ready to {@link Machine#run()}, with what arrived.
     *
     * @param machine  the machine, which the caller closes
     * @param incoming pages, rounds and state sections received, and the time from the first page to the END
     */
    public record Received(Machine machine, PrecopyDestination.Incoming incoming) {}

    /**
     * Reads one migration from {@code in}: builds the machine its settings describe, with its console on
     * {@code consoleOut}, writes the pages into its RAM and applies the state. The machine does not run meanwhile.
     *
     * @throws MachineSnapshot.FormatException when the stream is not a machine migration or its settings or state
     *         do not add up (a {@link dev.panavirt.migration.StreamRefusedException} for the page stream itself)
     * @throws UnsavedStateException when this host's KVM lacks what the state needs
     * @throws ErrnoException naming the ioctl this host's KVM refused
     * @throws IOException when the transport fails or ends before the END record
     */
    public static Received receive(InputStream in, OutputStream consoleOut) throws IOException, ErrnoException {
        DataInputStream d = new DataInputStream(in);
        byte[] magic = new byte[MAGIC.length()];
        d.readFully(magic);
        if (!MAGIC.equals(new String(magic, StandardCharsets.ISO_8859_1))) {
            throw new MachineSnapshot.FormatException("not a panavirt machine migration (no \"" + MAGIC + "\" magic)");
        }
        int length = d.readInt();
        if (length < 0 || length > MAX_DESCRIPTION) {
            throw new MachineSnapshot.FormatException("the machine's settings claim " + length + " bytes");
        }
        byte[] settings = new byte[length];
        d.readFully(settings);
        DataInputStream s = new DataInputStream(new ByteArrayInputStream(settings));
        Machine.Config config;
        try {
            config = MachineSnapshot.readConfig(s, -1, "migration stream");
        } catch (EOFException e) {
            throw new MachineSnapshot.FormatException("migration stream: the machine's settings end early");
        }
        if (s.available() != 0) {
            throw new MachineSnapshot.FormatException("migration stream: " + s.available()
                    + " bytes after the machine's settings");
        }
        Machine m = new Machine(config, consoleOut);
        try {
            PrecopyDestination.Incoming incoming = new PrecopyDestination(m.memory().regions()).receive(in);
            apply(m, incoming.state());
            return new Received(m, incoming);
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Applies the state sections to a machine whose RAM holds the source's, in a snapshot restore's order. */
    private static void apply(Machine m, Map<String, byte[]> sections) throws IOException, ErrnoException {
        byte[] machine = required(sections, MACHINE_SECTION), kvm = required(sections, KVM_SECTION);
        DataInputStream d = new DataInputStream(new ByteArrayInputStream(machine));
        long elapsed;
        int bootChanges;
        try {
            elapsed = d.readLong();
            bootChanges = d.readInt();
        } catch (EOFException e) {
            throw new MachineSnapshot.FormatException("migration stream: section '" + MACHINE_SECTION + "' ends early");
        }
        if (elapsed < 0 || (bootChanges & ~0xf) != 0 || d.available() != 0) {
            throw new MachineSnapshot.FormatException("migration stream: section '" + MACHINE_SECTION
                    + "' does not add up (run " + elapsed + " ns, boot changes 0x" + Integer.toHexString(bootChanges)
                    + ", " + d.available() + " bytes more)");
        }
        X86MachineState kvmState;
        try {
            kvmState = X86MachineState.decode(kvm);
        } catch (StateFormatException e) {
            throw new MachineSnapshot.FormatException("migration stream: " + e.getMessage());
        }
        if (kvmState.vcpus().size() != m.vcpus().size()) {
            throw new MachineSnapshot.FormatException("migration stream: " + kvmState.vcpus().size()
                    + " vCPU records for " + m.vcpus().size() + " vCPUs");
        }
        Map<String, byte[]> devices = new LinkedHashMap<>();
        for (var e : sections.entrySet()) {
            if (e.getKey().startsWith(DEVICE_PREFIX)) {
                devices.put(e.getKey().substring(DEVICE_PREFIX.length()), e.getValue());
            } else if (!e.getKey().equals(MACHINE_SECTION) && !e.getKey().equals(KVM_SECTION)) {
                throw new MachineSnapshot.FormatException("migration stream: unknown state section '" + e.getKey() + "'");
            }
        }
        m.applyBootChanges(bootChanges);
        MachineSnapshot.loadDevices(m, devices, "migration stream");
        kvmState.restore(m.vm(), m.vcpus());
        long limit = m.config().timeout().toNanos();
        m.setElapsedBefore(Duration.ofNanos(Math.min(elapsed, limit - 1)));
    }

    private static byte[] required(Map<String, byte[]> sections, String name) throws MachineSnapshot.FormatException {
        byte[] b = sections.get(name);
        if (b == null) {
            throw new MachineSnapshot.FormatException("migration stream: no '" + name + "' state section; it has "
                    + sections.keySet());
        }
        return b;
    }
}
