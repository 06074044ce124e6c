package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.bindings.kvm.kvm_mp_state;
import dev.panavirt.bindings.kvm.kvm_one_reg;
import dev.panavirt.bindings.kvm.kvm_reg_list;
import dev.panavirt.bindings.kvm.x86_64.kvm_run;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A virtual CPU, arch-neutral: its fd, its mapped {@code kvm_run} area, {@code KVM_RUN} and kicks, the MP
 * state, ONE_REG and the register list, and {@code KVM_ENABLE_CAP}. The x86 register, MSR and CPUID ioctls
 * are {@link X86Vcpu}'s ({@link X86Vcpu#of(Vcpu)}).
 *
 * <p>{@link #run()} and the register calls are meant for one thread at a time (the vCPU's own);
 * {@link #kick()} may be called from any thread. The run path allocates nothing: exits are reusable
 * views ({@link VcpuExit}) and the errno capture belongs to the vCPU.
 *
 * <p>The errnos each method lists are those particular to its ioctl, from the upstream sources cited.
 * Besides those, every vCPU ioctl fails with EIO when issued from a process other than the one that created
 * the VM or once KVM has marked the VM dead (virt/kvm/kvm_main.c, {@code kvm_vcpu_ioctl}). {@code EFAULT}
 * is left out where this class hands the kernel only buffers it checked. After {@link #close} every
 * ioctl-issuing method throws {@link IllegalStateException} before reaching the kernel.
 *
 * <p><b>Closing while it runs.</b> {@link #close} (and {@link Vm#close}) may be called while another thread is
 * inside {@code KVM_RUN}: it kicks that thread out, waits a bounded time for it to leave, and only then closes
 * the descriptor. The running thread's {@link #run()} returns {@link VcpuExit.Interrupted} without reading
 * {@code kvm_run} again, and its next call throws {@link IllegalStateException}.
 */
public final class Vcpu implements AutoCloseable {
    private static final long KVM_RUN = kvm_h.KVM_RUN();
    private static final VarHandle IMMEDIATE_EXIT = ValueLayout.JAVA_BYTE.varHandle();
    private static final long IMMEDIATE_EXIT_OFFSET = kvm_run.immediate_exit$offset();

    private final Vm vm;
    private final Fd fd;
    private final int id;
    private final MemorySegment run;
    private final MemorySegment capture;
    private final MemorySegment oneReg;
    private final VcpuExit[] exitsByReason;
    private final VcpuExit.Unknown unknown;
    private final VcpuExit.MemoryFault memoryFault;
    private final DirtyRing dirtyRing;
    /** The x86 view, made on first use (see {@link X86Vcpu#of}). */
    X86Vcpu x86;
    private volatile Thread runner;
    private volatile int runnerTid;
    /**
     * {@link #RUNNING} while a thread is inside {@link #run()} (in KVM_RUN or reading its exit), {@link #CLOSING}
     * once {@link #close} has begun. Changed atomically: a run that sees CLOSING never becomes RUNNING, and a close
     * that sets CLOSING learns whether a run is in progress.
     */
    private volatile int state;
    private static final int RUNNING = 1;
    private static final int CLOSING = 2;
    private static final VarHandle STATE;

    static {
        try {
            STATE = java.lang.invoke.MethodHandles.lookup().findVarHandle(Vcpu.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    Vcpu(Vm vm, Fd fd, int id, Arena arena, int mmapSize, int dirtyRingBytes) throws ErrnoException {
        this.vm = vm;
        this.fd = fd;
        this.id = id;
        this.run = Mmap.map(arena, mmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0,
                "kvm_run of vcpu " + id);
        // Buffers passed to downcalls come from an automatic arena: a shared arena's segment costs a
        // session acquire/release on every call (the run loop's capture segment is passed to each KVM_RUN).
        Arena buffers = Arena.ofAuto();
        this.capture = Libc.newCapture(buffers);
        this.oneReg = kvm_one_reg.allocate(buffers);
        this.unknown = new VcpuExit.Unknown(run);
        this.memoryFault = new VcpuExit.MemoryFault(run);
        this.exitsByReason = new VcpuExit[64];
        java.util.Arrays.fill(exitsByReason, unknown);
        exitsByReason[KvmExits.IO] = new VcpuExit.Io(run);
        exitsByReason[KvmExits.MMIO] = new VcpuExit.Mmio(run);
        exitsByReason[KvmExits.HLT] = VcpuExit.Hlt.INSTANCE;
        exitsByReason[KvmExits.SHUTDOWN] = VcpuExit.Shutdown.INSTANCE;
        exitsByReason[KvmExits.FAIL_ENTRY] = new VcpuExit.FailEntry(run);
        exitsByReason[KvmExits.INTERNAL_ERROR] = new VcpuExit.InternalError(run);
        exitsByReason[KvmExits.SYSTEM_EVENT] = new VcpuExit.SystemEvent(run);
        exitsByReason[KvmExits.DIRTY_RING_FULL] = VcpuExit.DirtyRingFull.INSTANCE;
        this.dirtyRing = dirtyRingBytes > 0 ? new DirtyRing(arena, fd, id, dirtyRingBytes) : null;
    }

    /** The vCPU id given to {@link Vm#createVcpu(int)}. */
    public int id() {
        return id;
    }

    /** The VM this vCPU belongs to. */
    public Vm vm() {
        return vm;
    }

    /**
     * The vCPU descriptor number, for callers that issue ioctls panavirt does not wrap; valid until the vCPU
     * closes.
     *
     * @throws IllegalStateException after the vCPU closed
     */
    public int rawFd() {
        return fd.raw();
    }

    /** The descriptor, for this package's other views of the vCPU. */
    Fd fd() {
        return fd;
    }

    /** The mapped {@code struct kvm_run}; read and write it with the generated {@code kvm_run} accessors. */
    public MemorySegment kvmRun() {
        return run;
    }

    /**
     * Wraps {@code KVM_RUN}: enters the guest until it exits to user space.
     *
     * <p>EINTR (a {@link #kick()} or another signal) is not an error: it comes back as
     * {@link VcpuExit.Interrupted} and {@code immediate_exit} is cleared. Any other failure throws.
     * The returned exit is reused by the next call (see {@link VcpuExit}).
     *
     * @throws ErrnoException from virt/kvm/kvm_main.c ({@code kvm_vcpu_ioctl}) and arch/x86/kvm/x86.c
     *         ({@code kvm_arch_vcpu_ioctl_run}, {@code vcpu_enter_guest}):
     *         <ul>
     *         <li>EFAULT: KVM could not reach guest memory and left no {@code KVM_EXIT_MEMORY_FAULT} to explain
     *         it (that case returns {@link VcpuExit.MemoryFault}), e.g. a slot whose host mapping is gone;</li>
     *         <li>EINVAL: {@code kvm_run.kvm_valid_regs}/{@code kvm_dirty_regs} with unknown bits or refused
     *         register state; without an in-kernel local APIC, a {@code kvm_run.cr8} the vCPU refuses;</li>
     *         <li>EIO: besides the cases common to every vCPU ioctl, a VM KVM marks dead while it runs;</li>
     *         <li>ENOEXEC: on arm64, before {@code KVM_ARM_VCPU_INIT} (arch/arm64/kvm/arm.c,
     *         {@code kvm_arch_vcpu_ioctl_run}).</li>
     *         </ul>
     * @throws IllegalStateException after the vCPU (or its VM) closed, or while another thread is inside this
     *         method; a call that is inside {@code KVM_RUN} when the close comes returns {@link VcpuExit.Interrupted}
     */
    public VcpuExit run() throws ErrnoException {
        for (;;) {
            int st = state;
            if (st != 0) {
                throw new IllegalStateException((st & CLOSING) != 0 ? "vcpu " + id + " is closed"
                        : "vcpu " + id + " is already running on another thread");
            }
            if (STATE.compareAndSet(this, 0, RUNNING)) {
                break;
            }
        }
        try {
            Thread me = Thread.currentThread();
            if (runner != me) {
                runnerTid = Libc.gettid();
                runner = me;
            }
            int rc = Libc.ioctl(capture, fd.raw(), KVM_RUN, 0L);
            if ((state & CLOSING) != 0) {
                // closed while inside: kvm_run may be unmapped as soon as RUNNING is cleared
                return VcpuExit.Interrupted.INSTANCE;
            }
            if (rc < 0) {
                int errno = -rc;
                if (errno == Errno.EINTR || errno == Errno.EAGAIN) {
                    IMMEDIATE_EXIT.setVolatile(run, IMMEDIATE_EXIT_OFFSET, (byte) 0);
                    return VcpuExit.Interrupted.INSTANCE;
                }
                if (errno == Errno.EFAULT && kvm_run.exit_reason(run) == KvmExits.MEMORY_FAULT) {
                    return memoryFault;
                }
                throw Ioctl.failure(fd, "KVM_RUN", errno, KVM_RUN, "vcpu " + id);
            }
            int reason = kvm_run.exit_reason(run);
            return reason >= 0 && reason < exitsByReason.length ? exitsByReason[reason] : unknown;
        } finally {
            if (((int) STATE.getAndBitwiseAnd(this, ~RUNNING) & CLOSING) != 0) {
                vm.vcpuLeftRun();
            }
        }
    }

    /**
     * Makes the running (or next) {@link #run()} return {@link VcpuExit.Interrupted}: sets
     * {@code immediate_exit} and, while a thread is inside {@link #run()}, signals that thread so a guest inside
     * {@code KVM_RUN} leaves it. Safe from any thread. A thread that has stopped running the vCPU is not
     * signalled (its id may belong to another thread by now). After {@link #close} a kick does nothing: there
     * is no run left to interrupt.
     */
    public void kick() {
        if ((state & CLOSING) != 0) {
            return;
        }
        try {
            IMMEDIATE_EXIT.setVolatile(run, IMMEDIATE_EXIT_OFFSET, (byte) 1);
        } catch (IllegalStateException closedMeanwhile) {
            return;   // the VM closed between the check and the write and unmapped kvm_run
        }
        signalRunner();
    }

    private void signalRunner() {
        int tid = runnerTid;
        if (tid > 0 && (state & RUNNING) != 0) {
            // SIGPIPE has a JVM handler that ignores it; its only effect is to interrupt the ioctl.
            Libc.tgkill(Scratch.capture(), Libc.getpid(), tid, Libc.SIGPIPE);
        }
    }

    /** Whether a thread is inside {@link #run()} (in {@code KVM_RUN} or reading its exit) at this moment. */
    public boolean isRunning() {
        return (state & RUNNING) != 0;
    }

    /**
     * The first half of closing: no new {@code KVM_RUN}, and the one in progress is kicked. Returns at once; see
     * {@link #awaitLeft(long)}.
     */
    void beginClose() {
        if ((state & CLOSING) != 0) {
            return;
        }
        try {
            IMMEDIATE_EXIT.setVolatile(run, IMMEDIATE_EXIT_OFFSET, (byte) 1);
        } catch (IllegalStateException unmapped) {
            // kvm_run is already gone with the VM: no run can be in progress
        }
        if (((int) STATE.getAndBitwiseOr(this, CLOSING) & RUNNING) != 0) {
            signalRunner();
        }
    }

    /**
     * Waits until no thread is inside {@link #run()} or {@code deadline} ({@link System#nanoTime()}) passes,
     * kicking again every millisecond: a signal that arrived just before the thread entered {@code KVM_RUN} is
     * lost, though {@code immediate_exit} catches that case too. Returns whether the vCPU is out.
     */
    boolean awaitLeft(long deadline) {
        while (isRunning()) {
            long now = System.nanoTime();
            if (now - deadline >= 0) {
                return false;
            }
            signalRunner();
            java.util.concurrent.locks.LockSupport.parkNanos(Math.min(1_000_000L, deadline - now));
        }
        return true;
    }

    /** Sets or clears {@code kvm_run.immediate_exit} directly. */
    public void setImmediateExit(boolean exit) {
        IMMEDIATE_EXIT.setVolatile(run, IMMEDIATE_EXIT_OFFSET, (byte) (exit ? 1 : 0));
    }

    /** The dirty ring of this vCPU, when {@link Vm#enableDirtyRing(int)} preceded its creation. */
    public java.util.Optional<DirtyRing> dirtyRing() {
        return java.util.Optional.ofNullable(dirtyRing);
    }

    // ---- multiprocessing state ----

    /**
     * Wraps {@code KVM_GET_MP_STATE}: {@code KVM_MP_STATE_RUNNABLE} 0, {@code UNINITIALIZED} 1,
     * {@code INIT_RECEIVED} 2, {@code HALTED} 3, ...
     *
     * @throws ErrnoException none of its own outside nested virtualization, where processing a pending
     *         INIT or SIPI for a nested guest can fail (arch/x86/kvm/x86.c, {@code kvm_arch_vcpu_ioctl_get_mpstate};
     *         arch/x86/kvm/lapic.c, {@code kvm_apic_accept_events})
     * @throws IllegalStateException after the vCPU closed
     */
    public int getMpState() throws ErrnoException {
        MemorySegment s = Scratch.current().buffer();
        vcpuIoctl("KVM_GET_MP_STATE", kvm_h.KVM_GET_MP_STATE(), s);
        return kvm_mp_state.mp_state(s);
    }

    /**
     * Wraps {@code KVM_SET_MP_STATE}.
     *
     * @throws ErrnoException EINVAL for an unknown state; for any state but {@code RUNNABLE} without an
     *         in-kernel local APIC; for {@code INIT_RECEIVED} or {@code SIPI_RECEIVED} while INIT is blocked
     *         (SMM, for one) or an SMI is pending (arch/x86/kvm/x86.c, {@code kvm_arch_vcpu_ioctl_set_mpstate})
     * @throws IllegalStateException after the vCPU closed
     */
    public void setMpState(int state) throws ErrnoException {
        MemorySegment s = Scratch.current().buffer();
        kvm_mp_state.mp_state(s, state);
        vcpuIoctl("KVM_SET_MP_STATE", kvm_h.KVM_SET_MP_STATE(), s, "mp_state " + state);
    }

    // ---- ONE_REG ----

    /** {@link OneRegId#size}, refused above the 2048 bytes of the largest vCPU register. */
    private static int oneRegSize(long regId) {
        int size = OneRegId.size(regId);
        if (size > 2048) {
            throw new IllegalArgumentException("ONE_REG id 0x" + Long.toHexString(regId) + " encodes " + size
                    + " bytes; vCPU registers are at most 2048");
        }
        return size;
    }

    /**
     * Wraps {@code KVM_GET_ONE_REG} into {@code value}, which must hold the size the id encodes.
     * x86 has no ONE_REG registers on most kernels: the kernel answers EINVAL, reported as such (recent
     * kernels accept 64-bit MSR ids there, see below).
     *
     * @throws ErrnoException on x86, EINVAL from kernels without ONE_REG there (the ioctl reaches the arch
     *         default); from kernels with it ({@link Cap#ONE_REG} on x86), EINVAL for an id that is not a
     *         64-bit {@code KVM_REG_X86} MSR or KVM register, or an MSR the vCPU cannot read (arch/x86/kvm/x86.c,
     *         {@code kvm_arch_vcpu_ioctl}, {@code kvm_get_set_one_reg}); on arm64, ENOEXEC before
     *         {@code KVM_ARM_VCPU_INIT} (arch/arm64/kvm/arm.c, {@code kvm_arch_vcpu_ioctl})
     * @throws IllegalArgumentException when the id encodes more than 2048 bytes or {@code value} is smaller
     *         than the size it encodes
     * @throws IllegalStateException after the vCPU closed
     */
    public void getOneReg(long regId, MemorySegment value) throws ErrnoException {
        oneReg("KVM_GET_ONE_REG", kvm_h.KVM_GET_ONE_REG(), regId, value);
    }

    /**
     * Wraps {@code KVM_SET_ONE_REG} from {@code value}, which must hold the size the id encodes.
     *
     * @throws ErrnoException as {@link #getOneReg(long, MemorySegment)}, with EINVAL also for an MSR value the
     *         vCPU refuses
     * @throws IllegalArgumentException when the id encodes more than 2048 bytes or {@code value} is smaller
     *         than the size it encodes
     * @throws IllegalStateException after the vCPU closed
     */
    public void setOneReg(long regId, MemorySegment value) throws ErrnoException {
        oneReg("KVM_SET_ONE_REG", kvm_h.KVM_SET_ONE_REG(), regId, value);
    }

    /**
     * {@code KVM_GET_ONE_REG} for registers of at most 8 bytes, zero-extended.
     *
     * @throws ErrnoException as {@link #getOneReg(long, MemorySegment)}
     * @throws IllegalArgumentException when the id encodes more than 8 bytes
     * @throws IllegalStateException after the vCPU closed
     */
    public long getOneReg(long regId) throws ErrnoException {
        int size = oneRegSize(regId);
        if (size > 8) {
            throw new IllegalArgumentException("register is " + size + " bytes; pass a segment");
        }
        MemorySegment buf = Scratch.current().buffer().asSlice(0, 8).fill((byte) 0);
        oneReg("KVM_GET_ONE_REG", kvm_h.KVM_GET_ONE_REG(), regId, buf.asSlice(0, size));
        return buf.get(ValueLayout.JAVA_LONG, 0);
    }

    /**
     * {@code KVM_SET_ONE_REG} for registers of at most 8 bytes.
     *
     * @throws ErrnoException as {@link #setOneReg(long, MemorySegment)}
     * @throws IllegalArgumentException when the id encodes more than 8 bytes
     * @throws IllegalStateException after the vCPU closed
     */
    public void setOneReg(long regId, long value) throws ErrnoException {
        int size = oneRegSize(regId);
        if (size > 8) {
            throw new IllegalArgumentException("register is " + size + " bytes; pass a segment");
        }
        MemorySegment buf = Scratch.current().buffer().asSlice(0, 8);
        buf.set(ValueLayout.JAVA_LONG, 0, value);
        oneReg("KVM_SET_ONE_REG", kvm_h.KVM_SET_ONE_REG(), regId, buf.asSlice(0, size));
    }

    private void oneReg(String name, long request, long regId, MemorySegment value) throws ErrnoException {
        int size = oneRegSize(regId);
        if (value.byteSize() < size) {
            throw new IllegalArgumentException("ONE_REG id 0x" + Long.toHexString(regId) + " needs " + size
                    + " bytes, buffer has " + value.byteSize());
        }
        kvm_one_reg.id(oneReg, regId);
        kvm_one_reg.addr(oneReg, value.address());
        int rc = Ioctl.raw(capture, fd, request, oneReg);
        java.lang.ref.Reference.reachabilityFence(value);
        if (rc < 0) {
            throw Ioctl.failure(fd, name, -rc, request, "reg 0x" + Long.toHexString(regId) + " on vcpu " + id);
        }
    }

    /**
     * Wraps {@code KVM_GET_REG_LIST}: every ONE_REG id this vCPU has (arm64, riscv, loongarch).
     * x86 has none on most kernels; the kernel's error is reported as thrown.
     *
     * @throws ErrnoException on x86, EINVAL from kernels without the ioctl there; kernels with it list at
     *         most the shadow-stack pointer (arch/x86/kvm/x86.c, {@code kvm_get_reg_list}); on arm64, ENOEXEC
     *         before {@code KVM_ARM_VCPU_INIT} (arch/arm64/kvm/arm.c, {@code kvm_arch_vcpu_ioctl}). The E2BIG
     *         that sizes the list is handled here, not thrown.
     * @throws IllegalStateException after the vCPU closed
     */
    public long[] regList() throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment probe = kvm_reg_list.allocate(0, a);
            int rc = Ioctl.raw(Scratch.capture(), fd, kvm_h.KVM_GET_REG_LIST(), probe);
            if (rc >= 0) {
                return new long[0];
            }
            if (rc != -Errno.E2BIG) {
                throw Ioctl.failure(fd, "KVM_GET_REG_LIST", -rc, kvm_h.KVM_GET_REG_LIST(), "vcpu " + id);
            }
            long n = kvm_reg_list.n(probe);
            MemorySegment list = kvm_reg_list.allocate(n, a);
            kvm_reg_list.n(list, n);
            Ioctl.call(fd, "KVM_GET_REG_LIST", kvm_h.KVM_GET_REG_LIST(), list, n + " ids on vcpu " + id);
            long[] out = new long[(int) kvm_reg_list.n(list)];
            for (int i = 0; i < out.length; i++) {
                out[i] = kvm_reg_list.reg(list, i);
            }
            return out;
        }
    }

    /**
     * Wraps {@code KVM_ENABLE_CAP} on the vCPU fd with up to four arguments.
     *
     * @throws ErrnoException EINVAL when the capability cannot be enabled on a vCPU or refuses its arguments
     *         (on x86, for instance, the Hyper-V SynIC without an in-kernel irqchip); ENOTTY for the Hyper-V
     *         enlightened VMCS or direct TLB flush where the vendor module lacks them (arch/x86/kvm/x86.c,
     *         {@code kvm_vcpu_ioctl_enable_cap})
     * @throws IllegalArgumentException for more than four arguments
     * @throws IllegalStateException after the vCPU closed
     */
    public void enableCap(Cap cap, long... args) throws ErrnoException {
        EnableCap.call(fd, cap, args, " on vcpu " + id);
    }

    void vcpuIoctl(String name, long request, MemorySegment arg) throws ErrnoException {
        int rc = Ioctl.raw(capture, fd, request, arg);
        if (rc < 0) {
            throw Ioctl.failure(fd, name, -rc, request, "vcpu " + id);
        }
    }

    void vcpuIoctl(String name, long request, MemorySegment arg, String detail) throws ErrnoException {
        int rc = Ioctl.raw(capture, fd, request, arg);
        if (rc < 0) {
            throw Ioctl.failure(fd, name, -rc, request, detail + " on vcpu " + id);
        }
    }

    static void checkSize(MemorySegment s, long size, String what) {
        if (s.byteSize() < size) {
            throw new IllegalArgumentException(what + " needs " + size + " bytes, segment has " + s.byteSize());
        }
    }

    /**
     * Closes the vCPU fd; a thread inside {@code KVM_RUN} is kicked out first, waiting at most
     * {@link Vm#CLOSE_WAIT} for it to leave. The {@code kvm_run} mapping is released with the VM. Idempotent.
     *
     * <p>If the thread has not left by then (its signal blocked, say), the descriptor is closed anyway: the
     * kernel keeps the vCPU alive until that {@code KVM_RUN} returns, and the thread issues no further ioctl on it.
     */
    @Override
    public void close() {
        beginClose();
        if (!awaitLeft(System.nanoTime() + Vm.CLOSE_WAIT.toNanos())) {
            System.getLogger(Vcpu.class.getName()).log(System.Logger.Level.WARNING, "vcpu " + id + " was still "
                    + "inside KVM_RUN on thread " + runner + " " + Vm.CLOSE_WAIT.toMillis() + " ms after close");
        }
        fd.close();
    }

    /** Closes the descriptor only: for {@link Vm#close}, which has done the kick and the wait for all vCPUs. */
    void closeFd() {
        fd.close();
    }
}
