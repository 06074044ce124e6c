package dev.panavirt.models.gicv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Vgic#reset} with {@link HeapGuestRam#clear} gives a model that behaves as a new one: a seeded
 * session (frame placement, redistributors, register writes, commands, MSIs, save/restore/reset
 * attributes, vCPU load/put) run on a reused model, after another session left it dirty, prints the same
 * transcript, result for result and down to the final tables, LPIs and counters, as on a fresh model. The
 * fuzz targets rely on it to reuse one model for every input.
 */
class VgicResetTest {

    private static final int SEEDS = 300;
    private static final int STEPS = 150;

    /** One model: a VM with vCPUs 0 and 1 and one ITS over lazily allocated heap RAM. */
    private static final class Model {
        final HeapGuestRam ram = new HeapGuestRam(ItsRig.RAM, ItsRig.RAM_SIZE);
        final Vgic vgic = new Vgic(ram, 2);
        final ItsDevice its;

        Model() throws ErrnoException {
            its = vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
        }

        void reset() {
            vgic.reset();
            ram.clear();
        }
    }

    /** A seeded session; every operation's outcome, then a full observation, goes into the transcript. */
    private static List<String> session(Model m, long seed, boolean leaveDirty) {
        Random rnd = new Random(seed);
        List<String> out = new ArrayList<>();
        if (rnd.nextInt(8) != 0) {
            record(out, "addr", () -> {
                m.its.setAttr(ItsRig.grpAddr(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), ItsRig.ITS_BASE, 8);
                return 0;
            });
        }
        Redistributors rds = m.vgic.redistributors();
        if (rnd.nextInt(4) != 0) {
            rds.writePropbaser(0, ItsRig.PROPBASER);
            rds.writePendbaser(0, ItsRig.PEND_TABLE_0 | (rnd.nextBoolean() ? Redistributors.PENDBASER_PTZ : 0));
            rds.writePendbaser(1, ItsRig.PEND_TABLE_1);
        }
        for (int i = 0; i < STEPS; i++) {
            step(m, rnd, out);
        }
        if (leaveDirty) {
            rds.load(rnd.nextInt(2));
            if (rnd.nextBoolean()) {
                m.its.close();
            }
        }
        observe(m, out);
        return out;
    }

