package dev.panavirt.models.loongarch;

import static dev.panavirt.models.loongarch.EiointcRegisters.EIOINTC_BASE;
import static dev.panavirt.models.loongarch.EiointcRegisters.ENABLE;
import static dev.panavirt.models.loongarch.EiointcRegisters.HAS_VIRT_EXTENSION;
import static dev.panavirt.models.loongarch.EiointcRegisters.IRQS;
import static dev.panavirt.models.loongarch.EiointcRegisters.IRQ_WORDS;
import static dev.panavirt.models.loongarch.EiointcRegisters.PINS;
import static dev.panavirt.models.loongarch.EiointcRegisters.ROUTE_MAX_VCPUS;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.RegisterDevice;
import dev.panavirt.bindings.kvm.loongarch64.kvm_h;
import dev.panavirt.models.loongarch.EiointcRegisters.Register;

/**
 * A software model of the LoongArch in-kernel EIOINTC with the V-EIOINTC extension
 * ({@code KVM_DEV_TYPE_LOONGARCH_EIOINTC}), following {@code arch/loongarch/kvm/intc/eiointc.c}: the IOCSR
 * registers, routing in bitmap and encoded modes, line raise and lower with the vCPU pins they drive, and the
 * device attributes.
 *
 * <p><b>Guest accesses.</b> {@link #iocsrRead}/{@link #iocsrWrite} are the IOCSR accesses of a given vCPU, with
 * the kernel's errno when its handler rejects one (EINVAL for a misaligned or undecoded access, EPERM for a
 * refused V-EIOINTC write, EOPNOTSUPP when no IOCSR device claims the address). As a {@link RegisterDevice} the model
 * maps both IOCSR devices into one {@link EiointcRegisters#WINDOW_SIZE}-byte window (main block at offset 0,
 * V-EIOINTC page at offset 0x1000, see {@link EiointcRegisters#iocsrAddress}); bus accesses are made as vCPU 0,
 * or as the vCPU given to {@link #busFor}. Rejected bus accesses read zero, are ignored and are counted
 * ({@link #rejectedAccesses()}), never thrown.
 *
 * <p><b>Versions.</b> {@link Options#MAINLINE} is the late-2025 kernel. {@link Options#defaultReturnPatch()}
 * turns on the Jan-2026 "Set default return value in kvm IO bus ops" behaviour (rejected accesses are handled,
 * reading 0); {@link Options#numCpuRejects256()} gives the short-lived {@code >= 256} NUM_CPU bound
 * ({@code kvm_eiointc_ctrl_access()} before it was relaxed to {@code > EIOINTC_ROUTE_MAX_VCPUS}).
 *
 * <p><b>Where the model chooses.</b> The kernel has no {@code has_attr}, so {@link #hasAttr} fails with EPERM,
 * the errno of {@code kvm_device_ioctl_attr} for a missing accessor. With INT_ENCODE an IPMAP byte above 15
 * routes to IP0 (undefined in the kernel). A GRP_REGS attribute whose cpu field is negative fails with EINVAL
 * (the kernel's unsigned compare). All methods are thread-safe; the line listener runs under the device lock.
 */
public final class EiointcDevice implements DeviceAttributes, RegisterDevice {

    /**
     * Version switches.
     *
     * @param defaultReturnPatch rejected guest accesses complete as "handled, value 0" instead of failing
     * @param numCpuRejects256   CTRL INIT_NUM_CPU rejects 256 (the brief {@code >= 256} bound)
     */
    public record Options(boolean defaultReturnPatch, boolean numCpuRejects256) {
        /** The late-2025 mainline kernel. */
        public static final Options MAINLINE = new Options(false, false);
    }

