package dev.panavirt.machine;

import dev.panavirt.kvm.Vcpu;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Stops the world for a moment: parks every vCPU thread outside {@code KVM_RUN} (a kick, then a wait until each
 * has seen it) so that one thread can read all vCPUs' state at once, then lets them run again. A vCPU thread
 * calls {@link #park()} when its run loop sees the kick; {@link Machine}'s idle check is the one user today.
 */
final class VcpuPause {
    private final List<Vcpu> vcpus;
    /** Guards {@link #parked} and {@link #live}; vCPU threads wait on it while parked. */
    private final Object gate = new Object();
    private volatile boolean requested;
    private volatile boolean stopping;
    private int parked;
    private int live;

    VcpuPause(List<Vcpu> vcpus) {
        this.vcpus = vcpus;
    }

    /** {@code n} vCPU threads are about to run. */
    void started(int n) {
        synchronized (gate) {
            live = n;
        }
    }

    /** A vCPU thread has left its run loop for good. */
    void ended() {
        synchronized (gate) {
            live--;
            gate.notifyAll();
        }
    }

    /** Whether a pause is under way (checked by a vCPU thread after a kick). */
    boolean requested() {
        return requested;
    }

    /** On a vCPU thread, after a kick: waits outside {@code KVM_RUN} while the pause lasts. */
    void park() {
        synchronized (gate) {
            parked++;
            gate.notifyAll();
            try {
                while (requested && !stopping) {
                    gate.wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                parked--;
            }
        }
    }

    /**
     * Asks every vCPU thread to park and waits until all live ones have. Call {@link #resume()} afterwards in
     * every case.
     *
     * @return false if that took longer than {@code timeoutMs} or the run is ending
     */
    boolean pauseAll(long timeoutMs) throws InterruptedException {
        requested = true;
        for (Vcpu c : vcpus) {
            c.kick();
        }
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        synchronized (gate) {
            while (parked < live && !stopping) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(gate, left);
            }
            return !stopping;
        }
    }

    /** Ends a pause: parked threads go back into their run loops. */
    void resume() {
        synchronized (gate) {
            requested = false;
            gate.notifyAll();
        }
    }

    /** The run is ending: parked threads leave and no pause waits any longer. */
    void stop() {
        stopping = true;
        synchronized (gate) {
            gate.notifyAll();
        }
    }
}
