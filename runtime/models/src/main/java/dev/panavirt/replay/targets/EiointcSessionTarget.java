package dev.panavirt.replay.targets;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.loongarch.EiointcDevice;
import dev.panavirt.models.loongarch.EiointcRegisters;
import dev.panavirt.models.loongarch.LoongArchVm;
import dev.panavirt.replay.SessionTarget;

/**
 * Drives an {@link EiointcDevice} from a scripted session.
 *
 * <ul>
 *   <li>{@code read}/{@code write} are IOCSR accesses by address (0x1400..0x1CFF, 0x4000_0000..0x4000_0FFF) made
 *       by the vCPU most recently named in {@code vcpuLoad} (vCPU 0 before any; EINVAL in a VM without vCPUs).
 *       A read reports the
 *       {@code width} bytes read, zero-extended (the guest register holds them sign-extended).</li>
 *   <li>{@code getAttr}/{@code setAttr}/{@code hasAttr} are the device attributes.</li>
 *   <li>{@code setIrq(line, level)} is {@code eiointc_set_irq}; a line outside 0..255 is EINVAL.</li>
 *   <li>{@code vcpuLoad(n)} selects the accessing vCPU (EINVAL when the VM has no vCPU n); {@code vcpuPut}
 *       only checks the vCPU exists.</li>
 *   <li>{@code state()} lists the asserted vCPU pins in (vcpu, pin) order: {@code "asserted vcpu0.ip0 vcpu3.ip2"},
 *       or {@code "asserted none"}.</li>
 *   <li>{@code readAsGpr} is the same read as the guest's register holds it: sign-extended from {@code width}
 *       bytes (arch/loongarch/kvm/exit.c, {@code kvm_complete_iocsr_read}).</li>
 *   <li>{@code createDevice} is a second {@code KVM_CREATE_DEVICE} of an EIOINTC on the same VM: EINVAL, the
 *       VM has one already.</li>
 *   <li>Guest memory, ONE_REG and MSI operations are unsupported.</li>
 * </ul>
 */
public final class EiointcSessionTarget implements SessionTarget {

    private final EiointcDevice device;
    private int accessingVcpu;

    /** A session over {@code device}. */
    public EiointcSessionTarget(EiointcDevice device) {
        this.device = device;
    }

    /** A session over a new mainline model in a new VM of {@code vcpus} vCPUs (CPU id = vcpu id). */
    public static EiointcSessionTarget create(int vcpus) throws ErrnoException {
        return new EiointcSessionTarget(EiointcDevice.create(new LoongArchVm(vcpus)));
    }

    /** The device driven. */
    public EiointcDevice device() {
        return device;
    }

    @Override
    public String name() {
        return "eiointc-model";
    }

    @Override
    public long read(long address, int width) throws ErrnoException {
        checkVcpu("IOCSR read", accessingVcpu);
        long gpr = device.iocsrRead(accessingVcpu, address, width);
        return width >= 8 ? gpr : gpr & ((1L << (8 * width)) - 1);
    }

    @Override
    public long readAsGpr(long address, int width) throws ErrnoException {
        long v = read(address, width);
        int shift = 64 - 8 * Math.min(width, 8);
        return v << shift >> shift;
    }

    @Override
    public void createDevice() throws ErrnoException {
        EiointcDevice.create(device.vm());
    }

    @Override
    public void write(long address, int width, long value) throws ErrnoException {
        checkVcpu("IOCSR write", accessingVcpu);
        device.iocsrWrite(accessingVcpu, address, width, value);
    }

    @Override
    public void memWrite(long gpa, byte[] data) {
        throw new UnsupportedOperationException("the EIOINTC has no guest-memory interface");
    }

    @Override
    public byte[] memRead(long gpa, int length) {
        throw new UnsupportedOperationException("the EIOINTC has no guest-memory interface");
    }

    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        return device.getAttr(group, attr, size);
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        device.setAttr(group, attr, value, size);
    }

    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        return device.hasAttr(group, attr);
    }

    @Override
    public byte[] getOneReg(int vcpu, long regId) {
        throw new UnsupportedOperationException("the EIOINTC has no ONE_REG registers");
    }

    @Override
    public void setOneReg(int vcpu, long regId, byte[] value) {
        throw new UnsupportedOperationException("the EIOINTC has no ONE_REG registers");
    }

    @Override
    public void setIrq(int line, boolean level) throws ErrnoException {
        if (line < 0 || line >= EiointcRegisters.IRQS) {
            throw new ErrnoException("eiointc_set_irq", Errno.EINVAL, "line " + line + " is not 0..255");
        }
        device.setIrq(line, level);
    }

    @Override
    public void vcpuLoad(int vcpu) throws ErrnoException {
        checkVcpu("vcpu_load", vcpu);
        accessingVcpu = vcpu;
    }

    @Override
    public void vcpuPut(int vcpu) throws ErrnoException {
        checkVcpu("vcpu_put", vcpu);
    }

    private void checkVcpu(String op, int vcpu) throws ErrnoException {
        if (!device.vm().hasVcpu(vcpu)) {
            throw new ErrnoException(op, Errno.EINVAL, "no vCPU " + vcpu + " in a VM of " + device.vm().vcpuCount());
        }
    }

    @Override
    public int signalMsi(long address, int data, int devid) {
        throw new UnsupportedOperationException("MSIs reach the EIOINTC through PCH-MSI, which is not modelled");
    }

    @Override
    public String state() {
        StringBuilder sb = new StringBuilder("asserted");
        int n = device.vm().vcpuCount();
        boolean any = false;
        for (int v = 0; v < n; v++) {
            int pins = device.pins(v);
            for (int p = 0; p < EiointcRegisters.PINS; p++) {
                if ((pins & (1 << p)) != 0) {
                    sb.append(" vcpu").append(v).append(".ip").append(p);
                    any = true;
                }
            }
        }
        return any ? sb.toString() : "asserted none";
    }
}