    static final int GRP_REGS = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS();
    static final int GRP_SW_STATUS = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS();
    static final int GRP_CTRL = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL();
    static final int SW_NUM_CPU = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_NUM_CPU();
    static final int SW_FEATURE = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_FEATURE();
    static final int SW_STATE = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE();
    static final int CTRL_INIT_NUM_CPU = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU();
    static final int CTRL_INIT_FEATURE = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE();
    static final int CTRL_LOAD_FINISHED = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED();
    private static final int TYPE = kvm_h.KVM_DEV_TYPE_LOONGARCH_EIOINTC();

    private final EiointcCore core;
    private final Options options;
    private long rejected;
    private boolean closed;

    private EiointcDevice(LoongArchVm vm, Options options) {
        this.core = new EiointcCore(vm);
        this.options = options;
    }

    /** {@code KVM_CREATE_DEVICE} of the mainline model; see {@link #create(LoongArchVm, Options)}. */
    public static EiointcDevice create(LoongArchVm vm) throws ErrnoException {
        return create(vm, Options.MAINLINE);
    }

    /**
     * {@code KVM_CREATE_DEVICE}: a zeroed EIOINTC (num_cpu, features and status 0, every route to vCPU 0).
     *
     * @throws ErrnoException EINVAL when {@code vm} already has an EIOINTC
     */
    public static EiointcDevice create(LoongArchVm vm, Options options) throws ErrnoException {
        if (!vm.claimEiointc()) {
            throw new ErrnoException("KVM_CREATE_DEVICE", Errno.EINVAL, "type " + TYPE + ": the VM has an EIOINTC");
        }
        return new EiointcDevice(vm, options);
    }

    /** The VM this device belongs to. */
    public LoongArchVm vm() {
        return core.vm;
    }

    /** The version switches. */
    public Options options() {
        return options;
    }

    // ---- guest IOCSR accesses ----

    /**
     * An {@code iocsrrd} of {@code width} bytes by vCPU {@code vcpuId}.
     *
     * @return the destination register: the value sign-extended from {@code width} bytes (the V-EIOINTC page
     *         stores a u32; the kernel leaves the register's upper half as it was, the model returns it as 0)
     * @throws ErrnoException EINVAL (misaligned, undecoded offset or a width other than 1/2/4/8), EOPNOTSUPP
     *                        (no IOCSR device at the address); with the 2026 patch only EOPNOTSUPP
     */
    public long iocsrRead(int vcpuId, long address, int width) throws ErrnoException {
        checkVcpu(vcpuId);
        int rc;
        long value;
        synchronized (core) {
            rc = read(vcpuId, address, width);
            value = core.readValue;
        }
        if (rc != 0) {
            throw new ErrnoException("IOCSR read", rc, width + " bytes at 0x" + Long.toHexString(address));
        }
        return value;
    }

    /**
     * An {@code iocsrwr} of the low {@code width} bytes of {@code value} by vCPU {@code vcpuId}. The V-EIOINTC
     * page takes the low 32 bits of {@code value} whatever the width, as the kernel reads a u32 from the source
     * register.
     *
     * @throws ErrnoException EINVAL (misaligned, undecoded offset, bad width), EPERM (FEATURES write, or a
     *                        non-zero CONFIG write once ENABLE is set), EOPNOTSUPP (no IOCSR device there)
     */
    public void iocsrWrite(int vcpuId, long address, int width, long value) throws ErrnoException {
        checkVcpu(vcpuId);
        int rc;
        synchronized (core) {
            rc = write(vcpuId, address, width, value);
        }
        if (rc != 0) {
            throw new ErrnoException("IOCSR write", rc,
                    width + " bytes at 0x" + Long.toHexString(address) + " value 0x" + Long.toHexString(value));
        }
    }

    private int read(int vcpu, long address, int width) {
        int rc;
        if (!EiointcCore.isIocsrWidth(width)) {
            rc = Errno.EINVAL;
        } else if (EiointcRegisters.inMainBlock(address, width)) {
            rc = core.readMain(vcpu, address, width);
        } else if (EiointcRegisters.inVirtPage(address, width)) {
            rc = core.readVirt(address, width);
        } else {
            return Errno.EOPNOTSUPP; // kvm_io_bus_read finds no device; the exit goes to user space
        }
        if (rc != 0 && options.defaultReturnPatch()) {
            core.readValue = 0;
            return 0;
        }
        return rc;
    }