    private static void step(Model m, Random rnd, List<String> out) {
        Redistributors rds = m.vgic.redistributors();
        switch (rnd.nextInt(12)) {
            case 0 -> {
                long[] offsets = {ItsRegisters.GITS_CTLR, ItsRegisters.GITS_CBASER, ItsRegisters.GITS_CWRITER,
                    ItsRegisters.baser(0), ItsRegisters.baser(1), 0x10};
                long[] values = {ItsRig.CBASER, ItsRig.BASER0, ItsRig.BASER1, ItsRegisters.CTLR_ENABLED, 0,
                    rnd.nextLong(), rnd.nextInt(0x1000) & ~31};
                m.its.mmioWrite(offsets[rnd.nextInt(offsets.length)], rnd.nextBoolean() ? 8 : 4,
                        values[rnd.nextInt(values.length)]);
            }
            case 1 -> {
                m.its.mmioWrite(ItsRegisters.GITS_CBASER, 8, ItsRig.CBASER);
                m.its.mmioWrite(ItsRegisters.baser(0), 8, ItsRig.BASER0);
                m.its.mmioWrite(ItsRegisters.baser(1), 8, ItsRig.BASER1);
                m.its.mmioWrite(ItsRegisters.GITS_CTLR, 4, ItsRegisters.CTLR_ENABLED);
            }
            case 2, 3, 4 -> {
                long cw = m.its.mmioRead(ItsRegisters.GITS_CWRITER, 8);
                long size = ItsRegisters.commandQueueSize(m.its.mmioRead(ItsRegisters.GITS_CBASER, 8));
                long[] c = command(rnd);
                record(out, "queue", () -> {
                    for (int w = 0; w < 4; w++) {
                        m.ram.writeLong(ItsRig.QUEUE + cw + 8L * w, c[w]);
                    }
                    return 0;
                });
                m.its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, (cw + 32) % size);
                out.add("cmd " + m.its.lastCommandOpcode() + " -> " + m.its.lastCommandResult());
            }
            case 5 -> record(out, "msi", () -> m.vgic.signalMsi(ItsRig.ITS_BASE + ItsRegisters.GITS_TRANSLATER,
                    rnd.nextInt(6), rnd.nextInt(6) == 0 ? 0 : kvm_h.KVM_MSI_VALID_DEVID(), rnd.nextInt(5)));
            case 6 -> {
                long[] ctrl = {kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES(), kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES(),
                    kvm_h.KVM_DEV_ARM_ITS_CTRL_RESET()};
                long attr = ctrl[rnd.nextInt(ctrl.length)];
                record(out, "ctrl " + attr, () -> {
                    m.its.setAttr(ItsRig.grpCtrl(), attr);
                    return 0;
                });
            }
            case 7 -> {
                long[] regs = {ItsRegisters.GITS_IIDR, ItsRegisters.GITS_CREADR, ItsRegisters.GITS_CBASER,
                    ItsRegisters.baser(0)};
                long reg = regs[rnd.nextInt(regs.length)];
                long value = rnd.nextBoolean() ? rnd.nextLong() : rnd.nextInt(0x1000) & ~31;
                record(out, "regset " + reg, () -> {
                    m.its.setAttr(ItsRig.grpRegs(), reg, value, 8);
                    return 0;
                });
            }
            case 8 -> {
                int vcpu = rnd.nextInt(2);
                if (rnd.nextBoolean()) {
                    rds.load(vcpu);
                } else {
                    rds.put(vcpu);
                }
            }
            case 9 -> rds.writeCtlr(rnd.nextInt(2), rnd.nextInt(4) == 0 ? 0 : Redistributors.CTLR_ENABLE_LPIS);
            case 10 -> {
                long intid = ItsRig.LPI + rnd.nextInt(8);
                int prop = rnd.nextInt(256);
                record(out, "prop", () -> {
                    m.ram.writeByte(ItsRig.PROP_TABLE + intid - ItsRig.LPI, prop);
                    return 0;
                });
            }
            default -> {
                long[] regs = {ItsRegisters.GITS_CTLR, ItsRegisters.GITS_CREADR, ItsRegisters.GITS_IIDR,
                    ItsRegisters.baser(0), ItsRegisters.baser(1)};
                long reg = regs[rnd.nextInt(regs.length)];
                record(out, "regget " + reg, () -> m.its.getAttr(ItsRig.grpRegs(), reg, 8));
            }
        }
    }

    private static long[] command(Random rnd) {
        long dev = rnd.nextInt(4);
        long event = rnd.nextInt(4);
        int icid = rnd.nextInt(3);
        return switch (rnd.nextInt(9)) {
            case 0 -> ItsCommand.mapd(dev, 1 + rnd.nextInt(4), ItsRig.itt(dev), rnd.nextInt(5) != 0);
            case 1 -> ItsCommand.mapc(icid, rnd.nextInt(2), rnd.nextInt(5) != 0);
            case 2, 3 -> ItsCommand.mapti(dev, event, ItsRig.LPI + rnd.nextInt(8), icid);
            case 4 -> ItsCommand.movi(dev, event, icid);
            case 5 -> ItsCommand.event(ItsCommand.DISCARD, dev, event);
            case 6 -> ItsCommand.event(ItsCommand.INT, dev, event);
            case 7 -> ItsCommand.invall(icid);
            default -> ItsCommand.sync(rnd.nextInt(2));
        };
    }

    private interface Op {
        long run() throws ErrnoException;
    }

    private static void record(List<String> out, String what, Op op) {
        try {
            out.add(what + " = 0x" + Long.toHexString(op.run()));
        } catch (ErrnoException e) {
            out.add(what + " ! " + e.errno());
        } catch (IllegalStateException e) {
            out.add(what + " ! " + e.getMessage());
        }
    }

    /** Everything the model lets a caller see. */
    private static void observe(Model m, List<String> out) {
        ItsDevice its = m.its;
        out.add("base 0x" + Long.toHexString(its.baseAddress()) + " enabled " + its.isEnabled());
        out.add("last " + its.lastCommandOpcode() + " " + its.lastCommandResult() + " executed "
                + its.commandsExecuted() + " unreadable " + its.commandsUnreadable() + " ignored "
                + its.ignoredAccesses());
        for (long off : new long[] {ItsRegisters.GITS_CTLR, ItsRegisters.GITS_IIDR, ItsRegisters.GITS_CBASER,
            ItsRegisters.GITS_CWRITER, ItsRegisters.GITS_CREADR, ItsRegisters.baser(0), ItsRegisters.baser(1)}) {
            out.add("mmio " + off + " = 0x" + Long.toHexString(its.mmioRead(off, 8)));
        }
        out.add("devices " + its.devices());
        out.add("collections " + its.collections());
        out.add("translations " + its.translations());
        out.add("lpis " + m.vgic.lpiStates());
        Redistributors rds = m.vgic.redistributors();
        out.add("propbaser 0x" + Long.toHexString(rds.propbaser()));
        for (int v = 0; v < 2; v++) {
            out.add("vcpu" + v + " pendbaser 0x" + Long.toHexString(rds.pendbaser(v)) + " lpis "
                    + rds.lpisEnabled(v) + " running " + rds.isRunning(v) + " pending "
                    + Arrays.toString(m.vgic.pendingLpis(v)));
        }
        record(out, "abi", () -> its.getAttr(ItsRig.grpRegs(), ItsRegisters.GITS_IIDR, 8));
        out.add("state " + its.state());
    }

    @Test
    void aReusedModelBehavesAsAFreshOne() throws ErrnoException {
        Model reused = new Model();
        for (long seed = 1; seed <= SEEDS; seed++) {
            List<String> fresh = session(new Model(), seed, false);
            session(reused, seed * 7919 + 13, true);
            reused.reset();
            List<String> again = session(reused, seed, false);
            assertEquals(fresh, again, "seed " + seed);
            reused.reset();
        }
    }

    @Test
    void withoutTheResetTheSessionsDiffer() throws ErrnoException {
        int differ = 0;
        for (long seed = 1; seed <= SEEDS; seed++) {
            Model reused = new Model();
            List<String> fresh = session(new Model(), seed, false);
            session(reused, seed * 7919 + 13, true);
            if (!fresh.equals(session(reused, seed, false))) {
                differ++;
            }
        }
        // The comparison above has teeth: left-over state shows in nearly every transcript.
        assertTrue(differ > SEEDS * 9 / 10, differ + " of " + SEEDS + " transcripts differ");
    }

    @Test
    void resetKeepsTheFrameListenerAndTheSameDevice() throws ErrnoException {
        Model m = new Model();
        List<Long> placed = new ArrayList<>();
        m.vgic.onFrameMapped((its, base, size) -> placed.add(base));
        m.its.setAttr(ItsRig.grpAddr(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), ItsRig.ITS_BASE, 8);
        m.reset();
        assertEquals(List.of(m.its), m.vgic.devices());
        m.its.setAttr(ItsRig.grpAddr(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), ItsRig.ITS_BASE, 8);
        assertEquals(List.of(ItsRig.ITS_BASE, ItsRig.ITS_BASE), placed);
    }
}
