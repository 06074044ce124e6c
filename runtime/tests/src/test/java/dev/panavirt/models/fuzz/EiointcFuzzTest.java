package dev.panavirt.models.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.loongarch.EiointcDevice;
import dev.panavirt.models.loongarch.LoongArchVm;
import java.util.Set;

/**
 * Guest- and VMM-facing inputs of the EIOINTC model, fuzzed: any sequence of IOCSR accesses, line
 * changes and attribute calls yields a value or one of the documented errnos; nothing else escapes.
 */
class EiointcFuzzTest {
    static final Set<Integer> DOCUMENTED = Set.of(Errno.EINVAL, Errno.EPERM, Errno.EOPNOTSUPP, Errno.EFAULT,
            Errno.ENXIO);

    @FuzzTest(maxDuration = "10s")
    void anyOperationSequence(FuzzedDataProvider data) throws Exception {
        int vcpus = data.consumeInt(1, 8);
        EiointcDevice d = EiointcDevice.create(new LoongArchVm(vcpus));
        int steps = data.consumeInt(1, 64);
        for (int i = 0; i < steps && data.remainingBytes() > 0; i++) {
            try {
                switch (data.consumeInt(0, 4)) {
                    case 0 -> d.iocsrWrite(data.consumeInt(0, vcpus - 1), address(data), width(data), data.consumeLong());
                    case 1 -> d.iocsrRead(data.consumeInt(0, vcpus - 1), address(data), width(data));
                    case 2 -> d.setIrq(data.consumeInt(-8, 263), data.consumeBoolean());
                    case 3 -> d.setAttr(data.consumeInt(0x4000_0000, 0x4000_0006), data.consumeLong(0, 0x10_0000),
                            data.consumeLong(), data.pickValue(new int[] {4, 8}));
                    default -> d.getAttr(data.consumeInt(0x4000_0000, 0x4000_0006), data.consumeLong(0, 0x10_0000),
                            data.pickValue(new int[] {4, 8}));
                }
            } catch (ErrnoException e) {
                if (!DOCUMENTED.contains(e.errno())) {
                    throw new AssertionError("undocumented errno " + e.getMessage(), e);
                }
            } catch (IllegalArgumentException e) {
                // API misuse by the caller (not a guest input): documented for irq numbers outside 0..255
                if (!e.getMessage().contains("irq") && !e.getMessage().contains("vector")) {
                    throw e;
                }
            }
        }
    }

    private static long address(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeLong(0x1400, 0x1d00) : data.consumeLong(0x4000_0000L, 0x4000_1000L);
    }

    private static int width(FuzzedDataProvider data) {
        return data.pickValue(new int[] {1, 2, 4, 8});
    }
}
