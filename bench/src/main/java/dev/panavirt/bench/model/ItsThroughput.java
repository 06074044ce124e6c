package dev.panavirt.bench.model;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsCommand;
import dev.panavirt.models.gicv3.ItsDevice;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import dev.panavirt.replay.targets.ItsSessionTarget;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GICv3 ITS model: commands per second through the guest-visible path — the command words written into
 * guest RAM, then a CWRITER write that makes the ITS process them. Each invocation queues MAPTI, INT and
 * DISCARD for one event (so the translation table stays the same size), three commands.
 */
@Operation(value = "ITS commands (MAPTI + INT + DISCARD)", order = 10,
        note = "ItsDevice over heap guest RAM, queue of 2048 commands, one device with 2^16 events, collection 0 on vCPU 0")
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class ItsThroughput {
    static final long RAM = 0x4000_0000L;
    static final long FRAME = 0x0808_0000L;
    static final long QUEUE = RAM + 0x1_0000;
    static final int QUEUE_BYTES = 16 * 4096;
    static final int EVENTS = 1 << 16;

    private HeapGuestRam ram;
    private ItsDevice its;
    private int position;
    private int event;

    @Setup
    public void setup() throws ErrnoException {
        ram = new HeapGuestRam(RAM, 64L << 20);
        ItsSessionTarget t = ItsSessionTarget.create(ram, 1);
        its = t.device();
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), FRAME, 8);
        int redist = kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS();
        t.setAttr(redist, Redistributors.GICR_PROPBASER, RAM + 0x20_0000 | 16, 8);   // 17 ID bits
        t.setAttr(redist, Redistributors.GICR_PENDBASER, RAM + 0x30_0000, 8);
        t.setAttr(redist, Redistributors.GICR_CTLR, 1, 4);
        for (int lpi = 8192; lpi < 8192 + EVENTS; lpi++) {
            ram.writeByte(RAM + 0x20_0000 + lpi - 8192, 0xa1);                     // priority 0xa0, enabled
        }
        its.mmioWrite(ItsRegisters.GITS_CBASER, 8, ItsRegisters.VALID | QUEUE | (QUEUE_BYTES / 4096 - 1));
        its.mmioWrite(ItsRegisters.baser(0), 8, ItsRegisters.VALID | RAM + 0x4_0000);
        its.mmioWrite(ItsRegisters.baser(1), 8, ItsRegisters.VALID | RAM + 0x5_0000);
        its.mmioWrite(ItsRegisters.GITS_CTLR, 4, 1);
        queue(ItsCommand.mapc(0, 0, true));
        queue(ItsCommand.mapd(1, 16, RAM + 0x100_0000, true));
        its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, position);
    }

    /** The device under test (for the workload's own test). */
    ItsDevice its() {
        return its;
    }

    private void queue(long[] command) throws ErrnoException {
        for (int i = 0; i < 4; i++) {
            ram.writeLong(QUEUE + position + 8L * i, command[i]);
        }
        position = (position + 32) % QUEUE_BYTES;
    }

    private void queue(int opcode, long w1, long w2) throws ErrnoException {
        long at = QUEUE + position;
        ram.writeLong(at, opcode | 1L << 32);   // DeviceID 1
        ram.writeLong(at + 8, w1);
        ram.writeLong(at + 16, w2);
        ram.writeLong(at + 24, 0);
        position = (position + 32) % QUEUE_BYTES;
    }

    /** MAPTI event → LPI 8192 + event, INT event, DISCARD event; then CWRITER. */
    @Benchmark
    @OperationsPerInvocation(3)
    public long mapIntDiscard() throws ErrnoException {
        int e = event;
        event = (e + 1) & (EVENTS - 1);
        queue(ItsCommand.MAPTI, (long) (8192 + e) << 32 | e, 0);
        queue(ItsCommand.INT, e, 0);
        queue(ItsCommand.DISCARD, e, 0);
        its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, position);
        return its.mmioRead(ItsRegisters.GITS_CREADR, 8);
    }
}
