package dev.panavirt.models.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.riscv.RiscvIsaExt;
import dev.panavirt.models.riscv.RiscvVectorUnit;
import java.util.EnumSet;
import java.util.Set;

/**
 * ONE_REG ids, sizes and buffers from the VMM, interleaved with load/put/reset and guest vector use, on a host
 * ISA drawn from the input: only the documented errnos come out, a buffer never grows past what the caller
 * passed, the VS state stays one of the four values with a restore/save for every Dirty→Clean, and the vCPU's
 * ISA never holds H or an extension the host lacks (arch/riscv/kvm/vcpu_onereg.c), with one listed id per host
 * extension.
 */
class RiscvVectorFuzzTest {
    static final Set<Integer> DOCUMENTED = Set.of(Errno.ENOENT, Errno.EINVAL, Errno.EFAULT, Errno.EBUSY, Errno.E2BIG);

    @FuzzTest(maxDuration = "10s")
    void anyOneRegSequence(FuzzedDataProvider data) {
        int vlenb = data.pickValue(new int[] {8, 16, 32, 64});
        EnumSet<RiscvIsaExt> host = EnumSet.noneOf(RiscvIsaExt.class);
        long hostBits = data.consumeLong();
        for (RiscvIsaExt e : RiscvIsaExt.values()) {
            if ((hostBits & 1L << e.id()) != 0) {
                host.add(e);
            }
        }
        RiscvVectorUnit unit = new RiscvVectorUnit(new RiscvVectorUnit.Config(vlenb, host, data.consumeBoolean()));
        int steps = data.consumeInt(1, 48);
        for (int i = 0; i < steps && data.remainingBytes() > 0; i++) {
            try {
                switch (data.consumeInt(0, 6)) {
                    case 0, 1 -> {
                        // Arbitrary ids, biased toward the RISC-V vector and ISA_EXT spaces (subtypes 0..3).
                        long id = data.consumeBoolean() ? data.consumeLong()
                                : 0x8000_0000_0000_0000L | (long) data.consumeInt(0, 15) << 52
                                        | (long) data.consumeInt(0, 0x0f) << 24 | (long) data.consumeInt(0, 3) << 16
                                        | data.consumeInt(0, 64);
                        byte[] buf = new byte[data.consumeInt(0, 300)];
                        int len = buf.length;
                        if (data.consumeBoolean()) {
                            unit.getOneReg(id, buf);
                        } else {
                            unit.setOneReg(id, buf);
                        }
                        assertEquals(len, buf.length);
                    }
                    case 2 -> unit.load();
                    case 3 -> unit.put();
                    case 4 -> unit.reset();
                    case 5 -> unit.guestVectorInstruction();
                    default -> unit.regList(data.consumeInt(0, 64));
                }
            } catch (ErrnoException e) {
                if (!DOCUMENTED.contains(e.errno())) {
                    throw new AssertionError("undocumented errno " + e.getMessage(), e);
                }
            } catch (IllegalStateException e) {
                // load twice / put without load: the caller's sequencing error, documented on the model
                if (!e.getMessage().contains("load") && !e.getMessage().contains("put")) {
                    throw e;
                }
            }
        }
        for (RiscvIsaExt e : RiscvIsaExt.values()) {
            if (unit.hasExtension(e) && (e == RiscvIsaExt.H || !host.contains(e))) {
                throw new AssertionError(e + " enabled in a vCPU on host " + host);
            }
        }
        assertEquals((unit.isaV() ? 37 : 0) + host.size(), unit.regCount());
    }
}
