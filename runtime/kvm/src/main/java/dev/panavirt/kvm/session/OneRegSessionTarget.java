package dev.panavirt.kvm.session;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.Vm;
import dev.panavirt.replay.SessionTarget;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A session's vCPU register calls on the kernel: a fresh VM with {@code count} vCPUs, whose
 * {@code KVM_GET_ONE_REG}, {@code KVM_SET_ONE_REG} and {@code KVM_GET_REG_LIST} answer the
 * {@link SessionTarget} calls the register models answer too (on riscv64 the vector unit of
 * {@code dev.panavirt.models.riscv}), so one script runs on both.
 *
 * <ul>
 *   <li>{@code getOneReg} returns {@code KVM_REG_SIZE(id)} bytes; {@code setOneReg} passes the script's bytes.
 *       A buffer shorter than the id's size is refused by {@link Vcpu} before any ioctl (it would make the kernel
 *       read past it), so it is {@link UnsupportedOperationException}, as are ids of more than 2048 bytes.</li>
 *   <li>{@code regList(vcpu, n)} is E2BIG when the vCPU has more than {@code n} ids, as the kernel answers a
 *       {@code kvm_reg_list} with room for {@code n} (arch/riscv/kvm/vcpu.c, {@code kvm_arch_vcpu_ioctl}).</li>
 *   <li>A vCPU number the session does not have is EINVAL, the models' rule.</li>
 *   <li>Everything that needs a guest running ({@code vcpuLoad}, {@code guestVectorInstruction},
 *       {@code vcpuReset}) and every device operation is unsupported; {@code state()} has no uapi.</li>
 * </ul>
 */
public final class OneRegSessionTarget implements SessionTarget, AutoCloseable {

    private final Vm vm;
    private final Vcpu[] vcpus;

    private OneRegSessionTarget(Vm vm, Vcpu[] vcpus) {
        this.vm = vm;
        this.vcpus = vcpus;
    }

    /**
     * Creates a VM with vCPUs 0..count-1 on {@code kvm}.
     *
     * @throws ErrnoException as {@link Kvm#createVm()} and {@link Vm#createVcpu(int)}; the VM is closed then
     */
    public static OneRegSessionTarget open(Kvm kvm, int count) throws ErrnoException {
        if (count < 1) {
            throw new IllegalArgumentException("at least one vCPU: " + count);
        }
        Vm vm = kvm.createVm();
        try {
            Vcpu[] vcpus = new Vcpu[count];
            for (int i = 0; i < count; i++) {
                vcpus[i] = vm.createVcpu(i);
            }
            return new OneRegSessionTarget(vm, vcpus);
        } catch (ErrnoException | RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /** vCPU {@code i} of the session. */
    public Vcpu vcpu(int i) {
        return vcpus[i];
    }

    private Vcpu unit(String op, int vcpu) throws ErrnoException {
        if (vcpu < 0 || vcpu >= vcpus.length) {
            throw new ErrnoException(op, Errno.EINVAL, "no vCPU " + vcpu + " in a session of " + vcpus.length);
        }
        return vcpus[vcpu];
    }

    /** {@code KVM_REG_SIZE(id)} (include/uapi/linux/kvm.h). */
    static int regSize(long id) {
        return 1 << (int) ((id >>> 52) & 0xf);
    }

    @Override
    public String name() {
        return "kvm-one-reg";
    }

    @Override
    public byte[] getOneReg(int vcpu, long regId) throws ErrnoException {
        Vcpu v = unit("KVM_GET_ONE_REG", vcpu);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(regSize(regId), 8);
            v.getOneReg(regId, buf);
            return buf.toArray(ValueLayout.JAVA_BYTE);
        } catch (IllegalArgumentException e) {
            throw new UnsupportedOperationException(e.getMessage(), e);
        }
    }

    @Override
    public void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException {
        Vcpu v = unit("KVM_SET_ONE_REG", vcpu);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, value.length), 8);
            MemorySegment.copy(value, 0, buf, ValueLayout.JAVA_BYTE, 0, value.length);
            v.setOneReg(regId, buf.asSlice(0, value.length));
        } catch (IllegalArgumentException e) {
            throw new UnsupportedOperationException(e.getMessage(), e);
        }
    }

    @Override
    public long[] regList(int vcpu, int n) throws ErrnoException {
        long[] ids = unit("KVM_GET_REG_LIST", vcpu).regList();
        if (ids.length > n) {
            throw new ErrnoException("KVM_GET_REG_LIST", Errno.E2BIG, ids.length + " ids, room for " + n);
        }
        return ids;
    }

    @Override
    public long read(long address, int width) {
        throw new UnsupportedOperationException("read");
    }

    @Override
    public void write(long address, int width, long value) {
        throw new UnsupportedOperationException("write");
    }

    @Override
    public void memWrite(long gpa, byte[] data) {
        throw new UnsupportedOperationException("mem-write");
    }

    @Override
    public byte[] memRead(long gpa, int length) {
        throw new UnsupportedOperationException("mem-read");
    }

    @Override
    public String state() {
        throw new UnsupportedOperationException("state");
    }

    /** Closes the VM and its vCPUs. */
    @Override
    public void close() {
        vm.close();
    }
}
