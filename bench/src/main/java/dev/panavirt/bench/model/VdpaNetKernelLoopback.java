package dev.panavirt.bench.model;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.RatioTo;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.vhost.VhostVdpa;
import dev.panavirt.vhost.driver.VirtioNetDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link VdpaNetLoopback}'s workload through the kernel's vdpa_sim_net ({@code /dev/vhost-vdpa-0}, which the nested
 * lane creates): the same {@link VirtioNetDriver}, with the kernel's own path for notifications. Every kick is an
 * eventfd write that schedules vdpa_sim's worker (a kernel work item that loops the frame back), and the driver
 * waits for completions on the call eventfd (polling the used ring first, then {@code poll(2)} on the eventfd).
 * Batched: {@value VdpaNetLoopback#BATCH} frames made available with the driver's per-frame notifications held
 * back, one write to the TX kick eventfd, then the receives (RX buffers reposted without a kick: the worker reads
 * the RX ring on every pass). Left out where {@code /dev/vhost-vdpa-0} is missing ({@link #unavailable()}); its setup
 * refuses too, for runs through JMH's own runner.
 *
 * <p>Run it in the lane: {@code lane/run --exec -- java -jar bench/target/panavirt-bench.jar --include
 * VdpaNetKernelLoopback --forks 1 ...}. The lane's CPU is QEMU's TCG, so its figures compare paths within the
 * lane, not with the host.
 */
@Operation(value = "vDPA net loopback, 64-byte frames (kernel vdpa_sim_net)", param = "size=64", order = 22, note = VdpaNetKernelLoopback.NOTE)
@Operation(value = "vDPA net loopback, 1500-byte frames (kernel vdpa_sim_net)", param = "size=1500", order = 23, note = VdpaNetKernelLoopback.NOTE)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class VdpaNetKernelLoopback {
    /** The report's note under the rows. */
    static final String NOTE = "VirtioNetDriver over VhostVdpa (/dev/vhost-vdpa-0, vdpa_sim_net in the lane's 6.12 guest under TCG), "
                + "queues of 256, kicks by eventfd write, completions on the call eventfd; one operation = one frame "
                + "of `size` bytes sent and received back; batched = 32 frames per kick; baseline: MemorySegment.copy "
                + "of one frame (in the same lane run)";
    static final String DEVICE = "/dev/vhost-vdpa-0";
    /** How long a receive waits for the kernel's worker. */
    static final int TIMEOUT_MS = 5000;

    /**
     * Why this benchmark cannot run here (no read-write {@code /dev/vhost-vdpa-0}), or empty when it can;
     * {@code bench/run} skips the class with this reason.
     */
    public static Optional<String> unavailable() {
        java.nio.file.Path node = java.nio.file.Path.of(DEVICE);
        if (java.nio.file.Files.isReadable(node) && java.nio.file.Files.isWritable(node)) {
            return Optional.empty();
        }
        return Optional.of(DEVICE + " is missing or not read-write (vdpa_sim_net; the nested lane has it: "
                + "lane/run --exec -- java -jar bench/target/panavirt-bench.jar --include VdpaNetKernelLoopback)");
    }

    /** Frame bytes, Ethernet header included. */
    @Param({"64", "1500"})
    public int size;

    VhostVdpa device;
    VirtioNetDriver driver;
    MemorySegment frame;
    MemorySegment got;
    MemorySegment copyDst;

    @Setup
    public void setup() throws ErrnoException {
        Optional<String> missing = unavailable();
        if (missing.isPresent()) {
            throw new IllegalStateException("VdpaNetKernelLoopback: " + missing.get());
        }
        device = VhostVdpa.open(DEVICE);
        try {
            driver = VirtioNetDriver.open(device, Math.min(VdpaNetLoopback.QUEUE, device.vringNumMax()), 0);
        } catch (ErrnoException | RuntimeException e) {
            device.close();
            throw e;
        }
        Arena arena = Arena.ofAuto();
        frame = VdpaNetLoopback.frame(arena, driver.mac(), size);
        got = arena.allocate(VirtioNetDriver.MAX_FRAME, 64);
        copyDst = arena.allocate(size, 64);
    }

    @TearDown
    public void tearDown() {
        driver.close();
        device.close();
    }

    /** One frame out and back: a TX kick, the kernel's loopback, the call, the receive (and an RX kick). */
    @Benchmark
    @RatioTo("copy")
    public int loopback() throws ErrnoException {
        driver.txQueue().notifyDirectly(null);
        driver.rxQueue().notifyDirectly(null);
        return VdpaNetLoopback.roundTrip(driver, frame, got, TIMEOUT_MS);
    }

    /** {@value VdpaNetLoopback#BATCH} frames, one TX kick eventfd write, {@value VdpaNetLoopback#BATCH} received. */
    @Benchmark
    @OperationsPerInvocation(VdpaNetLoopback.BATCH)
    @RatioTo("copy")
    public int loopbackBatched() throws ErrnoException {
        driver.txQueue().notifyDirectly(VdpaNetKernelLoopback::held);
        driver.rxQueue().notifyDirectly(VdpaNetKernelLoopback::held);
        for (int i = 0; i < VdpaNetLoopback.BATCH; i++) {
            if (!driver.send(frame)) {
                throw new IllegalStateException("no free transmit buffer");
            }
        }
        driver.txQueue().kickFd().signal(1);
        return VdpaNetLoopback.receiveAll(driver, got, size, VdpaNetLoopback.BATCH, TIMEOUT_MS);
    }

    /** The baseline: one frame copied between native segments. */
    @Benchmark
    public MemorySegment copy() {
        MemorySegment.copy(frame, 0, copyDst, 0, size);
        return copyDst;
    }

    /** A notification held back: the batch's one kick follows. */
    private static void held(int vq) {
    }
}
