package dev.panavirt.replay.targets;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsDevice;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import dev.panavirt.models.gicv3.Vgic;
import dev.panavirt.replay.SessionTarget;
import java.util.Objects;

/**
 * Scripted sessions against the ITS model. Register reads and writes address the ITS frame by offset (the
 * frame must have been placed with the ADDR attribute, as a guest could not reach it otherwise); memory
 * operations go to the VM's {@link GuestRam}; MSIs carry {@code KVM_MSI_VALID_DEVID} unless the script leaves the
 * device id out; a further {@code KVM_CREATE_DEVICE} adds a second ITS to the VM; vCPU load and put
 * mark a vCPU as running, which makes ITS control and register attributes fail with {@code EBUSY}.
 *
 * <p>Besides the ITS's own attribute groups, {@code KVM_DEV_ARM_VGIC_GRP_REDIST_REGS} reaches the
 * redistributor view a script needs to program LPIs (it belongs to the VGIC v3 device in KVM): {@code attr}
 * is {@code MPIDR << 32 | offset} with the vCPU's default MPIDR affinity (Aff0 = id bits 3:0, Aff1 = id bits
 * 11:4, ...), and the offsets are {@code GICR_CTLR} (0x0), {@code GICR_PROPBASER} (0x70) and
 * {@code GICR_PENDBASER} (0x78). An unknown MPIDR gives {@code EINVAL}, another offset {@code ENXIO}.
 *
 * <p>vCPUs are named by id; an unknown id gives {@code EINVAL}. ONE_REG and interrupt lines do not exist on
 * an ITS and throw {@link UnsupportedOperationException}.
 */
public final class ItsSessionTarget implements SessionTarget {

    /** Guest RAM of {@link #create()}: 1 GiB at 0x4000_0000 (the QEMU virt machine's RAM base). */
    public static final long DEFAULT_RAM_BASE = 0x4000_0000L;
    public static final long DEFAULT_RAM_SIZE = 1L << 30;
    /** vCPUs of {@link #create()}: ids 0 to 3. */
    public static final int DEFAULT_VCPUS = 4;

    private final ItsDevice its;
    private final Vgic vgic;

    /** A session on an existing ITS. */
    public ItsSessionTarget(ItsDevice its) {
        this.its = Objects.requireNonNull(its, "its");
        this.vgic = its.vgic();
    }

    /** A fresh VM ({@link #DEFAULT_VCPUS} vCPUs, heap RAM at {@link #DEFAULT_RAM_BASE}) with one ITS. */
    public static ItsSessionTarget create() {
        return create(new HeapGuestRam(DEFAULT_RAM_BASE, DEFAULT_RAM_SIZE), DEFAULT_VCPUS);
    }

