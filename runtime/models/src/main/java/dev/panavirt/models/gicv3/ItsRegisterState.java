package dev.panavirt.models.gicv3;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The ITS state a VMM keeps besides guest memory, read and written through
 * {@code KVM_DEV_ARM_VGIC_GRP_ITS_REGS} and the table save/restore controls, so it works the same on a
 * kernel ITS and on {@link ItsDevice}.
 *
 * <p>{@link #save} writes the ITS tables into guest memory ({@code KVM_DEV_ARM_ITS_SAVE_TABLES}), then reads
 * the registers. {@link #restore} follows the order the kernel documents: the caller has restored guest
 * memory, the vCPUs and the redistributors (PROPBASER, PENDBASER) and set the ITS base address; then GITS_IIDR
 * (selects the table ABI), GITS_CBASER (which empties the queue), GITS_CREADR, GITS_CWRITER, GITS_BASER0..7,
 * {@code KVM_DEV_ARM_ITS_RESTORE_TABLES}, and GITS_CTLR last, so the ITS is enabled only once its tables are
 * back. No vCPU may be running during either.
 *
 * @param iidr GITS_IIDR
 * @param cbaser GITS_CBASER
 * @param creadr GITS_CREADR
 * @param cwriter GITS_CWRITER
 * @param basers GITS_BASER0 to GITS_BASER7
 * @param ctlr GITS_CTLR
 */
public record ItsRegisterState(long iidr, long cbaser, long creadr, long cwriter, List<Long> basers, long ctlr) {

    /** Checks and freezes the BASER list. */
    public ItsRegisterState {
        basers = List.copyOf(Objects.requireNonNull(basers, "basers"));
        if (basers.size() != ItsRegisters.GITS_BASER_COUNT) {
            throw new IllegalArgumentException("eight GITS_BASERn values expected, got " + basers.size());
        }
    }

    /**
     * Saves the tables into guest memory, then reads the registers.
     *
     * @param its a kernel or model ITS whose base address is set
     * @throws ErrnoException as {@code KVM_SET_DEVICE_ATTR}/{@code KVM_GET_DEVICE_ATTR} report it, e.g.
     *     {@code EBUSY} while a vCPU runs, {@code EFAULT} when a table is not in guest memory
     */
    public static ItsRegisterState save(DeviceAttributes its) throws ErrnoException {
        its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES());
        List<Long> basers = new ArrayList<>();
        for (int n = 0; n < ItsRegisters.GITS_BASER_COUNT; n++) {
            basers.add(get(its, ItsRegisters.baser(n)));
        }
        return new ItsRegisterState(get(its, ItsRegisters.GITS_IIDR), get(its, ItsRegisters.GITS_CBASER),
                get(its, ItsRegisters.GITS_CREADR), get(its, ItsRegisters.GITS_CWRITER), basers,
                get(its, ItsRegisters.GITS_CTLR));
    }

    /**
     * Writes the registers and restores the tables in the documented order, enabling the ITS last.
     *
     * @param its a kernel or model ITS whose base address is set, typically fresh or just reset
     * @throws ErrnoException the first failing step's errno, e.g. {@code EINVAL} for an unknown ABI revision
     *     or a bad table entry, {@code EEXIST} for a collection that already exists
     */
    public void restore(DeviceAttributes its) throws ErrnoException {
        set(its, ItsRegisters.GITS_IIDR, iidr);
        set(its, ItsRegisters.GITS_CBASER, cbaser);
        set(its, ItsRegisters.GITS_CREADR, creadr);
        set(its, ItsRegisters.GITS_CWRITER, cwriter);
        for (int n = 0; n < ItsRegisters.GITS_BASER_COUNT; n++) {
            set(its, ItsRegisters.baser(n), basers.get(n));
        }
        its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL(), kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES());
        set(its, ItsRegisters.GITS_CTLR, ctlr);
    }

    private static long get(DeviceAttributes its, int offset) throws ErrnoException {
        return its.getAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS(), offset, 8);
    }

    private static void set(DeviceAttributes its, int offset, long value) throws ErrnoException {
        its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS(), offset, value, 8);
    }
}
