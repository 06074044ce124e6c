package dev.panavirt.migration;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsRegisterState;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A GICv3 ITS and the redistributor state its translations depend on, as one STATE section, moved the way a VMM
 * moves an in-kernel ITS: the translation tables travel inside guest RAM, written there by
 * {@code KVM_DEV_ARM_ITS_SAVE_TABLES}; the section carries only what is not in RAM, read and written through
 * {@code KVM_DEV_ARM_VGIC_GRP_ITS_REGS} ({@link ItsRegisterState}), plus GICR_PROPBASER, each vCPU's GICR_PENDBASER
 * and GICR_CTLR.EnableLPIs.
 *
 * <p><b>Ordering at the source.</b> The tables are written into guest pages, so they must be written before the
 * final RAM pass, not with the other device state: call {@link #saveTables} in {@link PrecopySource.Switchover#pause}
 * once every vCPU has stopped, so the harvest that follows {@code pause()} reports the pages it wrote (the in-kernel
 * ITS marks them in the dirty log, see {@code vgic_its_save_tables_v0} in {@code arch/arm64/kvm/vgic/vgic-its.c}; an
 * ITS model is wrapped in a {@link ModelRamWriteTracker}). QEMU does the same: it saves the tables from a VM
 * state-change handler when the VM stops, not in the ITS's pre-save hook ({@code hw/intc/arm_gicv3_its_kvm.c},
 * {@code vm_change_state_handler}). Then {@link #capture} in {@link PrecopySource.Switchover#state} reads the
 * registers, which {@code SAVE_TABLES} does not change. Tables saved after the final RAM pass never reach the
 * destination, whose {@code RESTORE_TABLES} then finds an empty device table and every MSI goes untranslated.
 *
 * <p><b>Ordering at the destination</b> ({@link #restore}), as "ITS Restore Sequence" in
 * {@code Documentation/virt/kvm/devices/arm-vgic-its.rst} asks: guest RAM restored and vCPUs created, then the
 * redistributors (PROPBASER and PENDBASER before EnableLPIs, since the GIC ignores both while LPIs are enabled:
 * {@code vgic_mmio_write_propbase}, {@code vgic_mmio_write_pendbase} in {@code arch/arm64/kvm/vgic/vgic-mmio-v3.c}),
 * the ITS base address (the caller's, as for any device), then GITS_CBASER before the other GITS registers except
 * GITS_CTLR (a CBASER write empties the queue), {@code KVM_DEV_ARM_ITS_RESTORE_TABLES}, and GITS_CTLR last.
 *
 * <p>Not carried: pending LPIs. With a kernel GICv3 the VMM writes them into the pending tables with
 * {@code KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES} on the GICv3 device (not the ITS); the model has no such device, so an
 * LPI pending at the stop point is not pending at the destination. The redistributor values are read through the
 * model's {@link Redistributors} (with a kernel GICv3: {@code KVM_DEV_ARM_VGIC_GRP_REDIST_REGS}).
 *
 * @param its            the GITS registers
 * @param propbaser      GICR_PROPBASER (one for the VM)
 * @param redistributors one entry per vCPU, by ascending vCPU id
 */
public record ItsMigrationState(ItsRegisterState its, long propbaser, List<Redistributor> redistributors) {
    /** The first word of the encoding: "ITS" version 1. */
    public static final int MAGIC = 0x49545301;
    /** Most vCPUs a section may name: a GICv3's limit ({@code VGIC_V3_MAX_CPUS} in {@code include/kvm/arm_vgic.h}). */
    public static final int MAX_VCPUS = 512;

    /**
     * One vCPU's redistributor.
     *
     * @param vcpuId      the KVM vCPU id
     * @param pendbaser   GICR_PENDBASER as read
     * @param lpisEnabled GICR_CTLR.EnableLPIs
     */
    public record Redistributor(int vcpuId, long pendbaser, boolean lpisEnabled) {
    }

    /** Checks and freezes the list. */
    public ItsMigrationState {
        Objects.requireNonNull(its, "its");
        redistributors = List.copyOf(redistributors);
        if (redistributors.isEmpty() || redistributors.size() > MAX_VCPUS) {
            throw new IllegalArgumentException("1 to " + MAX_VCPUS + " redistributors expected: " + redistributors.size());
        }
        for (int i = 0; i < redistributors.size(); i++) {
            int id = redistributors.get(i).vcpuId();
            if (id < 0 || (i > 0 && id <= redistributors.get(i - 1).vcpuId())) {
                throw new IllegalArgumentException("vCPU ids must be non-negative and ascending: " + ids(redistributors));
            }
        }
    }

    private static List<Integer> ids(List<Redistributor> rds) {
        return rds.stream().map(Redistributor::vcpuId).toList();
    }

    /**
     * Writes the ITS tables into guest RAM ({@code KVM_DEV_ARM_ITS_SAVE_TABLES}). Call it in
     * {@link PrecopySource.Switchover#pause} after the vCPUs stopped, before the final harvest (see the class comment).
     *
     * @throws ErrnoException {@code EBUSY} while a vCPU runs, {@code EFAULT} when a table is not in guest RAM
     */
    public static void saveTables(DeviceAttributes its) throws ErrnoException {
        its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES());
    }

    /**
     * Reads the registers of a stopped VM's ITS and redistributors; {@link #saveTables} must have run since the
     * guest last ran.
     *
     * @throws ErrnoException as {@code KVM_GET_DEVICE_ATTR} reports it ({@code EBUSY} while a vCPU runs,
     *                        {@code ENXIO} before the ITS has its address)
     */
    public static ItsMigrationState capture(DeviceAttributes its, Redistributors rds) throws ErrnoException {
        List<Long> basers = new ArrayList<>();
        for (int n = 0; n < ItsRegisters.GITS_BASER_COUNT; n++) {
            basers.add(get(its, ItsRegisters.baser(n)));
        }
        ItsRegisterState regs = new ItsRegisterState(get(its, ItsRegisters.GITS_IIDR), get(its, ItsRegisters.GITS_CBASER),
                get(its, ItsRegisters.GITS_CREADR), get(its, ItsRegisters.GITS_CWRITER), basers,
                get(its, ItsRegisters.GITS_CTLR));
        List<Redistributor> out = new ArrayList<>();
        for (int id : rds.vcpuIds()) {
            out.add(new Redistributor(id, rds.pendbaser(id), rds.lpisEnabled(id)));
        }
        return new ItsMigrationState(regs, rds.propbaser(), out);
    }

    private static long get(DeviceAttributes its, int offset) throws ErrnoException {
        return its.getAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS(), offset, 8);
    }

    /**
     * Brings a new VM's redistributors and ITS to this state. Guest RAM (with the saved tables) must already be in
     * place and the ITS must have its base address; no vCPU may run.
     *
     * @throws IllegalStateException when the destination's vCPU ids differ from the section's
     * @throws ErrnoException        the first refused step: {@code EINVAL} for an unknown table ABI or a bad table
     *                               entry, {@code EEXIST} when the ITS already holds a device or collection
     */
    public void restore(DeviceAttributes its, Redistributors rds) throws ErrnoException {
        int[] have = rds.vcpuIds();
        int[] want = redistributors.stream().mapToInt(Redistributor::vcpuId).toArray();
        if (!Arrays.equals(have, want)) {
            throw new IllegalStateException("ITS section for vCPUs " + Arrays.toString(want)
                    + ", destination has " + Arrays.toString(have));
        }
        rds.writePropbaser(want[0], propbaser);
        for (Redistributor r : redistributors) {
            rds.writePendbaser(r.vcpuId(), r.pendbaser());
        }
        for (Redistributor r : redistributors) {
            rds.writeCtlr(r.vcpuId(), r.lpisEnabled() ? Redistributors.CTLR_ENABLE_LPIS : 0);
        }
        this.its.restore(its);
    }

    /** {@return the big-endian encoding {@link #decode} reads} */
    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeLong(its.iidr());
            out.writeLong(its.cbaser());
            out.writeLong(its.creadr());
            out.writeLong(its.cwriter());
            for (long b : its.basers()) {
                out.writeLong(b);
            }
            out.writeLong(its.ctlr());
            out.writeLong(propbaser);
            out.writeInt(redistributors.size());
            for (Redistributor r : redistributors) {
                out.writeInt(r.vcpuId());
                out.writeLong(r.pendbaser());
                out.writeByte(r.lpisEnabled() ? 1 : 0);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * Reads what {@link #encode} wrote.
     *
     * @throws IOException on a wrong magic or version, a short record, a vCPU count outside 1..{@value #MAX_VCPUS},
     *                     vCPU ids not ascending, an EnableLPIs byte other than 0 or 1, or bytes after the record
     */
    public static ItsMigrationState decode(byte[] bytes) throws IOException {
        ByteArrayInputStream raw = new ByteArrayInputStream(bytes);
        DataInputStream in = new DataInputStream(raw);
        try {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new IOException(String.format("ITS state: magic/version 0x%08x, expected 0x%08x", magic, MAGIC));
            }
            long iidr = in.readLong(), cbaser = in.readLong(), creadr = in.readLong(), cwriter = in.readLong();
            List<Long> basers = new ArrayList<>();
            for (int n = 0; n < ItsRegisters.GITS_BASER_COUNT; n++) {
                basers.add(in.readLong());
            }
            long ctlr = in.readLong();
            long propbaser = in.readLong();
            int count = in.readInt();
            if (count < 1 || count > MAX_VCPUS) {
                throw new IOException("ITS state: " + Integer.toUnsignedString(count) + " redistributors, expected 1 to "
                        + MAX_VCPUS);
            }
            List<Redistributor> rds = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int id = in.readInt();
                long pendbaser = in.readLong();
                int enabled = in.readUnsignedByte();
                if (enabled > 1) {
                    throw new IOException("ITS state: redistributor " + i + " EnableLPIs byte " + enabled);
                }
                rds.add(new Redistributor(id, pendbaser, enabled == 1));
            }
            if (raw.available() != 0) {
                throw new IOException("ITS state: " + raw.available() + " bytes after the record");
            }
            return new ItsMigrationState(new ItsRegisterState(iidr, cbaser, creadr, cwriter, basers, ctlr), propbaser, rds);
        } catch (EOFException e) {
            throw new IOException("ITS state: the record ends early (" + bytes.length + " bytes)", e);
        } catch (IllegalArgumentException e) {
            throw new IOException("ITS state: " + e.getMessage(), e);
        }
    }
}