    private int write(int vcpu, long address, int width, long value) {
        int rc;
        if (!EiointcCore.isIocsrWidth(width)) {
            rc = Errno.EINVAL;
        } else if (EiointcRegisters.inMainBlock(address, width)) {
            rc = core.writeMain(vcpu, address, width, value);
        } else if (EiointcRegisters.inVirtPage(address, width)) {
            rc = core.writeVirt(address, (int) value);
        } else {
            return Errno.EOPNOTSUPP;
        }
        return options.defaultReturnPatch() ? 0 : rc;
    }

    private void checkVcpu(int vcpuId) {
        if (!core.vm.hasVcpu(vcpuId)) {
            throw new IllegalArgumentException("no vCPU " + vcpuId + " in a VM of " + core.vm.vcpuCount());
        }
    }

    // ---- the bus window ----

    /** A guest read through the bus window, as vCPU 0. */
    @Override
    public long mmioRead(long offset, int width) {
        return busRead(0, offset, width);
    }

    /** A guest write through the bus window, as vCPU 0. */
    @Override
    public void mmioWrite(long offset, int width, long value) {
        busWrite(0, offset, width, value);
    }

    /** The bus window as seen by vCPU {@code vcpuId} (whose COREISR row the window shows). */
    public RegisterDevice busFor(int vcpuId) {
        checkVcpu(vcpuId);
        return new RegisterDevice() {
            @Override
            public long mmioRead(long offset, int width) {
                return busRead(vcpuId, offset, width);
            }

            @Override
            public void mmioWrite(long offset, int width, long value) {
                busWrite(vcpuId, offset, width, value);
            }
        };
    }

    private long busRead(int vcpu, long offset, int width) {
        long address = EiointcRegisters.iocsrAddress(offset);
        synchronized (core) {
            int rc = address < 0 ? Errno.EOPNOTSUPP : read(vcpu, address, width);
            if (rc != 0) {
                rejected++;
                return 0;
            }
            return core.readValue;
        }
    }

    private void busWrite(int vcpu, long offset, int width, long value) {
        long address = EiointcRegisters.iocsrAddress(offset);
        synchronized (core) {
            int rc = address < 0 ? Errno.EOPNOTSUPP : write(vcpu, address, width, value);
            if (rc != 0) {
                rejected++;
            }
        }
    }

    /** Bus accesses that the kernel would have failed (they read zero and were otherwise ignored). */
    public long rejectedAccesses() {
        synchronized (core) {
            return rejected;
        }
    }

    /** {@code eiointc_read_exits}: main-block reads that passed the alignment check. */
    public long readExits() {
        synchronized (core) {
            return core.readExits;
        }
    }

    /** {@code eiointc_write_exits}: main-block writes that passed the alignment check. */
    public long writeExits() {
        synchronized (core) {
            return core.writeExits;
        }
    }

    // ---- input lines and what they drive ----

    /**
     * {@code eiointc_set_irq}: input vector {@code irq} (from PCH-PIC, PCH-MSI or an irqfd route) goes to
     * {@code level}. Allocation-free.
     *
     * @throws IllegalArgumentException when {@code irq} is not 0..255
     */
    public void setIrq(int irq, boolean level) {
        if (irq < 0 || irq >= IRQS) {
            throw new IllegalArgumentException("EIOINTC vector must be 0.." + (IRQS - 1) + ": " + irq);
        }
        synchronized (core) {
            core.setIrq(irq, level);
        }
    }

    /** Asserted pins of vCPU {@code vcpuId}: bit n set when IPn (CPU interrupt INT_HWI0 + n) is raised. */
    public int pins(int vcpuId) {
        synchronized (core) {
            return core.pinLevel[vcpuId];
        }
    }

