package dev.panavirt.vmm;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.VcpuExit;
import java.util.Objects;

/**
 * The one {@code KVM_RUN} loop: runs a vCPU, sends its port and memory I/O exits to the buses through an
 * {@link ExitDispatcher}, and leaves every other exit (halt, shutdown, errors, system events, kicks) to an
 * {@link ExitHandler} that says whether to go on. The VMM's machine, the guest test kit and the command line
 * all run vCPUs through it; what differs between them is only their handler.
 *
 * <p>One runner per vCPU, used from one thread at a time (the dispatcher's scratch windows are its own).
 * {@link #stop()} may be called from any thread. The loop allocates nothing per exit.
 */
public final class VcpuRunner {

    /** What the loop does after an exit. */
    public enum Step {
        /** Enter the guest again. */
        CONTINUE,
        /** Return from {@link #run()} with this exit. */
        STOP
    }

    /** The policy part of the loop: what an exit that is not bus I/O means to the caller. */
    public interface ExitHandler {

        /**
         * Handles an exit the runner does not dispatch: any exit but port and memory I/O, and the port I/O exits
         * this handler {@linkplain #claims claims}.
         *
         * @param exit the exit, valid until the vCPU runs again
         * @return whether to go on
         * @throws ErrnoException if an ioctl the handler issues fails
         */
        Step handle(VcpuExit exit) throws ErrnoException;

        /**
         * Whether this handler takes a port I/O exit itself instead of the bus: for example the ucall port of a
         * test guest, where the answer decides whether the run stops. The default claims none.
         *
         * @param io the exit
         * @return true to have {@link #handle} called for it
         */
        default boolean claims(VcpuExit.Io io) {
            return false;
        }
    }

    private final Vcpu vcpu;
    private final ExitDispatcher dispatcher;
    private final ExitHandler handler;
    private volatile boolean stopRequested;
    private long guestExits;
    /** Exits per KVM exit reason ({@code KVM_EXIT_*}), the last slot for every reason at or beyond it. */
    private final long[] exitsByReason = new long[MAX_COUNTED_REASON + 1];
    /** Port I/O exits per port, when {@link #countPorts()} asked for them (512 KiB, so not by default). */
    private long[] exitsByPort;

    /** The exit reasons counted one by one by {@link #exits(int)}; larger ones share this slot. */
    public static final int MAX_COUNTED_REASON = 63;

    /**
     * Creates the runner of one vCPU.
     *
     * @param vcpu the vCPU
     * @param dispatcher this vCPU's own dispatcher over the shared buses
     * @param handler what the exits that are not bus I/O mean
     */
    public VcpuRunner(Vcpu vcpu, ExitDispatcher dispatcher, ExitHandler handler) {
        this.vcpu = Objects.requireNonNull(vcpu, "vcpu");
        this.dispatcher = Objects.requireNonNull(dispatcher, "dispatcher");
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** {@return the vCPU this runner runs} */
    public Vcpu vcpu() {
        return vcpu;
    }

    /**
     * Runs the vCPU until the handler answers {@link Step#STOP} or {@link #stop()} is called.
     *
     * @return the exit the handler stopped at, or the last exit (normally {@link VcpuExit.Interrupted}) when
     *         {@link #stop()} ended the run; {@code null} if the run was stopped before the vCPU entered the
     *         guest. The exit object is reused by the vCPU's next run.
     * @throws ErrnoException if {@code KVM_RUN} or an ioctl of the handler fails
     */
    public VcpuExit run() throws ErrnoException {
        VcpuExit exit = null;
        while (!stopRequested) {
            exit = vcpu.run();
            if (!(exit instanceof VcpuExit.Interrupted)) {
                guestExits++;
            }
            exitsByReason[countSlot(exit.reason())]++;
            Step step = switch (exit) {
                case VcpuExit.Io io when !handler.claims(io) -> {
                    if (exitsByPort != null) {
                        exitsByPort[io.port() & 0xffff]++;
                    }
                    dispatcher.pio(io.port(), io.size(), io.isIn(), io.data(), io.count());
                    yield Step.CONTINUE;
                }
                case VcpuExit.Mmio m -> {
                    dispatcher.mmio(m.address(), m.length(), m.isWrite(), m.data());
                    yield Step.CONTINUE;
                }
                default -> handler.handle(exit);
            };
            if (step == Step.STOP) {
                return exit;
            }
        }
        return exit;
    }

    /**
     * Makes {@link #run()} return: sets the stop flag and kicks the vCPU out of {@code KVM_RUN}. Safe from any
     * thread; a stopped runner stays stopped.
     */
    public void stop() {
        stopRequested = true;
        vcpu.kick();
    }

    /** {@return whether {@link #stop()} was called} */
    public boolean stopped() {
        return stopRequested;
    }

    /**
     * How many exits of one KVM exit reason this runner has seen, kicks ({@code KVM_EXIT_INTR}) included. Read it
     * from the running thread or after the run ended (the counts are plain fields).
     *
     * @param reason a {@code KVM_EXIT_*} value; {@link #MAX_COUNTED_REASON} counts that reason and all larger ones
     * @return the count
     */
    public long exits(int reason) {
        return exitsByReason[countSlot(reason)];
    }

    /** A kick ({@link VcpuExit.Interrupted}, reason -1) is KVM's {@code KVM_EXIT_INTR}: KVM_RUN's EINTR sets it. */
    private static int countSlot(int reason) {
        return reason < 0 ? KVM_EXIT_INTR : Math.min(reason, MAX_COUNTED_REASON);
    }

    private static final int KVM_EXIT_INTR = 10;

    /** Counts the port I/O exits the bus handles per port from now on ({@link #exitsAtPort}); call before {@link #run()}. */
    public void countPorts() {
        if (exitsByPort == null) {
            exitsByPort = new long[0x10000];
        }
    }

    /** {@return the port I/O exits at {@code port} the bus handled since {@link #countPorts()}, 0 without it} */
    public long exitsAtPort(int port) {
        return exitsByPort == null ? 0 : exitsByPort[port & 0xffff];
    }

    /** {@return the exits the guest made through this runner, not counting kicks} */
    public long guestExits() {
        return guestExits;
    }
}
