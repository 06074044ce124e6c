package dev.panavirt.models.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import dev.panavirt.replay.targets.ItsSessionTarget;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What a guest controls in the ITS model: GITS register writes of any width and value, command queue
 * and table contents in its RAM, and MSIs. Only documented errnos come out; CREADR stays 32-byte
 * aligned and inside the queue; the state line stays well-formed.
 *
 * <p>Each input costs little: one model and its RAM serve every input, returned to their state at
 * creation by {@link ItsSessionTarget#reset} and {@link HeapGuestRam#clear} (VgicResetTest shows a reused
 * model behaves as a fresh one); RAM is 128 KiB; the queue is at most four pages (the harness clears the
 * higher bits of CBASER's Size field in every write that reaches it), so one CWRITER write runs at most 512
 * commands; and the model's diagnostics are not logged, since every input would repeat them.
 */
class ItsFuzzTest {
    static final long RAM = 0x4000_0000L;
    static final int RAM_SIZE = 128 << 10;
    static final long FRAME = 0x0808_0000L;
    /** CBASER Size bits the harness keeps: queues of one to four 4 KiB pages. */
    static final long QUEUE_SIZE_BITS = 3;
    static final Set<Integer> DOCUMENTED = Set.of(Errno.EINVAL, Errno.ENXIO, Errno.ENODEV, Errno.EBUSY,
            Errno.EFAULT, Errno.EEXIST, Errno.E2BIG);

    /** Held so the level set on it is not lost when the logger is collected. */
    private static final Logger MODEL_LOG = Logger.getLogger("dev.panavirt.models.gicv3");
    private static final HeapGuestRam MEMORY = new HeapGuestRam(RAM, RAM_SIZE);
    private static final ItsSessionTarget TARGET = ItsSessionTarget.create(MEMORY, 2);

    static {
        MODEL_LOG.setLevel(Level.OFF);
    }

    @FuzzTest(maxDuration = "10s")
    void guestRegistersQueueAndMsis(FuzzedDataProvider data) throws Exception {
        MEMORY.clear();
        TARGET.reset();
        ItsSessionTarget t = TARGET;
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), FRAME, 8);
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS(), Redistributors.GICR_PROPBASER, RAM + 0x1_0000 | 13, 8);
        t.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS(), Redistributors.GICR_CTLR, 1, 4);
        int steps = data.consumeInt(1, 40);
        for (int i = 0; i < steps && data.remainingBytes() > 0; i++) {
            try {
                switch (data.consumeInt(0, 5)) {
                    case 0 -> {
                        long register = register(data);
                        long value = data.consumeLong();
                        t.write(register, data.pickValue(new int[] {1, 2, 4, 8}),
                                register == ItsRegisters.GITS_CBASER ? value & ~(0xffL & ~QUEUE_SIZE_BITS) : value);
                    }
                    case 1 -> t.read(register(data), data.pickValue(new int[] {1, 2, 4, 8}));
                    case 2 -> t.memWrite(RAM + data.consumeLong(0, RAM_SIZE - 64) & ~7L, data.consumeBytes(64));
                    case 3 -> t.write(ItsRegisters.GITS_CBASER, 8,
                            ItsRegisters.VALID | RAM | data.consumeLong(0, QUEUE_SIZE_BITS));
                    case 4 -> t.write(ItsRegisters.GITS_CWRITER, 8, data.consumeLong(0, 0x10_0000));
                    default -> t.signalMsi(FRAME + ItsRegisters.GITS_TRANSLATER, data.consumeInt(), data.consumeInt(0, 64));
                }
            } catch (ErrnoException e) {
                if (!DOCUMENTED.contains(e.errno())) {
                    throw new AssertionError("undocumented errno " + e.getMessage(), e);
                }
            }
            long creadrRegister = t.read(ItsRegisters.GITS_CREADR, 8);
            long creadr = creadrRegister & 0xf_ffe0L;   // offset field, minus Stalled
            long queueBytes = ((t.read(ItsRegisters.GITS_CBASER, 8) & 0xff) + 1) * 4096;
            assertEquals(0, creadrRegister & 0x1e, "CREADR is a command boundary");
            assertTrue(creadr < queueBytes, "CREADR 0x" + Long.toHexString(creadr) + " inside the "
                    + queueBytes + "-byte queue");
        }
        assertTrue(t.state().startsWith("its@0x8080000 "));
    }

    private static long register(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeLong(0, 0x2_0000) : data.pickValue(new long[] {
            ItsRegisters.GITS_CTLR, ItsRegisters.GITS_CBASER, ItsRegisters.GITS_CWRITER, ItsRegisters.GITS_CREADR,
            ItsRegisters.GITS_BASER, ItsRegisters.GITS_BASER + 8, ItsRegisters.GITS_TYPER});
    }
}
