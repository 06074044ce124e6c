package dev.panavirt.models.loongarch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.ErrnoException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.function.Executable;

/** Shared set-up for the EIOINTC model tests: a device, a line recorder, and IOCSR shorthands. */
class EiointcFixture {

    static final long NODETYPE = 0x14A0;
    static final long IPMAP = 0x14C0;
    static final long ENABLE = 0x1600;
    static final long BOUNCE = 0x1680;
    static final long ISR = 0x1700;
    static final long COREISR = 0x1800;
    static final long COREMAP = 0x1C00;
    static final long FEATURES = 0x4000_0000L;
    static final long CONFIG = 0x4000_0004L;

    static final int GRP_REGS = 0x4000_0002;
    static final int GRP_SW_STATUS = 0x4000_0003;
    static final int GRP_CTRL = 0x4000_0004;

    /** One recorded {@code kvm_vcpu_ioctl_interrupt} call: vCPU, pin and level. */
    record Line(int vcpu, int pin, boolean level) {
        @Override
        public String toString() {
            return (level ? "+" : "-") + vcpu + "." + pin;
        }
    }

    final List<Line> lines = new ArrayList<>();
    EiointcDevice dev;

    EiointcFixture() {
        this(4);
    }

    EiointcFixture(int vcpus) {
        this(new LoongArchVm(vcpus), EiointcDevice.Options.MAINLINE);
    }

    EiointcFixture(LoongArchVm vm, EiointcDevice.Options options) {
        try {
            dev = EiointcDevice.create(vm, options);
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
        dev.setLineListener((v, p, l) -> lines.add(new Line(v, p, l)));
    }

    long rd(long addr, int width) throws ErrnoException {
        return dev.iocsrRead(0, addr, width);
    }

    long rd(int vcpu, long addr, int width) throws ErrnoException {
        return dev.iocsrRead(vcpu, addr, width);
    }

    void wr(long addr, int width, long value) throws ErrnoException {
        dev.iocsrWrite(0, addr, width, value);
    }

    void wr(int vcpu, long addr, int width, long value) throws ErrnoException {
        dev.iocsrWrite(vcpu, addr, width, value);
    }

    /** Enables all 256 vectors with four 8-byte writes. */
    void enableAll() throws ErrnoException {
        for (int i = 0; i < 4; i++) {
            wr(ENABLE + 8L * i, 8, -1L);
        }
    }

    /** Writes one route byte. */
    void route(int irq, int routeByte) throws ErrnoException {
        wr(COREMAP + irq, 1, routeByte);
    }

    /** Turns on CPU and IP encoding (the virt extension offered and configured). */
    void encoded() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 1, EiointcRegisters.ALL_FEATURES, 4);
        wr(CONFIG, 4, EiointcRegisters.ENABLE_CPU_ENCODE | EiointcRegisters.ENABLE_INT_ENCODE);
    }

    long regs(int cpu, int offset) throws ErrnoException {
        return dev.getAttr(GRP_REGS, ((long) cpu << 16) | offset, 4);
    }

    static void assertErrno(int errno, Executable call) {
        ErrnoException e = assertThrows(ErrnoException.class, call);
        assertEquals(errno, e.errno(), e.getMessage());
    }

    static Line up(int vcpu, int pin) {
        return new Line(vcpu, pin, true);
    }

    static Line down(int vcpu, int pin) {
        return new Line(vcpu, pin, false);
    }
}
