package dev.panavirt.bench.model;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Operation;
import dev.panavirt.bench.support.BenchJvm;
import dev.panavirt.bindings.kvm.loongarch64.kvm_h;
import dev.panavirt.models.loongarch.EiointcDevice;
import dev.panavirt.models.loongarch.EiointcRegisters;
import dev.panavirt.models.loongarch.LoongArchVm;
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
 * LoongArch V-EIOINTC model: route updates (a guest COREMAP byte write that re-routes an asserted
 * vector) and line raises/lowers per second, with CPU- and interrupt-pin encoding on 256 vCPUs.
 */
@Operation(value = "EIOINTC updates", order = 20,
        note = "EiointcDevice with 256 vCPUs, virt extension with CPU and pin encoding, all vectors enabled")
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {BenchJvm.NATIVE_ACCESS, BenchJvm.XMS, BenchJvm.XMX})
@State(Scope.Thread)
public class EiointcThroughput {
    static final long COREMAP = EiointcRegisters.EIOINTC_BASE + EiointcRegisters.Register.COREMAP.start();
    static final long ENABLE = EiointcRegisters.EIOINTC_BASE + EiointcRegisters.Register.ENABLE.start();
    static final long CONFIG = EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_CONFIG;

    private EiointcDevice eiointc;
    private int target;
    private int vector;

    @Setup
    public void setup() throws ErrnoException {
        eiointc = EiointcDevice.create(new LoongArchVm(256));
        eiointc.setAttr(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL(), kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU(),
                256, 4);
        eiointc.setAttr(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL(), kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE(),
                EiointcRegisters.ALL_FEATURES, 4);
        eiointc.iocsrWrite(0, CONFIG, 4, EiointcRegisters.ENABLE | EiointcRegisters.ENABLE_INT_ENCODE
                | EiointcRegisters.ENABLE_CPU_ENCODE);
        for (int i = 0; i < 4; i++) {
            eiointc.iocsrWrite(0, ENABLE + 8L * i, 8, -1L);
        }
        eiointc.setIrq(7, true);   // an asserted vector, so re-routing moves a raised line
    }

    /** The device under test (for the workload's own test). */
    EiointcDevice eiointc() {
        return eiointc;
    }

    /** Re-routes asserted vector 7 to the next of 256 vCPUs (de-assert at the old, assert at the new). */
    @Benchmark
    public int routeUpdate() throws ErrnoException {
        int t = target = (target + 1) & 0xff;
        eiointc.iocsrWrite(0, COREMAP + 7, 1, t);
        return t;
    }

    /** Raises and lowers one of 256 vectors (two line changes). */
    @Benchmark
    @OperationsPerInvocation(2)
    public int raiseAndLower() {
        int v = vector = (vector + 1) & 0xff;
        if (v == 7) {
            return v;
        }
        eiointc.setIrq(v, true);
        eiointc.setIrq(v, false);
        return v;
    }
}
