package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.models.gicv3.ItsCommand;
import dev.panavirt.models.gicv3.ItsDevice;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import dev.panavirt.models.gicv3.Vgic;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * An ITS moves with its VM: a guest driver maps devices, collections and LPIs through the command queue; guest RAM is
 * copied live, the tables are saved at the stop point and the pages that wrote are harvested and copied, then the
 * {@link ItsMigrationState} section rebuilds a new VM's ITS through its attributes. The same MSIs then make the same
 * LPIs pending on the same vCPUs on both, and commands issued after the move act alike. Each missing step (tables saved
 * after the final RAM pass, RESTORE_TABLES skipped, the redistributor part left out or
 * incomplete) makes the destination differ.
 */
class ItsMigrationStateTest {
    static final long RAM = 0x4000_0000L, RAM_SIZE = 4L << 20;
    static final long ITS_BASE = 0x0808_0000L, DOORBELL = ITS_BASE + ItsRegisters.GITS_TRANSLATER;
    static final long QUEUE = RAM + 0x1_0000, DEVICE_TABLE = RAM + 0x2_0000, COLLECTION_TABLE = RAM + 0x3_0000;
    static final long PROP_TABLE = RAM + 0x4_0000, PEND_0 = RAM + 0x6_0000, PEND_1 = RAM + 0x7_0000;
    static final long ITT_BASE = RAM + 0x10_0000;
    /** Valid, 16 pages (64 KiB) at QUEUE, inner RaWb, inner shareable. */
    static final long CBASER = ItsRegisters.VALID | 3L << 59 | QUEUE | 1L << 10 | 15;
    static final long PROPBASER = PROP_TABLE | 15;
    static final int LPI = 8192;
    static final String SECTION = "gicv3.its";
    /** (DeviceID, EventID) pairs the check signals: mapped ones, one in an unmapped collection, unmapped ones. */
    static final long[][] PROBES = {{1, 2}, {1, 3}, {6, 7}, {6, 0}, {6, 1}, {6, 3}, {2, 0}};

    static long itt(long deviceId) {
        return ITT_BASE + deviceId * 0x1000;
    }

    /** A VM: guest RAM (one region) behind a write tracker, the VGIC model with one ITS, and a guest driver's steps. */
    static final class Vm {
        final MemoryRegion region = new MemoryRegion(0, RAM, RAM_SIZE, 0, MemorySegment.ofArray(new byte[(int) RAM_SIZE]));
        final RegionGuestRam ram = new RegionGuestRam(region);
        final ModelRamWriteTracker tracker = new ModelRamWriteTracker(ram, List.of(region));
        final Vgic vgic;
        final ItsDevice its;

