package dev.panavirt.models.gicv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsDevice.Translation;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded random mixes of commands, register writes, attributes and MSIs. Nothing but the documented
 * results may come out (errno exceptions from attributes and MSIs), and the model's invariants hold after
 * every step: queue offsets stay inside the queue, every LPI's reference count equals the ITEs mapping it,
 * and a save, reset and restore gives back the translations.
 */
class ItsRandomOperationsTest {

    private static final int STEPS = 4000;

    private final ItsRig rig = ItsRig.ready();
    private Random rnd;
    private int roundTrips;

    private long pick(long... values) {
        return values[rnd.nextInt(values.length)];
    }

    private long deviceId() {
        return rnd.nextInt(10) == 0 ? pick(0xFFFF, 0x1_0000, 8192, 0xFFFF_FFFFL) : rnd.nextInt(6);
    }

    private long eventId() {
        return rnd.nextInt(10) == 0 ? pick(0xFFFF, 0x1_0000, 0xFFFF_FFFFL) : rnd.nextInt(8);
    }

    private int icid() {
        return rnd.nextInt(10) == 0 ? (int) pick(8191, 8192, 0xFFFF) : rnd.nextInt(4);
    }

    private long vcpu() {
        return rnd.nextInt(8) == 0 ? pick(2, 0xFFFF_FFFFL) : rnd.nextInt(2);
    }

    private long intid() {
        return rnd.nextInt(8) == 0 ? pick(0, 8191, 1 << 16, 0xFFFF_FFFFL) : ItsRig.LPI + rnd.nextInt(12);
    }