    /** A fresh VM over {@code ram} with vCPU ids {@code 0 .. vcpus-1} and one ITS. */
    public static ItsSessionTarget create(GuestRam ram, int vcpus) {
        try {
            return new ItsSessionTarget(new Vgic(ram, vcpus).createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS()));
        } catch (ErrnoException e) {
            throw new IllegalStateException("creating the ITS model failed", e);
        }
    }

    /**
     * Returns the VM and its ITS to their state right after {@link #create}, for rigs that run many
     * sessions on one target ({@link Vgic#reset}); guest memory is not touched.
     */
    public void reset() {
        vgic.reset();
    }

    /** The ITS this session drives. */
    public ItsDevice device() {
        return its;
    }

    @Override
    public String name() {
        return "its-model";
    }

    private void checkFrame(String op, long offset, int width) throws ErrnoException {
        if (width < 1 || width > 8) {
            throw new IllegalArgumentException("MMIO width must be 1 to 8 bytes, was " + width);
        }
        if (its.baseAddress() == ItsRegisters.ADDR_UNDEF) {
            throw new ErrnoException(op, Errno.ENXIO, "ITS frame not placed (set the ADDR attribute first)");
        }
        if (offset < 0 || offset + width > ItsRegisters.FRAME_SIZE) {
            throw new ErrnoException(op, Errno.ENXIO, "offset 0x" + Long.toHexString(offset) + " is outside the frame");
        }
    }

    @Override
    public long read(long address, int width) throws ErrnoException {
        checkFrame("MMIO read", address, width);
        return its.mmioRead(address, width);
    }

    @Override
    public void write(long address, int width, long value) throws ErrnoException {
        checkFrame("MMIO write", address, width);
        its.mmioWrite(address, width, width == 8 ? value : value & ((1L << (width * 8)) - 1));
    }

    @Override
    public void memWrite(long gpa, byte[] data) {
        try {
            vgic.writeRam(gpa, data);
        } catch (ErrnoException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    @Override
    public byte[] memRead(long gpa, int length) {
        byte[] out = new byte[length];
        try {
            vgic.readRam(gpa, out);
        } catch (ErrnoException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return out;
    }

    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS()) {
            long v = redistributorRegister("KVM_GET_DEVICE_ATTR", attr, 0, false);
            return size == 4 ? v & 0xFFFF_FFFFL : v;
        }
        return its.getAttr(group, attr, size);
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS()) {
            redistributorRegister("KVM_SET_DEVICE_ATTR", attr, size == 4 ? value & 0xFFFF_FFFFL : value, true);
            return;
        }
        its.setAttr(group, attr, value, size);
    }

    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS()) {
            vcpuOfMpidr("KVM_HAS_DEVICE_ATTR", attr);
            int offset = (int) (attr & kvm_h.KVM_DEV_ARM_VGIC_OFFSET_MASK());
            return offset == Redistributors.GICR_CTLR || offset == Redistributors.GICR_PROPBASER
                    || offset == Redistributors.GICR_PENDBASER;
        }
        return its.hasAttr(group, attr);
    }

    /** The default MPIDR affinity KVM gives vCPU {@code id}, packed as in the REDIST_REGS attribute. */
    public static long mpidrOf(int id) {
        long aff0 = id & 0xF;
        long aff1 = (id >>> 4) & 0xFF;
        long aff2 = (id >>> 12) & 0xFF;
        long aff3 = (id >>> 20) & 0xFF;
        return aff3 << 24 | aff2 << 16 | aff1 << 8 | aff0;
    }

    private int vcpuOfMpidr(String op, long attr) throws ErrnoException {
        long mpidr = (attr & kvm_h.KVM_DEV_ARM_VGIC_V3_MPIDR_MASK()) >>> kvm_h.KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT();
        for (int id : vgic.redistributors().vcpuIds()) {
            if (mpidrOf(id) == mpidr) {
                return id;
            }
        }
        throw new ErrnoException(op, Errno.EINVAL, "no vCPU with MPIDR 0x" + Long.toHexString(mpidr));
    }

    private long redistributorRegister(String op, long attr, long value, boolean write) throws ErrnoException {
        int vcpu = vcpuOfMpidr(op, attr);
        int offset = (int) (attr & kvm_h.KVM_DEV_ARM_VGIC_OFFSET_MASK());
        Redistributors rds = vgic.redistributors();
        switch (offset) {
            case Redistributors.GICR_CTLR -> {
                if (write) {
                    rds.writeCtlr(vcpu, (int) value);
                }
                return rds.ctlr(vcpu);
            }
            case Redistributors.GICR_PROPBASER -> {
                if (write) {
                    rds.writePropbaser(vcpu, value);
                }
                return rds.propbaser();
            }
            case Redistributors.GICR_PENDBASER -> {
                if (write) {
                    rds.writePendbaser(vcpu, value);
                }
                return rds.pendbaser(vcpu);
            }
            default -> throw new ErrnoException(op, Errno.ENXIO,
                    "redistributor offset 0x" + Integer.toHexString(offset) + " is not modelled");
        }
    }

    @Override
    public byte[] getOneReg(int vcpu, long regId) {
        throw new UnsupportedOperationException("the ITS has no ONE_REG registers");
    }

    @Override
    public void setOneReg(int vcpu, long regId, byte[] value) {
        throw new UnsupportedOperationException("the ITS has no ONE_REG registers");
    }

    @Override
    public void setIrq(int line, boolean level) {
        throw new UnsupportedOperationException("the ITS has no interrupt lines; use signalMsi");
    }

    private void requireVcpu(String op, int vcpu) throws ErrnoException {
        if (!vgic.redistributors().hasVcpu(vcpu)) {
            throw new ErrnoException(op, Errno.EINVAL, "no vCPU with id " + vcpu);
        }
    }

    @Override
    public void vcpuLoad(int vcpu) throws ErrnoException {
        requireVcpu("vcpu load", vcpu);
        vgic.redistributors().load(vcpu);
    }

    @Override
    public void vcpuPut(int vcpu) throws ErrnoException {
        requireVcpu("vcpu put", vcpu);
        vgic.redistributors().put(vcpu);
    }

    @Override
    public int signalMsi(long address, int data, int devid) throws ErrnoException {
        return vgic.signalMsi(address, data, kvm_h.KVM_MSI_VALID_DEVID(), devid);
    }

    /** An MSI without a device id, which an ITS cannot translate: EINVAL (arch/arm64/kvm/vgic/vgic-its.c, {@code vgic_msi_to_its}). */
    @Override
    public int signalMsiWithoutDevid(long address, int data) throws ErrnoException {
        return vgic.signalMsi(address, data, 0, 0);
    }

    /**
     * Another ITS on the same VM (a VM may have several); the session keeps driving the first, and the new one
     * starts unplaced, so its frame is reached by no address until a script could place it.
     */
    @Override
    public void createDevice() throws ErrnoException {
        vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
    }

    @Override
    public String state() {
        return its.state();
    }
}