        Vm(int vcpus) throws ErrnoException {
            vgic = new Vgic(tracker, vcpus);
            its = vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
            its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), ITS_BASE, 8);
        }

        /** The driver: redistributors, the ITS's queue and tables, ITS enabled, collections 0 and 1. */
        Vm boot() throws ErrnoException {
            Redistributors rds = vgic.redistributors();
            rds.writePropbaser(0, PROPBASER);
            rds.writePendbaser(0, PEND_0);
            rds.writePendbaser(1, PEND_1);
            rds.writeCtlr(0, Redistributors.CTLR_ENABLE_LPIS);
            rds.writeCtlr(1, Redistributors.CTLR_ENABLE_LPIS);
            its.mmioWrite(ItsRegisters.GITS_CBASER, 8, CBASER);
            its.mmioWrite(ItsRegisters.baser(0), 8, ItsRegisters.VALID | DEVICE_TABLE);
            its.mmioWrite(ItsRegisters.baser(1), 8, ItsRegisters.VALID | COLLECTION_TABLE);
            its.mmioWrite(ItsRegisters.GITS_CTLR, 4, ItsRegisters.CTLR_ENABLED);
            command(ItsCommand.mapc(0, 0, true));
            command(ItsCommand.mapc(1, 1, true));
            return this;
        }

        /** The guest writes one command at CWRITER and advances CWRITER; the command must succeed. */
        void command(long[] c) throws ErrnoException {
            long cw = its.mmioRead(ItsRegisters.GITS_CWRITER, 8);
            for (int i = 0; i < 4; i++) {
                ram.writeLong(QUEUE + cw + 8L * i, c[i]);
            }
            its.mmioWrite(ItsRegisters.GITS_CWRITER, 8, (cw + 32) % ItsRegisters.commandQueueSize(CBASER));
            assertEquals(0, its.lastCommandResult(), "command 0x" + Long.toHexString(c[0] & 0xFF));
        }

        void mapDevice(long deviceId, int eventBits) throws ErrnoException {
            command(ItsCommand.mapd(deviceId, eventBits, itt(deviceId), true));
        }

        void map(long deviceId, long eventId, long intid, int icid) throws ErrnoException {
            ram.writeByte(PROP_TABLE + intid - LPI, 0xA1); // enabled, priority 0xA0
            command(ItsCommand.mapti(deviceId, eventId, intid, icid));
        }

        /**
         * Signals every probe as {@code KVM_SIGNAL_MSI} and reports what the VM did: each MSI's result, then the LPIs
         * pending on each vCPU.
         */
        List<String> observe() throws ErrnoException {
            List<String> out = new ArrayList<>();
            for (long[] p : PROBES) {
                int rc = vgic.signalMsi(DOORBELL, (int) p[1], kvm_h.KVM_MSI_VALID_DEVID(), (int) p[0]);
                out.add("msi " + p[0] + "/" + p[1] + " -> " + rc);
            }
            for (int vcpu = 0; vcpu < 2; vcpu++) {
                out.add("vcpu " + vcpu + " pending " + Arrays.toString(vgic.pendingLpis(vcpu)));
            }
            return out;
        }
    }

    /** The source's guest state: two devices, four translations, one of them in collection 9, which has no target. */
    static Vm source() throws ErrnoException {
        Vm vm = new Vm(2).boot();
        vm.mapDevice(1, 4);
        vm.mapDevice(6, 3);
        vm.map(1, 2, LPI, 0);
        vm.map(1, 3, LPI + 1, 1);
        vm.map(6, 7, LPI + 4, 1);
        vm.map(6, 0, LPI + 5, 9);
        return vm;
    }

    /** Where the source saves its tables relative to the final RAM pass. */
    enum Order {
        /** In the switchover's pause, before the final harvest (what {@link ItsMigrationState#saveTables} asks). */
        BEFORE_FINAL_PASS,
        /** With the other device state, after the last pages went. */
        AFTER_FINAL_PASS
    }

    /** The outcome: the destination, the section, and the pages the final harvest found. */
    record Moved(Vm destination, byte[] section, List<Long> finalPages) {
    }

    /** Migrates {@code src} as {@link PrecopySource} orders the steps, restoring through {@code wrap(dst.its)}. */
    static Moved migrate(Vm src, Order order, Function<ItsDevice, DeviceAttributes> wrap)
            throws Exception {
        Vm dst = new Vm(2);
        DirtyPages dirty = new DirtyPages(List.of(src.region));
        src.tracker.start();
        copy(src.ram, dst.ram, 0, RAM_SIZE); // round 1: the whole RAM, while the guest runs
        // The stop point: no vCPU runs. Switchover.pause():
        if (order == Order.BEFORE_FINAL_PASS) {
            ItsMigrationState.saveTables(src.its);
        }
        src.tracker.harvest(dirty); // the final harvest, then the final pass
        List<Long> pages = new ArrayList<>();
        for (long i = dirty.next(0); i >= 0; i = dirty.next(i + 1)) {
            long gpa = dirty.addressOf(i);
            pages.add(gpa);
            copy(src.ram, dst.ram, gpa - RAM, DirtyPages.PAGE_SIZE);
        }
        // Switchover.state():
        if (order == Order.AFTER_FINAL_PASS) {
            ItsMigrationState.saveTables(src.its);
        }
        byte[] section = ItsMigrationState.capture(src.its, src.vgic.redistributors()).encode();
        ItsMigrationState.decode(section).restore(wrap.apply(dst.its), dst.vgic.redistributors());
        return new Moved(dst, section, pages);
    }

    static void copy(GuestRam from, GuestRam to, long offset, long length) throws ErrnoException {
        byte[] buf = new byte[(int) length];
        from.read(RAM + offset, buf, 0, buf.length);
        to.write(RAM + offset, buf, 0, buf.length);
    }

    /** Commands the guest issues after the move: MOVI of a restored translation, and a new MAPTI. */
    static void after(Vm vm) throws ErrnoException {
        vm.command(ItsCommand.movi(1, 2, 1));
        vm.map(6, 1, LPI + 7, 0);
    }

    @Test
    void theDestinationTranslatesTheSameMsisAndRunsNewCommands() throws Exception {
        Vm src = source();
        Moved m = migrate(src, Order.BEFORE_FINAL_PASS, its -> its);
        assertEquals(List.of(DEVICE_TABLE, COLLECTION_TABLE, itt(1), itt(6)), m.finalPages(),
                "the final pass carries exactly the pages SAVE_TABLES wrote");
        Vm dst = m.destination();
        assertEquals(ItsMigrationState.decode(m.section()), ItsMigrationState.capture(dst.its, dst.vgic.redistributors()),
                "the destination reads back the registers the section carried");
        assertEquals(src.its.collections(), dst.its.collections());
        List<String> expected = src.observe();
        assertEquals(List.of("msi 1/2 -> 1", "msi 1/3 -> 1", "msi 6/7 -> 1", "msi 6/0 -> 0", "msi 6/1 -> 0",
                "msi 6/3 -> 0", "msi 2/0 -> 0", "vcpu 0 pending [8192]", "vcpu 1 pending [8193, 8196]"), expected);
        assertEquals(expected, dst.observe());

        after(src);
        after(dst);
        assertEquals(src.observe(), dst.observe(), "after MOVI and MAPTI on both");
        assertArrayEquals(new long[] {8199}, dst.vgic.pendingLpis(0), "the LPI mapped after the move");
        assertArrayEquals(new long[] {8192, 8193, 8196}, dst.vgic.pendingLpis(1), "MOVI moved LPI 8192 to vCPU 1");
    }

    /**
     * The whole path: {@link PrecopySource} with the model's write tracker as its dirty source, the stream, and
     * {@link PrecopyDestination}; the tables are saved in the switchover's {@code pause()} or, wrongly, in its
     * {@code state()}.
     */
    static Vm precopy(Vm src, boolean tablesInPause) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MigrationReport report = new PrecopySource(List.of(src.region), List.of(src.tracker),
                new ConvergencePolicy(4, Duration.ofSeconds(10), 1), r -> { }).migrate(out, new PrecopySource.Switchover() {
                    @Override
                    public void pause() throws ErrnoException {
                        if (tablesInPause) {
                            ItsMigrationState.saveTables(src.its);
                        }
                    }

                    @Override
                    public Map<String, byte[]> state() throws ErrnoException {
                        if (!tablesInPause) {
                            ItsMigrationState.saveTables(src.its);
                        }
                        return Map.of(SECTION, ItsMigrationState.capture(src.its, src.vgic.redistributors()).encode());
                    }
                });
        assertEquals(tablesInPause ? 4 : 0, report.finalPages(), "pages sent after the stop");
        Vm dst = new Vm(2);
        PrecopyDestination.Incoming in = new PrecopyDestination(List.of(dst.region))
                .receive(new ByteArrayInputStream(out.toByteArray()));
        ItsMigrationState.decode(in.state().get(SECTION)).restore(dst.its, dst.vgic.redistributors());
        return dst;
    }

    @Test
    void throughPrecopyTheTablesSavedInPauseArrive() throws Exception {
        Vm src = source();
        Vm dst = precopy(src, true);
        assertEquals(src.observe(), dst.observe());
    }

    @Test
    void throughPrecopyTheTablesSavedWithTheStateAreLost() throws Exception {
        Vm src = source();
        Vm dst = precopy(src, false);
        assertEquals(List.of(), dst.its.translations());
        assertNotEquals(src.observe(), dst.observe());
    }

    @Test
    void tablesSavedAfterTheFinalPassNeverArrive() throws Exception {
        Vm src = source();
        Moved m = migrate(src, Order.AFTER_FINAL_PASS, its -> its);
        assertEquals(List.of(), m.finalPages(), "nothing left to send when the tables are written");
        assertEquals(List.of(), m.destination().its.translations());
        assertNotEquals(src.observe(), m.destination().observe());
    }

    @Test
    void withoutRestoreTablesTheDestinationTranslatesNothing() throws Exception {
        Vm src = source();
        DroppingAttributes[] seen = new DroppingAttributes[1];
        Moved m = migrate(src, Order.BEFORE_FINAL_PASS, its -> seen[0] = new DroppingAttributes(its,
                kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES()));
        assertEquals(1, seen[0].dropped());
        List<String> got = m.destination().observe();
        assertEquals("msi 1/2 -> 0", got.get(0));
        assertNotEquals(src.observe(), got);
    }

    /**
     * The redistributors go first: restoring an ITE creates its LPI, which reads its configuration from the property
     * table GICR_PROPBASER names ({@code vgic_add_lpi} in {@code arch/arm64/kvm/vgic/vgic.c}); on a new VM that is
     * GPA 0, not RAM here. With them restored but LPIs left disabled, every MSI is refused.
     */
    @Test
    void theItsPartAloneIsNotEnough() throws Exception {
        Vm src = source();
        ItsMigrationState.saveTables(src.its);
        ItsMigrationState state = ItsMigrationState.capture(src.its, src.vgic.redistributors());

        Vm bare = new Vm(2);
        copy(src.ram, bare.ram, 0, RAM_SIZE);
        ErrnoException e = assertThrows(ErrnoException.class, () -> state.its().restore(bare.its));
        assertEquals(Errno.EFAULT, e.errno(), e.getMessage());

        Vm disabled = new Vm(2);
        copy(src.ram, disabled.ram, 0, RAM_SIZE);
        List<ItsMigrationState.Redistributor> off = state.redistributors().stream()
                .map(r -> new ItsMigrationState.Redistributor(r.vcpuId(), r.pendbaser(), false)).toList();
        new ItsMigrationState(state.its(), state.propbaser(), off).restore(disabled.its, disabled.vgic.redistributors());
        assertEquals(src.its.translations().size(), disabled.its.translations().size());
        e = assertThrows(ErrnoException.class, disabled::observe);
        assertEquals(Errno.EBUSY, e.errno(), e.getMessage());
    }

    /** The ITS restore sequence of {@code Documentation/virt/kvm/devices/arm-vgic-its.rst}, step d. */
    @Test
    void theRegistersAreRestoredInTheDocumentedOrder() throws Exception {
        DroppingAttributes[] seen = new DroppingAttributes[1];
        migrate(source(), Order.BEFORE_FINAL_PASS, its -> seen[0] = DroppingAttributes.recording(its));
        String regs = Integer.toHexString(kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS()) + "/";
        List<String> expected = new ArrayList<>(List.of(regs + "4", regs + "80", regs + "90", regs + "88"));
        for (int n = 0; n < 8; n++) {
            expected.add(regs + Integer.toHexString(ItsRegisters.baser(n)));
        }
        expected.add(Integer.toHexString(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL()) + "/"
                + Long.toHexString(kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES()));
        expected.add(regs + "0");
        assertEquals(expected, seen[0].sets(), "IIDR, CBASER, CREADR, CWRITER, BASER0-7, RESTORE_TABLES, CTLR");
    }

    @Test
    void aDestinationWithOtherVcpusIsRefused() throws Exception {
        Vm src = source();
        ItsMigrationState.saveTables(src.its);
        ItsMigrationState state = ItsMigrationState.capture(src.its, src.vgic.redistributors());
        Vm dst = new Vm(3);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> state.restore(dst.its, dst.vgic.redistributors()));
        assertTrue(e.getMessage().contains("[0, 1]"), e.getMessage());
    }

    @Test
    void malformedSectionsAreRefused() throws Exception {
        Vm src = source();
        ItsMigrationState.saveTables(src.its);
        byte[] good = ItsMigrationState.capture(src.its, src.vgic.redistributors()).encode();
        assertEquals(146, good.length, "magic, 14 registers, 2 x (id, PENDBASER, EnableLPIs)");
        assertEquals(ItsMigrationState.capture(src.its, src.vgic.redistributors()), ItsMigrationState.decode(good));
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            IOException e = assertThrows(IOException.class, () -> ItsMigrationState.decode(cut), "cut at " + n);
            assertTrue(e.getMessage().contains("ends early"), e.getMessage());
        }
        refused(good, b -> b[3] = 2, "magic/version");
        refused(good, b -> put(b, 116, 0x7FFF_FFFF), "redistributors, expected 1 to 512");
        refused(good, b -> put(b, 116, -1), "4294967295 redistributors");
        refused(good, b -> put(b, 116, 0), "0 redistributors");
        refused(good, b -> b[132] = 2, "EnableLPIs byte 2");
        refused(good, b -> put(b, 133, 0), "ascending");
        refused(Arrays.copyOf(good, good.length + 1), b -> { }, "1 bytes after the record");
    }

    interface Edit {
        void apply(byte[] b);
    }

    static void put(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (24 - 8 * i));
        }
    }

    static void refused(byte[] good, Edit edit, String message) {
        byte[] b = good.clone();
        edit.apply(b);
        IOException e = assertThrows(IOException.class, () -> ItsMigrationState.decode(b), message);
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
