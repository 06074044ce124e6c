package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.loongarch64.kvm_h;
import dev.panavirt.models.loongarch.EiointcDevice;
import dev.panavirt.models.loongarch.EiointcRegisters;
import dev.panavirt.models.loongarch.LoongArchVm;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * An EIOINTC moves with its VM through {@link EiointcMigrationState}: a guest enables vectors, maps them to pins and
 * routes them to vCPUs (encoded modes of the virt extension), and holds one line asserted. On a new VM's EIOINTC,
 * loaded through its attributes only, the guest reads back the same registers and every vector raised afterwards
 * drives the same vCPU pin as on the source. Without the LOAD_FINISHED step, or without the status word, the routes
 * differ; malformed sections are refused.
 */
class EiointcMigrationStateTest {
    static final int VCPUS = 4;
    static final long NODETYPE = 0x14A0, IPMAP = 0x14C0, ENABLE = 0x1600, BOUNCE = 0x1680, COREISR = 0x1800,
            COREMAP = 0x1C00, CONFIG = EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_CONFIG;
    /** Vectors the check looks at: enabled and routed ones, one enabled but left at its reset route, one disabled. */
    static final int[] PROBES = {5, 9, 70, 71, 100, 200};

    /** A VM with its EIOINTC and a record of every vCPU line change. */
    static final class Vm {
        final EiointcDevice eiointc;
        final List<String> lines = new ArrayList<>();

        /** {@code KVM_CREATE_DEVICE} only: num_cpu and features are 0 until someone sets them. */
        Vm() throws ErrnoException {
            eiointc = EiointcDevice.create(new LoongArchVm(VCPUS));
            eiointc.setLineListener((v, pin, level) -> lines.add((level ? "+" : "-") + v + "." + pin));
        }

        /** What the VMM does at creation (num_cpu, all features), then the guest's driver. */
        Vm boot() throws ErrnoException {
            int ctrl = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL();
            eiointc.setAttr(ctrl, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU(), VCPUS, 4);
            eiointc.setAttr(ctrl, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE(), EiointcRegisters.ALL_FEATURES, 4);
            wr(CONFIG, 4, EiointcRegisters.ENABLE_CPU_ENCODE | EiointcRegisters.ENABLE_INT_ENCODE);
            wr(NODETYPE, 8, 0x0004_0003_0002_0001L);
            wr(IPMAP, 8, 12L << 48 | 5L << 24 | 7L << 16 | 3); // 0-31 -> IP3, 64-95 -> IP7, 96-127 -> IP5, 192-223 -> IP12
            wr(ENABLE, 8, 1L << 5);
            wr(ENABLE + 8, 8, 1L << (70 - 64) | 1L << (71 - 64) | 1L << (100 - 64));
            wr(ENABLE + 24, 8, 1L << (200 - 192));
            wr(BOUNCE, 4, 1 << 5);
            wr(COREMAP + 5, 1, 2);
            wr(COREMAP + 70, 1, 3);
            wr(COREMAP + 71, 1, 1);
            wr(COREMAP + 200, 1, 1);
            wr(COREMAP + 9, 1, 3);
            eiointc.setIrq(70, true); // held asserted across the move
            eiointc.setIrq(71, true);
            eiointc.setIrq(71, false);
            wr(ENABLE + 8, 8, 1L << (70 - 64) | 1L << (71 - 64) | 1L << (100 - 64)); // unchanged: lines stay put
            return this;
        }

        void wr(long address, int width, long value) throws ErrnoException {
            eiointc.iocsrWrite(0, address, width, value);
        }

        /** What a guest reads back: enable, IPMAP, the routes, node types, bounce, and each vCPU's COREISR row. */
        List<Long> guestView() throws ErrnoException {
            List<Long> out = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                out.add(eiointc.iocsrRead(0, ENABLE + 8L * i, 8));
                out.add(eiointc.iocsrRead(0, NODETYPE + 8L * i, 8));
                out.add(eiointc.iocsrRead(0, BOUNCE + 8L * i, 8));
            }
            out.add(eiointc.iocsrRead(0, IPMAP, 8));
            for (int i = 0; i < 32; i++) {
                out.add(eiointc.iocsrRead(0, COREMAP + 8L * i, 8));
            }
            for (int v = 0; v < VCPUS; v++) {
                for (int i = 0; i < 4; i++) {
                    out.add(eiointc.iocsrRead(v, COREISR + 8L * i, 8));
                }
            }
            out.add(eiointc.iocsrRead(0, CONFIG, 4));
            return out;
        }

