package dev.panavirt.models.gicv3;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;

/**
 * A VM with two vCPUs (ids 0 and 1), heap RAM and one ITS, plus a guest-driver-like helper that programs
 * the tables and pushes commands. Layout (all in one 64 MiB slot at {@link #RAM}):
 *
 * <pre>
 * 0x4001_0000 command queue (64 KiB)     0x4004_0000 LPI property table (16 ID bits)
 * 0x4002_0000 device table (1 page)      0x4006_0000 pending table vCPU 0, 0x4007_0000 vCPU 1
 * 0x4003_0000 collection table (1 page)  0x4010_0000 + dev * 0x1000 ITTs
 * </pre>
 */
final class ItsRig {

    static final long RAM = 0x4000_0000L;
    static final long RAM_SIZE = 64L << 20;
    static final long ITS_BASE = 0x0808_0000L;
    static final long QUEUE = 0x4001_0000L;
    static final long DEVICE_TABLE = 0x4002_0000L;
    static final long COLLECTION_TABLE = 0x4003_0000L;
    static final long PROP_TABLE = 0x4004_0000L;
    static final long PEND_TABLE_0 = 0x4006_0000L;
    static final long PEND_TABLE_1 = 0x4007_0000L;
    static final long ITT_BASE = 0x4010_0000L;
    /** CBASER: valid, 16 pages (64 KiB) at QUEUE, inner RaWb, inner shareable. */
    static final long CBASER = ItsRegisters.VALID | 3L << 59 | QUEUE | 1L << 10 | 15;
    /** BASER0: valid flat device table of 1 page. */
    static final long BASER0 = ItsRegisters.VALID | DEVICE_TABLE;
    /** BASER1: valid collection table of 1 page. */
    static final long BASER1 = ItsRegisters.VALID | COLLECTION_TABLE;
    /** PROPBASER with 16 INTID bits. */
    static final long PROPBASER = PROP_TABLE | 15;
    static final int LPI = 8192;

    final HeapGuestRam ram;
    final Vgic vgic;
    final ItsDevice its;

    ItsRig() {
        this(new Vgic(new HeapGuestRam(RAM, RAM_SIZE), 2));
    }

    /** A rig around {@code vgic}, whose RAM must be a {@link HeapGuestRam} covering the layout. */
    ItsRig(Vgic vgic) {
        this.vgic = vgic;
        this.ram = (HeapGuestRam) vgic.ram();
        try {
            its = vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
            its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), ITS_BASE, 8);
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
    }

    static long itt(long deviceId) {
        return ITT_BASE + deviceId * 0x1000;
    }

    // ---- Guest-driver steps --------------------------------------------------------------------------

    /** Redistributors: property table, pending tables, LPIs enabled on both vCPUs. */
    ItsRig redistributors() {
        Redistributors rds = vgic.redistributors();
        rds.writePropbaser(0, PROPBASER);
        rds.writePendbaser(0, PEND_TABLE_0);
        rds.writePendbaser(1, PEND_TABLE_1);
        rds.writeCtlr(0, Redistributors.CTLR_ENABLE_LPIS);
        rds.writeCtlr(1, Redistributors.CTLR_ENABLE_LPIS);
        return this;
    }

    /** CBASER, BASER0/1, then GITS_CTLR.Enabled. */
    ItsRig enable() {
        write64(ItsRegisters.GITS_CBASER, CBASER);
        write64(ItsRegisters.baser(0), BASER0);
        write64(ItsRegisters.baser(1), BASER1);
        write32(ItsRegisters.GITS_CTLR, ItsRegisters.CTLR_ENABLED);
        assertEquals(ItsRegisters.CTLR_ENABLED, read32(ItsRegisters.GITS_CTLR) & 1, "ITS enabled");
        return this;
    }

    /** Everything up to a usable ITS with collections 0 -> vCPU 0 and 1 -> vCPU 1. */
    static ItsRig ready() {
        ItsRig r = new ItsRig().redistributors().enable();
        r.command(ItsCommand.mapc(0, 0, true));
        r.command(ItsCommand.mapc(1, 1, true));
        return r;
    }

    /** Writes the property-table byte of LPI {@code intid}. */
    void prop(long intid, int value) {
        try {
            ram.writeByte(PROP_TABLE + intid - LPI, value);
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
    }

    /** Writes commands at CWRITER and advances CWRITER past them (which runs them if enabled). */
    void command(long[]... commands) {
        long cw = read64(ItsRegisters.GITS_CWRITER);
        long size = ItsRegisters.commandQueueSize(read64(ItsRegisters.GITS_CBASER));
        for (long[] c : commands) {
            try {
                for (int i = 0; i < 4; i++) {
                    ram.writeLong(QUEUE + cw + 8L * i, c[i]);
                }
            } catch (ErrnoException e) {
                throw new AssertionError(e);
            }
            cw = (cw + 32) % size;
        }
        write64(ItsRegisters.GITS_CWRITER, cw);
    }

    /** Runs one command and returns its (otherwise discarded) result. */
    int run(long[] command) {
        command(command);
        return its.lastCommandResult();
    }

    /** MAPD of {@code deviceId} with {@code bits} EventID bits at its ITT. */
    void mapDevice(long deviceId, int bits) {
        assertEquals(0, run(ItsCommand.mapd(deviceId, bits, itt(deviceId), true)), "MAPD");
    }

    /** MAPTI of (dev, event) to {@code intid} in {@code icid}, with an enabled property byte. */
    void map(long deviceId, long eventId, long intid, int icid) {
        prop(intid, 0xA1);
        assertEquals(0, run(ItsCommand.mapti(deviceId, eventId, intid, icid)), "MAPTI");
    }

    // ---- MMIO ------------------------------------------------------------------------------------------

    long read32(long offset) {
        return its.mmioRead(offset, 4);
    }

    long read64(long offset) {
        return its.mmioRead(offset, 8);
    }

    void write32(long offset, long value) {
        its.mmioWrite(offset, 4, value & 0xFFFF_FFFFL);
    }

    void write64(long offset, long value) {
        its.mmioWrite(offset, 8, value);
    }

    // ---- Attributes --------------------------------------------------------------------------------------

    static int grpAddr() {
        return kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR();
    }

    static int grpCtrl() {
        return kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL();
    }

    static int grpRegs() {
        return kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS();
    }

    void save() throws ErrnoException {
        its.setAttr(grpCtrl(), kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES());
    }

    void restore() throws ErrnoException {
        its.setAttr(grpCtrl(), kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES());
    }

    void reset() throws ErrnoException {
        its.setAttr(grpCtrl(), kvm_h.KVM_DEV_ARM_ITS_CTRL_RESET());
    }

    long regGet(long offset) throws ErrnoException {
        return its.getAttr(grpRegs(), offset, 8);
    }

    void regSet(long offset, long value) throws ErrnoException {
        its.setAttr(grpRegs(), offset, value, 8);
    }

    long mem(long gpa) {
        try {
            return ram.readLong(gpa);
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
    }

    void poke(long gpa, long value) {
        try {
            ram.writeLong(gpa, value);
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
    }

    /** Asserts that {@code body} fails with {@code errno}. */
    static void assertErrno(int errno, ThrowingRunnable body) {
        try {
            body.run();
        } catch (ErrnoException e) {
            assertEquals(dev.panavirt.base.Errno.name(errno), e.errnoName(), e.getMessage());
            return;
        }
        throw new AssertionError("expected " + dev.panavirt.base.Errno.name(errno) + " but the call succeeded");
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws ErrnoException;
    }
}