    /** Whether pin IP{@code pin} of vCPU {@code vcpuId} is raised. */
    public boolean isAsserted(int vcpuId, int pin) {
        return (pins(vcpuId) & (1 << pin)) != 0;
    }

    /** The vcpu id vector {@code irq} is currently routed to ({@code sw_coremap}). */
    public int targetOf(int irq) {
        synchronized (core) {
            return core.swCoremap[irq];
        }
    }

    /** The pin vector {@code irq} is routed to under the current IPMAP and status. */
    public int pinOf(int irq) {
        synchronized (core) {
            return core.pinOf(irq);
        }
    }

    /** Whether vector {@code irq} is in the shadow "asserted" set of (vcpu, pin). */
    public boolean isShadowAsserted(int vcpuId, int pin, int irq) {
        synchronized (core) {
            return (core.swCoreisr[(vcpuId * PINS + pin) * IRQ_WORDS + (irq >>> 6)] & (1L << irq)) != 0;
        }
    }

    /** Sets the listener told of every vCPU line raise and lower ({@link EiointcLineListener#NONE} for none). */
    public void setLineListener(EiointcLineListener listener) {
        synchronized (core) {
            core.listener = listener == null ? EiointcLineListener.NONE : listener;
        }
    }

    /** A copy of the whole state. */
    public EiointcState snapshot() {
        synchronized (core) {
            return EiointcState.of(core);
        }
    }

    // ---- device attributes ----

    @Override
    public int type() {
        return TYPE;
    }

    @Override
    public Backend backend() {
        return Backend.MODEL;
    }

