package dev.panavirt.replay.remote;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.SessionTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Passes every call on to a target (normally a model) and writes it down in {@link Calls}' text form, so the same
 * calls can be run elsewhere against the kernel. A call is written before it runs, so a call the target refuses is
 * still in the log. Operations outside the device interfaces of the models (VFIO, vDPA) are not passed on.
 */
public final class CallLog implements SessionTarget {
    private final SessionTarget target;
    private final List<String> calls = new ArrayList<>();

    /** A log in front of {@code target}. */
    public CallLog(SessionTarget target) {
        this.target = target;
    }

    /** The calls so far, in order. */
    public List<String> calls() {
        return List.copyOf(calls);
    }

    @Override
    public String name() {
        return target.name();
    }

    @Override
    public OptionalLong symbol(String name) {
        return target.symbol(name);
    }

    @Override
    public long read(long address, int width) throws ErrnoException {
        calls.add(Calls.read(address, width));
        return target.read(address, width);
    }

    @Override
    public void write(long address, int width, long value) throws ErrnoException {
        calls.add(Calls.write(address, width, value));
        target.write(address, width, value);
    }

    @Override
    public void memWrite(long gpa, byte[] data) {
        calls.add(Calls.memWrite(gpa, data));
        target.memWrite(gpa, data);
    }

    @Override
    public byte[] memRead(long gpa, int length) {
        calls.add(Calls.memRead(gpa, length));
        return target.memRead(gpa, length);
    }

    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        calls.add(Calls.attrGet(group, attr, size));
        return target.getAttr(group, attr, size);
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        calls.add(Calls.attrSet(group, attr, value, size));
        target.setAttr(group, attr, value, size);
    }

    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        calls.add(Calls.attrHas(group, attr));
        return target.hasAttr(group, attr);
    }

    @Override
    public byte[] getOneReg(int vcpu, long regId) throws ErrnoException {
        calls.add(Calls.regGet(vcpu, regId));
        return target.getOneReg(vcpu, regId);
    }

    @Override
    public void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException {
        calls.add(Calls.regSet(vcpu, regId, value));
        target.setOneReg(vcpu, regId, value);
    }

    @Override
    public void setIrq(int line, boolean level) throws ErrnoException {
        calls.add(Calls.irq(line, level));
        target.setIrq(line, level);
    }

    @Override
    public void vcpuLoad(int vcpu) throws ErrnoException {
        calls.add(Calls.vcpuOp("vcpu-load", vcpu));
        target.vcpuLoad(vcpu);
    }

    @Override
    public void vcpuPut(int vcpu) throws ErrnoException {
        calls.add(Calls.vcpuOp("vcpu-put", vcpu));
        target.vcpuPut(vcpu);
    }

    @Override
    public int signalMsi(long address, int data, int devid) throws ErrnoException {
        calls.add(Calls.msi(address, data, devid));
        return target.signalMsi(address, data, devid);
    }

    @Override
    public int signalMsiWithoutDevid(long address, int data) throws ErrnoException {
        calls.add(Calls.msi(address, data, null));
        return target.signalMsiWithoutDevid(address, data);
    }

    @Override
    public long[] regList(int vcpu, int n) throws ErrnoException {
        calls.add(Calls.regList(vcpu, n));
        return target.regList(vcpu, n);
    }

    @Override
    public void vcpuReset(int vcpu) throws ErrnoException {
        calls.add(Calls.vcpuOp("vcpu-reset", vcpu));
        target.vcpuReset(vcpu);
    }

    @Override
    public boolean guestVectorInstruction(int vcpu) throws ErrnoException {
        calls.add(Calls.vcpuOp("vector-exec", vcpu));
        return target.guestVectorInstruction(vcpu);
    }

    @Override
    public void createDevice() throws ErrnoException {
        calls.add("create-device");
        target.createDevice();
    }

    @Override
    public String state() {
        calls.add("state");
        return target.state();
    }
}
