package dev.panavirt.bench.model;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.RatioTo;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.driver.SplitVirtqueue;
import dev.panavirt.vhost.driver.VirtioNetDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
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
 * Packets per second through the vDPA model's net loopback (vdpa_sim_net: a frame sent on TX comes back on RX),
 * driven by panavirt's {@link VirtioNetDriver} over {@link ModelVdpa}, all on the benchmark's thread: the driver's
 * kicks go straight to {@link VdpaSim#kick} ({@link SplitVirtqueue#notifyDirectly}), so the model serves the rings
 * before {@code send} returns and the adapter's eventfd worker never wakes; the driver asks for no interrupts and
 * finds its completions by polling the used rings. One operation is one frame of {@code size} bytes (Ethernet
 * header included, the 12-byte virtio-net header not) sent, looped back, received and checked for length.
 *
 * <ul>
 *   <li>{@link #loopback}: one frame per kick; every send kicks TX (a model pass that loops the frame back) and
 *       every receive reposts its buffer and kicks RX (a pass that finds nothing), as a driver that notifies
 *       every time does.
 *   <li>{@link #loopbackBatched}: {@value #BATCH} frames made available, then one TX kick (the driver's own
 *       notifications go nowhere; the benchmark notifies the model once), then {@value #BATCH} receives; reported
 *       per packet.
 *   <li>{@link #copy}: the baseline, {@code MemorySegment.copy} of one frame between native segments: the copy
 *       the loopback cannot avoid. The loopback makes four (the driver into its TX buffer, the model out of it
 *       and into the RX buffer through its bounce buffer, the driver out of the RX buffer).
 * </ul>
 *
 * <p>The same workload through the kernel's vdpa_sim_net is {@link VdpaNetKernelLoopback} (lane only).
 */
@Operation(value = "vDPA net loopback, 64-byte frames (model)", param = "size=64", order = 20, note = VdpaNetLoopback.NOTE)
@Operation(value = "vDPA net loopback, 1500-byte frames (model)", param = "size=1500", order = 21, note = VdpaNetLoopback.NOTE)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class VdpaNetLoopback {
    /** The report's note under the rows. */
    static final String NOTE = "VirtioNetDriver over ModelVdpa (vdpa_sim_net model, latest-kernel profile), queues of 256, plain "
                + "descriptors (what vdpa_sim offers), kicks straight into VdpaSim.kick on the benchmark thread, no "
                + "interrupts (used rings polled); one operation = one frame of `size` bytes (Ethernet header "
                + "included) sent on TX, looped back by the model and received on RX; batched = 32 frames per kick; "
                + "baseline: MemorySegment.copy of one frame";
    /** Frames per kick in {@link #loopbackBatched}. */
    public static final int BATCH = 32;
    /** Queue size of both queues (vdpa_sim's maximum): 128 buffers each way without indirect descriptors. */
    static final int QUEUE = 256;
    static final String MAC = "52:54:00:12:34:56";

    /** Frame bytes, Ethernet header included (the virtio-net header is not counted). */
    @Param({"64", "1500"})
    public int size;

    ModelVdpa single;
    ModelVdpa batched;
    VirtioNetDriver singleDriver;
    VirtioNetDriver batchedDriver;
    MemorySegment frame;
    MemorySegment got;
    MemorySegment copyDst;

    @Setup
    public void setup() throws ErrnoException {
        byte[] mac = HexFormat.ofDelimiter(":").parseHex(MAC);
        single = ModelVdpa.net(mac, VdpaSim.Options.defaults());
        batched = ModelVdpa.net(mac, VdpaSim.Options.defaults());
        VdpaSim singleSim = single.model();
        singleDriver = open(single, singleSim::kick);
        batchedDriver = open(batched, vq -> { });
        Arena arena = Arena.ofAuto();
        frame = frame(arena, mac, size);
        got = arena.allocate(VirtioNetDriver.MAX_FRAME, 64);
        copyDst = arena.allocate(size, 64);
    }

    /** The driver over {@code device}, both queues notifying {@code notifier}, interrupts off. */
    static VirtioNetDriver open(ModelVdpa device, SplitVirtqueue.Notifier notifier) throws ErrnoException {
        VirtioNetDriver d = VirtioNetDriver.open(device, QUEUE, 0);
        quiet(d, notifier);
        return d;
    }

    /** Sends the driver's notifications to {@code notifier} and asks for no interrupts (the rings are polled). */
    static void quiet(VirtioNetDriver d, SplitVirtqueue.Notifier notifier) {
        d.txQueue().notifyDirectly(notifier);
        d.rxQueue().notifyDirectly(notifier);
        d.txQueue().interrupts(false);
        d.rxQueue().interrupts(false);
    }

    /** A frame of {@code size} bytes to {@code mac} (which passes the device's receive filter). */
    static MemorySegment frame(Arena arena, byte[] mac, int size) {
        MemorySegment f = arena.allocate(size, 64);
        MemorySegment.copy(mac, 0, f, ValueLayout.JAVA_BYTE, 0, 6);
        MemorySegment.copy(new byte[] {0x02, 0, 0, 0, 0, 1}, 0, f, ValueLayout.JAVA_BYTE, 6, 6);
        f.set(ValueLayout.JAVA_BYTE, 12, (byte) 0x88);                     // EtherType 0x88b5 (local experimental)
        f.set(ValueLayout.JAVA_BYTE, 13, (byte) 0xb5);
        for (int i = 14; i < size; i++) {
            f.set(ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        return f;
    }

    @TearDown
    public void tearDown() {
        singleDriver.close();
        batchedDriver.close();
        single.close();
        batched.close();
    }

    /** One frame out and back, one kick each way. */
    @Benchmark
    @RatioTo("copy")
    public int loopback() throws ErrnoException {
        return roundTrip(singleDriver, frame, got, 0);
    }

    /** {@value #BATCH} frames made available, one TX kick, {@value #BATCH} received: per packet. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    @RatioTo("copy")
    public int loopbackBatched() throws ErrnoException {
        for (int i = 0; i < BATCH; i++) {
            if (!batchedDriver.send(frame)) {
                throw new IllegalStateException("no free transmit buffer");
            }
        }
        batched.model().kick(VirtioNetDriver.TX);
        return receiveAll(batchedDriver, got, size, BATCH, 0);
    }

    /** The baseline: one frame copied between native segments. */
    @Benchmark
    public MemorySegment copy() {
        MemorySegment.copy(frame, 0, copyDst, 0, size);
        return copyDst;
    }

    /** Sends {@code frame} and receives it back into {@code got}; its length. */
    static int roundTrip(VirtioNetDriver d, MemorySegment frame, MemorySegment got, int timeoutMillis)
            throws ErrnoException {
        if (!d.send(frame)) {
            throw new IllegalStateException("no free transmit buffer");
        }
        int n = d.receive(got, timeoutMillis);
        if (n != frame.byteSize()) {
            throw new IllegalStateException(n < 0 ? "the frame did not come back" : "came back with " + n + " bytes");
        }
        return n;
    }

    /** Receives {@code count} frames of {@code size} bytes; their total length. */
    static int receiveAll(VirtioNetDriver d, MemorySegment got, int size, int count, int timeoutMillis)
            throws ErrnoException {
        int total = 0;
        for (int i = 0; i < count; i++) {
            int n = d.receive(got, timeoutMillis);
            if (n != size) {
                throw new IllegalStateException(n < 0 ? "frame " + i + " did not come back"
                        : "frame " + i + " came back with " + n + " bytes");
            }
            total += n;
        }
        return total;
    }
}