    /** The device has no {@code has_attr}: always EPERM, as {@code kvm_device_ioctl_attr} answers. */
    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        ensureOpen("KVM_HAS_DEVICE_ATTR");
        throw new ErrnoException("KVM_HAS_DEVICE_ATTR", Errno.EPERM, what(group, attr) + ": no has_attr");
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        checkSize(size);
        set(group, attr, true, (int) value);
    }

    /** {@code KVM_SET_DEVICE_ATTR} with a NULL payload: fine for CTRL LOAD_FINISHED, EFAULT where a u32 is read. */
    @Override
    public void setAttr(int group, long attr) throws ErrnoException {
        set(group, attr, false, 0);
    }

    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        checkSize(size);
        ensureOpen("KVM_GET_DEVICE_ATTR");
        int rc;
        int value;
        synchronized (core) {
            if (group == GRP_REGS) {
                rc = regsAccess(attr, false, 0);
            } else if (group == GRP_SW_STATUS) {
                rc = swStatusAccess(attr, false, 0);
            } else {
                rc = Errno.EINVAL; // CTRL is set-only; other groups are unknown
            }
            value = attrValue;
        }
        if (rc != 0) {
            throw new ErrnoException("KVM_GET_DEVICE_ATTR", rc, what(group, attr));
        }
        return Integer.toUnsignedLong(value);
    }

    private int attrValue;

    private void set(int group, long attr, boolean payload, int value) throws ErrnoException {
        ensureOpen("KVM_SET_DEVICE_ATTR");
        int rc;
        synchronized (core) {
            if (group == GRP_CTRL) {
                rc = ctrlAccess(attr, payload, value);
            } else if (group == GRP_REGS) {
                rc = payload ? regsAccess(attr, true, value) : Errno.EFAULT;
            } else if (group == GRP_SW_STATUS) {
                rc = payload ? swStatusAccess(attr, true, value) : Errno.EFAULT;
            } else {
                rc = Errno.EINVAL;
            }
        }
        if (rc != 0) {
            throw new ErrnoException("KVM_SET_DEVICE_ATTR", rc,
                    what(group, attr) + (payload ? " value 0x" + Integer.toHexString(value) : " without payload"));
        }
    }

    /** {@code kvm_eiointc_ctrl_access}; the attr is compared as a full 64-bit value. */
    private int ctrlAccess(long attr, boolean payload, int value) {
        if (attr == CTRL_INIT_NUM_CPU) {
            if (!payload) {
                return Errno.EFAULT;
            }
            int bound = options.numCpuRejects256() ? ROUTE_MAX_VCPUS - 1 : ROUTE_MAX_VCPUS;
            if (Integer.compareUnsigned(value, bound) > 0) {
                return Errno.EINVAL;
            }
            core.numCpu = value;
        } else if (attr == CTRL_INIT_FEATURE) {
            if (!payload) {
                return Errno.EFAULT;
            }
            core.features = value;
            if ((value & HAS_VIRT_EXTENSION) == 0) {
                core.status |= ENABLE;
            }
        } else if (attr == CTRL_LOAD_FINISHED) {
            core.loadFinished();
        }
        return 0; // unknown CTRL attributes are ignored
    }

    /**
     * {@code kvm_eiointc_regs_access}: 4 bytes at the 4-byte granule holding {@code attr & 0xffff}; the cpu
     * field ({@code (int) attr >> 16}) selects the COREISR row and must be below num_cpu. Raw: no routing.
     */
    private int regsAccess(long attr, boolean write, int value) {
        int a = (int) attr;
        int cpu = a >> 16;
        int offset = a & 0xFFFF;
        Register reg = Register.at(offset);
        if (reg == null) {
            return Errno.EINVAL;
        }
        int granule = (offset - reg.start()) >>> 2;
        long[] words;
        int index = granule >>> 1;
        switch (reg) {
            case NODETYPE -> words = core.nodetype;
            case ENABLE -> words = core.enable;
            case BOUNCE -> words = core.bounce;
            case ISR -> words = core.isr;
            case COREMAP -> words = core.coremap;
            case COREISR -> {
                if (Integer.compareUnsigned(cpu, core.numCpu) >= 0) {
                    return Errno.EINVAL;
                }
                words = core.coreisr;
                index += cpu * IRQ_WORDS;
            }
            default -> words = null; // IPMAP is a single word
        }
        int shift = (granule & 1) * 32;
        long word = words == null ? core.ipmap : words[index];
        if (!write) {
            attrValue = (int) (word >>> shift);
            return 0;
        }
        word = (word & ~(0xFFFF_FFFFL << shift)) | (Integer.toUnsignedLong(value) << shift);
        if (words == null) {
            core.ipmap = word;
        } else {
            words[index] = word;
        }
        return 0;
    }

    /** {@code kvm_eiointc_sw_status_access}: the attr is {@code (int) attr & 0xffff}. */
    private int swStatusAccess(long attr, boolean write, int value) {
        int a = (int) attr & 0xFFFF;
        if (a == SW_NUM_CPU) {
            attrValue = core.numCpu;
        } else if (a == SW_FEATURE) {
            attrValue = core.features;
        } else if (a == SW_STATE) {
            if (write) {
                core.status = value;
            }
            attrValue = core.status;
        } else {
            return Errno.EINVAL;
        }
        return 0; // writes of NUM_CPU and FEATURE are silently ignored
    }

    private static void checkSize(int size) {
        if (size != 4 && size != 8) {
            throw new IllegalArgumentException("attribute payload size must be 4 or 8: " + size);
        }
    }

    private void ensureOpen(String op) throws ErrnoException {
        synchronized (core) {
            if (closed) {
                throw new ErrnoException(op, Errno.EBADF, "EIOINTC model device closed");
            }
        }
    }

    private static String what(int group, long attr) {
        return "device type " + TYPE + " group 0x" + Integer.toHexString(group) + " attr 0x" + Long.toHexString(attr);
    }

    /** Closes the attribute handle; the device stays in the VM and keeps serving guest accesses and lines. */
    @Override
    public void close() {
        synchronized (core) {
            closed = true;
        }
    }

    @Override
    public String toString() {
        return "EiointcDevice[model, " + core.vm.vcpuCount() + " vCPUs, base 0x" + Long.toHexString(EIOINTC_BASE)
                + ", " + options + "]";
    }
}