        /**
         * The routing check: each probe's target vCPU and pin, then the lines driven by lowering the held vector and
         * raising every probe, and the pins left raised on each vCPU.
         */
        List<String> observe() {
            List<String> out = new ArrayList<>();
            for (int irq : PROBES) {
                out.add(irq + " -> vcpu " + eiointc.targetOf(irq) + " pin " + eiointc.pinOf(irq));
            }
            lines.clear();
            eiointc.setIrq(70, false);
            for (int irq : PROBES) {
                eiointc.setIrq(irq, true);
            }
            out.add("lines " + lines);
            for (int v = 0; v < VCPUS; v++) {
                out.add("vcpu " + v + " pins 0x" + Integer.toHexString(eiointc.pins(v)));
            }
            return out;
        }
    }

    static Vm migrate(Vm src, Function<DeviceAttributes, DeviceAttributes> wrap) throws Exception {
        byte[] section = EiointcMigrationState.capture(src.eiointc).encode();
        Vm dst = new Vm();
        EiointcMigrationState.decode(section).restore(wrap.apply(dst.eiointc));
        return dst;
    }

    @Test
    void theDestinationRoutesEveryVectorAsTheSourceDoes() throws Exception {
        Vm src = new Vm().boot();
        EiointcMigrationState state = EiointcMigrationState.capture(src.eiointc);
        Vm dst = migrate(src, d -> d);
        assertEquals(List.of(), dst.lines, "loading raises no vCPU line");
        assertEquals(state, EiointcMigrationState.capture(dst.eiointc), "the destination reads back the section");
        assertEquals(src.guestView(), dst.guestView());
        List<String> expected = src.observe();
        assertEquals(List.of("5 -> vcpu 2 pin 3", "9 -> vcpu 3 pin 3", "70 -> vcpu 3 pin 7", "71 -> vcpu 1 pin 7",
                "100 -> vcpu 0 pin 5", "200 -> vcpu 1 pin 12", "lines [-3.7, +2.3, +3.7, +1.7, +0.5, +1.12]",
                "vcpu 0 pins 0x20", "vcpu 1 pins 0x1080", "vcpu 2 pins 0x8", "vcpu 3 pins 0x80"), expected);
        assertEquals(expected, dst.observe());
    }

    @Test
    void withoutLoadFinishedTheRoutesStayAtReset() throws Exception {
        Vm src = new Vm().boot();
        DroppingAttributes[] seen = new DroppingAttributes[1];
        Vm dst = migrate(src, d -> seen[0] = new DroppingAttributes(d, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL(),
                kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED()));
        assertEquals(1, seen[0].dropped());
        assertEquals(src.guestView(), dst.guestView(), "the registers alone arrive");
        List<String> got = dst.observe();
        assertEquals("5 -> vcpu 0 pin 3", got.get(0));
        assertNotEquals(src.observe(), got);
    }

    @Test
    void withoutTheStatusWordTheEncodedRoutesAreLost() throws Exception {
        Vm src = new Vm().boot();
        Vm dst = migrate(src, d -> new DroppingAttributes(d, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS(),
                kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE()));
        assertNotEquals(src.observe(), dst.observe());
    }

    @Test
    void numCpuAndFeaturesComeFirstAndLoadFinishedLast() throws Exception {
        DroppingAttributes[] seen = new DroppingAttributes[1];
        migrate(new Vm().boot(), d -> seen[0] = DroppingAttributes.recording(d));
        List<String> sets = seen[0].sets();
        String ctrl = Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL()) + "/";
        String regs = Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS()) + "/";
        assertEquals(2 + 98 + VCPUS * 8 + 2, sets.size());
        assertEquals(List.of(ctrl + Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU()),
                ctrl + Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE())), sets.subList(0, 2));
        assertTrue(sets.subList(2, sets.size() - 2).stream().allMatch(s -> s.startsWith(regs)), sets.toString());
        assertTrue(sets.contains(regs + "30400"), "the COREISR row of vCPU 3");
        assertEquals(List.of(Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS()) + "/"
                + Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE()),
                ctrl + Integer.toHexString(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED())),
                sets.subList(sets.size() - 2, sets.size()));
    }

    @Test
    void malformedSectionsAreRefused() throws Exception {
        byte[] good = EiointcMigrationState.capture(new Vm().boot().eiointc).encode();
        assertEquals(16 + 98 * 4 + VCPUS * 8 * 4, good.length, "header, shared registers, one COREISR row per vCPU");
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            IOException e = assertThrows(IOException.class, () -> EiointcMigrationState.decode(cut), "cut at " + n);
            assertTrue(e.getMessage().contains("ends early"), e.getMessage());
        }
        refused(good, b -> b[3] = 2, "magic/version");
        refused(good, b -> {
            b[6] = 1;
            b[7] = 1;
        }, "num_cpu 257");
        refused(good, b -> Arrays.fill(b, 4, 8, (byte) 0xFF), "num_cpu 4294967295");
        refused(good, b -> b[7] = 5, "ends early");
        refused(good, b -> b[7] = 3, "32 bytes after the record");
        refused(Arrays.copyOf(good, good.length + 1), b -> { }, "1 bytes after the record");
    }

    interface Edit {
        void apply(byte[] b);
    }

    static void refused(byte[] good, Edit edit, String message) {
        byte[] b = good.clone();
        edit.apply(b);
        IOException e = assertThrows(IOException.class, () -> EiointcMigrationState.decode(b), message);
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