    private long[] randomCommand() {
        return switch (rnd.nextInt(14)) {
            case 0 -> ItsCommand.mapd(deviceId(), 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? 32 : 4),
                    ItsRig.itt(rnd.nextInt(6)), rnd.nextInt(5) != 0);
            case 1 -> ItsCommand.mapc(icid(), vcpu(), rnd.nextInt(5) != 0);
            case 2, 3 -> ItsCommand.mapti(deviceId(), eventId(), intid(), icid());
            case 4 -> ItsCommand.mapi(deviceId(), intid(), icid());
            case 5 -> ItsCommand.movi(deviceId(), eventId(), icid());
            case 6 -> ItsCommand.event(ItsCommand.DISCARD, deviceId(), eventId());
            case 7 -> ItsCommand.event(ItsCommand.CLEAR, deviceId(), eventId());
            case 8 -> ItsCommand.event(ItsCommand.INT, deviceId(), eventId());
            case 9 -> ItsCommand.event(ItsCommand.INV, deviceId(), eventId());
            case 10 -> ItsCommand.invall(icid());
            case 11 -> ItsCommand.movall(vcpu(), vcpu());
            case 12 -> ItsCommand.sync(vcpu());
            default -> new long[] {rnd.nextLong(), rnd.nextLong(), rnd.nextLong(), rnd.nextLong()};
        };
    }

    private void randomRegisterWrite() {
        long[] offsets = {ItsRegisters.GITS_CTLR, ItsRegisters.GITS_CBASER, ItsRegisters.GITS_CWRITER,
                ItsRegisters.GITS_CREADR, ItsRegisters.baser(0), ItsRegisters.baser(1), ItsRegisters.GITS_TYPER,
                0x10, 0x1_0040};
        long off = offsets[rnd.nextInt(offsets.length)] + (rnd.nextInt(4) == 0 ? 4 : 0);
        int width = (int) pick(1, 2, 4, 4, 8, 8);
        long value = switch (rnd.nextInt(4)) {
            case 0 -> rnd.nextLong();
            case 1 -> ItsRig.CBASER;
            case 2 -> ItsRig.BASER0;
            default -> rnd.nextInt(0x2_0000) & ~31;
        };
        rig.its.mmioWrite(off, width, value);
        if (rnd.nextInt(3) == 0) {
            rig.enable();
        }
    }

    private void randomAttribute() {
        try {
            switch (rnd.nextInt(4)) {
                case 0 -> rig.save();
                case 1 -> rig.restore();
                case 2 -> rig.regSet(pick(0, 4, 8, 0x80, 0x88, 0x90, 0x100, 0x108, 0xFFE8), rnd.nextLong());
                default -> rig.its.getAttr(ItsRig.grpRegs(), rnd.nextInt(0x1_0000) & ~3L, 8);
            }
        } catch (ErrnoException expected) {
            // Every errno path is covered elsewhere; here only "nothing else escapes" matters.
        }
    }

    private void randomMsi() {
        try {
            rig.vgic.signalMsi(ItsRig.ITS_BASE + rnd.nextInt(0x2_1000), (int) eventId(),
                    rnd.nextInt(8) == 0 ? 0 : kvm_h.KVM_MSI_VALID_DEVID(), (int) deviceId());
        } catch (ErrnoException expected) {
            // as above
        }
    }

    private void checkInvariants() {
        long cbaser = rig.read64(ItsRegisters.GITS_CBASER);
        long size = ItsRegisters.commandQueueSize(cbaser);
        long creadr = rig.read64(ItsRegisters.GITS_CREADR);
        long cwriter = rig.read64(ItsRegisters.GITS_CWRITER);
        assertTrue(creadr < size && (creadr & 31) == 0, "CREADR 0x" + Long.toHexString(creadr));
        assertTrue(cwriter < size && (cwriter & 31) == 0, "CWRITER 0x" + Long.toHexString(cwriter));
        if (rig.its.isEnabled()) {
            assertEquals(creadr, cwriter, "an enabled ITS drains its queue");
        }
        Map<Long, Integer> refs = new HashMap<>();
        for (Translation t : rig.its.translations()) {
            refs.merge(t.intid(), 1, Integer::sum);
            assertTrue(t.intid() >= ItsRig.LPI);
        }
        for (LpiState l : rig.vgic.lpiStates()) {
            assertEquals(refs.getOrDefault(l.intid(), 0), l.references(), "references of LPI " + l.intid());
        }
        assertEquals(refs.size(), rig.vgic.lpiStates().size());
        assertTrue(rig.its.state().startsWith("its@0x8080000 "));
    }

    private void roundTrip() throws ErrnoException {
        List<Translation> before = rig.its.translations();
        if (before.stream().anyMatch(t -> t.icid() < 0)) {
            return; // orphaned ITEs come back attached; see saveOfAnOrphanedIteUsesTheIcidItWasMappedWith
        }
        long cbaser = rig.regGet(ItsRegisters.GITS_CBASER);
        long b0 = rig.regGet(ItsRegisters.baser(0));
        long b1 = rig.regGet(ItsRegisters.baser(1));
        long ctlr = rig.regGet(ItsRegisters.GITS_CTLR);
        if ((b0 & b1 & ItsRegisters.VALID) == 0 || (b0 & ItsRegisters.BASER_INDIRECT) != 0) {
            return;
        }
        // Overlapping tables or shared ITTs corrupt each other on SAVE, in KVM as here; skip those layouts.
        List<long[]> ranges = new java.util.ArrayList<>();
        ranges.add(new long[] {ItsRegisters.tableAddress(b0), ItsRegisters.tableSize(b0)});
        ranges.add(new long[] {ItsRegisters.tableAddress(b1), ItsRegisters.tableSize(b1)});
        for (ItsDevice.DeviceMapping d : rig.its.devices()) {
            ranges.add(new long[] {d.itt(), (1L << d.eventIdBits()) * 8});
        }
        for (int i = 0; i < ranges.size(); i++) {
            for (int j = i + 1; j < ranges.size(); j++) {
                long[] a = ranges.get(i);
                long[] b = ranges.get(j);
                if (a[0] < b[0] + b[1] && b[0] < a[0] + a[1]) {
                    return;
                }
            }
        }
        // Tables keep stale entries (SAVE never clears, unmapping by BASER does not either), and RESTORE
        // would faithfully bring them back; start from clean tables so the comparison is exact.
        if (!zero(ItsRegisters.tableAddress(b0), ItsRegisters.tableSize(b0))) {
            return;
        }
        for (ItsDevice.DeviceMapping d : rig.its.devices()) {
            if (!zero(d.itt(), (1L << d.eventIdBits()) * 8)) {
                return;
            }
        }
        try {
            rig.save();
        } catch (ErrnoException e) {
            return; // e.g. a device the shrunken table no longer holds
        }
        rig.reset();
        rig.regSet(ItsRegisters.GITS_CBASER, cbaser);
        rig.regSet(ItsRegisters.baser(0), b0);
        rig.regSet(ItsRegisters.baser(1), b1);
        try {
            rig.restore();
        } catch (ErrnoException e) {
            rig.regSet(ItsRegisters.GITS_CTLR, ctlr);
            return; // e.g. a collection the shrunken table no longer holds
        }
        rig.regSet(ItsRegisters.GITS_CTLR, ctlr);
        List<Translation> after = rig.its.translations();
        roundTrips++;
        assertEquals(before.size(), after.size());
        for (int i = 0; i < before.size(); i++) {
            Translation b = before.get(i);
            Translation a = after.get(i);
            assertEquals(List.of(b.deviceId(), b.eventId(), b.intid(), (long) b.icid(), b.targetVcpu()),
                    List.of(a.deviceId(), a.eventId(), a.intid(), (long) a.icid(), a.targetVcpu()));
        }
    }

    private boolean zero(long gpa, long length) {
        byte[] zeros = new byte[4096];
        try {
            for (long off = 0; off < length; off += zeros.length) {
                rig.ram.write(gpa + off, zeros, 0, (int) Math.min(zeros.length, length - off));
            }
            return true;
        } catch (ErrnoException e) {
            return false;
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 2026})
    void randomOperationsKeepTheModelConsistent(long seed) throws ErrnoException {
        rnd = new Random(seed);
        for (int step = 0; step < STEPS; step++) {
            switch (rnd.nextInt(20)) {
                case 0 -> randomRegisterWrite();
                case 1 -> randomAttribute();
                case 2, 3 -> randomMsi();
                case 4 -> rig.prop(ItsRig.LPI + rnd.nextInt(12), rnd.nextInt(256));
                case 5 -> {
                    if (rnd.nextInt(10) == 0) {
                        roundTrip();
                    }
                }
                default -> {
                    int n = 1 + rnd.nextInt(4);
                    long[][] cmds = new long[n][];
                    for (int i = 0; i < n; i++) {
                        cmds[i] = randomCommand();
                    }
                    rig.command(cmds);
                }
            }
            checkInvariants();
        }
        assertTrue(rig.its.commandsExecuted() > STEPS, "commands ran: " + rig.its.commandsExecuted());
        assertTrue(roundTrips > 0, "at least one save/reset/restore was compared");
    }
}
