package dev.panavirt.replay.targets;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.riscv.RiscvVectorRegisters;
import dev.panavirt.models.riscv.RiscvVectorUnit;
import dev.panavirt.replay.SessionTarget;

/**
 * Drives one or more {@link RiscvVectorUnit}s (one per vCPU) from a scripted session.
 *
 * <ul>
 *   <li>{@code getOneReg} returns {@code KVM_REG_SIZE(id)} bytes; {@code setOneReg} passes the script's bytes, so
 *       fewer bytes than the id's size give EFAULT as a short user buffer would.</li>
 *   <li>{@code vcpuLoad}/{@code vcpuPut} are {@code kvm_arch_vcpu_load/put} (a load counts as KVM_RUN entry).</li>
 *   <li>{@code regList} is the model's part of {@code KVM_GET_REG_LIST}: the vector ids when V is on, then one
 *       ISA_EXT id per host extension; {@code vcpuReset} is {@code kvm_riscv_reset_vcpu} (VS Initial and zeroed
 *       registers with V on, Off without; the ISA and "has run" stay); {@code guestVectorInstruction} is the guest
 *       executing a vector instruction while loaded (VS becomes Dirty; a trap with VS Off; EINVAL when the vCPU is
 *       not loaded, as no guest runs then).</li>
 *   <li>A vCPU number the session does not have is EINVAL.</li>
 *   <li>{@code state()} is one entry per vCPU, e.g. {@code "vcpu0 V=on VS=Clean loaded=no ran=yes vlenb=16"},
 *       joined with {@code "; "}.</li>
 *   <li>Register-window, memory, device-attribute, line, MSI and device-creation operations are unsupported.</li>
 * </ul>
 */
public final class RiscvVectorSessionTarget implements SessionTarget {

    private final RiscvVectorUnit[] vcpus;

    /** A session over {@code count} fresh vCPUs on a host described by {@code config}. */
    public RiscvVectorSessionTarget(int count, RiscvVectorUnit.Config config) {
        if (count < 1) {
            throw new IllegalArgumentException("at least one vCPU: " + count);
        }
        vcpus = new RiscvVectorUnit[count];
        for (int i = 0; i < count; i++) {
            vcpus[i] = new RiscvVectorUnit(config);
        }
    }

    /** One vCPU with VLEN 128. */
    public RiscvVectorSessionTarget() {
        this(1, RiscvVectorUnit.Config.DEFAULT);
    }

    /** The model of vCPU {@code i}. */
    public RiscvVectorUnit vcpu(int i) {
        return vcpus[i];
    }

    @Override
    public String name() {
        return "riscv-vector-model";
    }

    private RiscvVectorUnit unit(String op, int vcpu) throws ErrnoException {
        if (vcpu < 0 || vcpu >= vcpus.length) {
            throw new ErrnoException(op, Errno.EINVAL, "no vCPU " + vcpu + " in a session of " + vcpus.length);
        }
        return vcpus[vcpu];
    }

    @Override
    public byte[] getOneReg(int vcpu, long regId) throws ErrnoException {
        RiscvVectorUnit u = unit("KVM_GET_ONE_REG", vcpu);
        byte[] buf = new byte[RiscvVectorRegisters.regSize(regId)];
        u.getOneReg(regId, buf);
        return buf;
    }

    @Override
    public void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException {
        unit("KVM_SET_ONE_REG", vcpu).setOneReg(regId, value);
    }

    @Override
    public long[] regList(int vcpu, int n) throws ErrnoException {
        return unit("KVM_GET_REG_LIST", vcpu).regList(n);
    }

    @Override
    public void vcpuReset(int vcpu) throws ErrnoException {
        unit("vcpu reset", vcpu).reset();
    }

    @Override
    public boolean guestVectorInstruction(int vcpu) throws ErrnoException {
        RiscvVectorUnit u = unit("guest vector instruction", vcpu);
        if (!u.isLoaded()) {
            throw new ErrnoException("guest vector instruction", Errno.EINVAL, "vCPU " + vcpu + " is not loaded");
        }
        return u.guestVectorInstruction();
    }

    @Override
    public void vcpuLoad(int vcpu) throws ErrnoException {
        unit("vcpu_load", vcpu).load();
    }

    @Override
    public void vcpuPut(int vcpu) throws ErrnoException {
        unit("vcpu_put", vcpu).put();
    }

    @Override
    public String state() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < vcpus.length; i++) {
            sb.append(i == 0 ? "" : "; ").append("vcpu").append(i).append(' ').append(vcpus[i]);
        }
        return sb.toString();
    }

    @Override
    public long read(long address, int width) {
        throw new UnsupportedOperationException("the vector unit has no register window");
    }

    @Override
    public void write(long address, int width, long value) {
        throw new UnsupportedOperationException("the vector unit has no register window");
    }

    @Override
    public void memWrite(long gpa, byte[] data) {
        throw new UnsupportedOperationException("the vector unit has no guest-memory interface");
    }

    @Override
    public byte[] memRead(long gpa, int length) {
        throw new UnsupportedOperationException("the vector unit has no guest-memory interface");
    }

    @Override
    public long getAttr(int group, long attr, int size) {
        throw new UnsupportedOperationException("the vector unit is not a device; it has no attributes");
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) {
        throw new UnsupportedOperationException("the vector unit is not a device; it has no attributes");
    }

    @Override
    public boolean hasAttr(int group, long attr) {
        throw new UnsupportedOperationException("the vector unit is not a device; it has no attributes");
    }

    @Override
    public void setIrq(int line, boolean level) {
        throw new UnsupportedOperationException("the vector unit has no interrupt lines");
    }

    @Override
    public int signalMsi(long address, int data, int devid) {
        throw new UnsupportedOperationException("the vector unit takes no MSIs");
    }
}
