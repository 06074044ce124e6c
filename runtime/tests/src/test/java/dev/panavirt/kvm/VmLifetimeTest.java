package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.fd.EventFd;
import dev.panavirt.machine.X86Boot;
import dev.panavirt.testsupport.KvmTest;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Lifetimes of a VM's resources: closing a VM under a running guest kicks it out and neither hangs nor crashes,
 * and every descriptor and mapping a VM took is gone once it closes, counted in /proc/self/fd and /proc/self/maps.
 */
@KvmTest
class VmLifetimeTest {
    private static final int SPIN_ROUNDS = 1_000;
    /**
     * VMs created and closed in the default run: creating and destroying one with an irqchip, two slots, an
     * irqfd, an ioeventfd and a vCPU takes about 35 ms on the paravirtual KVM here (4.6 ms for a bare VM), so
     * the 10,000 (356 s here) are the {@code long} run's.
     */
    private static final int VMS = 1_000;
    private static final int VMS_LONG = 10_000;
    private static final long RAM = 1 << 20;
    /** Real mode at 0x7c00: {@code jmp $}. */
    private static final byte[] SPIN = {(byte) 0xeb, (byte) 0xfe};
    /**
     * Real mode at 0x7c00: spin until the byte at 0x7e00 is non-zero, then {@code hlt}:
     * {@code mov al,[0x7e00]; test al,al; jz 0x7c00; hlt}.
     */
    private static final byte[] SPIN_UNTIL_FLAG = {(byte) 0xa0, 0x00, 0x7e, (byte) 0x84, (byte) 0xc0, 0x74,
            (byte) 0xf9, (byte) 0xf4};

    /** What this process holds of KVM: descriptors and mappings, with the totals. */
    record Held(long fds, long kvmFds, long eventFds, long maps, long guestMaps) {
        static Held now() throws IOException {
            long fds = 0;
            long kvm = 0;
            long event = 0;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : s.toList()) {
                    fds++;
                    String target;
                    try {
                        target = Files.readSymbolicLink(p).toString();
                    } catch (IOException gone) {
                        continue;   // the directory stream's own descriptor
                    }
                    kvm += target.startsWith("anon_inode:kvm") ? 1 : 0;
                    event += target.equals("anon_inode:[eventfd]") ? 1 : 0;
                }
            }
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            // guest RAM is MAP_SHARED anonymous memory ("/dev/zero (deleted)"); kvm_run areas name their vCPU
            long guest = maps.stream().filter(l -> l.contains("/dev/zero") || l.contains("kvm-vcpu")).count();
            return new Held(fds, kvm, event, maps.size(), guest);
        }
    }

    private static Vcpu realModeGuest(Vm vm, byte[] code) throws Exception {
        vm.addMemory(0, 0, RAM, 0);
        vm.memory().write(0x7c00, code);
        Vcpu cpu = vm.createVcpu(0);
        X86Boot.realMode(cpu, 0x7c0, 0);
        return cpu;
    }

    /** Runs {@code cpu} until run() throws; the throwable (an IllegalStateException once the VM closed) lands in {@code end}. */
    private static Thread runUntilClosed(Vcpu cpu, AtomicReference<Throwable> end, AtomicReference<VcpuExit> odd,
            Runnable before) {
        return Thread.ofPlatform().name("vcpu-" + cpu.id()).start(() -> {
            before.run();
            try {
                for (;;) {
                    VcpuExit exit = cpu.run();
                    if (!(exit instanceof VcpuExit.Interrupted)) {
                        odd.compareAndSet(null, exit);
                    }
                }
            } catch (Throwable t) {
                end.set(t);
            }
        });
    }

    private static void awaitRunning(Vcpu cpu) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cpu.isRunning()) {
            assertTrue(System.nanoTime() - deadline < 0, "the vCPU thread never entered KVM_RUN");
            Thread.sleep(0, 50_000);
        }
    }

    @Test
    void closingUnderASpinningGuestKicksItOutAndLeavesNothing() throws Exception {
        try (Kvm kvm = Kvm.open()) {
            Held before = null;
            long t0 = 0;
            for (int round = -20; round < SPIN_ROUNDS; round++) {   // 20 rounds to warm up before the baseline
                if (round == 0) {
                    before = Held.now();
                    t0 = System.nanoTime();
                }
                AtomicReference<Throwable> end = new AtomicReference<>();
                AtomicReference<VcpuExit> odd = new AtomicReference<>();
                Thread thread;
                Vcpu cpu;
                try (Vm vm = kvm.createVm()) {
                    cpu = realModeGuest(vm, SPIN);
                    thread = runUntilClosed(cpu, end, odd, () -> { });
                    // two rounds in three close a guest that is inside KVM_RUN; the third races its entry
                    if (round % 3 != 0) {
                        awaitRunning(cpu);
                    }
                    assertTrue(vm.close(Vm.CLOSE_WAIT), "round " + round + ": a vCPU did not leave KVM_RUN");
                    assertFalse(vm.memory().isMapped(0x7c00, 1), "memory still mapped after close");
                    assertThrows(IllegalStateException.class, () -> vm.memory().readByte(0x7c00));
                }
                thread.join(TimeUnit.SECONDS.toMillis(10));
                assertFalse(thread.isAlive(), "round " + round + ": the vCPU thread hangs after close");
                assertInstanceOf(IllegalStateException.class, end.get(), "round " + round + ": " + end.get());
                assertEquals("vcpu 0 is closed", end.get().getMessage());
                assertNull(odd.get(), "round " + round + ": the spinning guest made an exit");
                assertFalse(cpu.isRunning());
                cpu.kick();   // after close: nothing to interrupt, no signal to a thread that ran it once
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Held after = Held.now();
            System.out.printf("%d VMs closed under a spinning guest in %d ms; held before %s, after %s%n",
                    SPIN_ROUNDS, ms, before, after);
            assertEquals(before.kvmFds(), after.kvmFds(), "KVM descriptors left open");
            assertEquals(before.fds(), after.fds(), "descriptors left open");
            assertEquals(before.guestMaps(), after.guestMaps(), "guest RAM or kvm_run mappings left");
        }
    }

    @Test
    void vmsWithMemoryIrqfdAndIoeventfdLeaveNothingBehind() throws Exception {
        createAndClose(VMS);
    }

    @Test
    @org.junit.jupiter.api.Tag("long")
    void tenThousandVmsWithMemoryIrqfdAndIoeventfdLeaveNothingBehind() throws Exception {
        createAndClose(VMS_LONG);
    }

    private static void createAndClose(int vms) throws Exception {
        try (Kvm kvm = Kvm.open()) {
            Held before = null;
            long t0 = 0;
            for (int i = -20; i < vms; i++) {
                if (i == 0) {
                    before = Held.now();
                    t0 = System.nanoTime();
                }
                try (Vm vm = kvm.createVm()) {
                    vm.createIrqchip();
                    vm.addMemory(0, 0, RAM, 0);
                    vm.addMemory(1, 0x100000, RAM, 0, true);   // a memfd slot as well
                    EventFd irq = vm.own(EventFd.create(0));
                    vm.registerIrqfd(irq, 5, null);
                    EventFd io = vm.own(EventFd.create(0));
                    vm.registerIoeventfd(io, IoEventAddress.pio(0x400), 4, Datamatch.ANY);
                    vm.createVcpu(0);
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Held after = Held.now();
            System.out.printf("%d VMs with memory, irqfd, ioeventfd and a vCPU in %d ms; held before %s, after %s%n",
                    vms, ms, before, after);
            assertEquals(before.kvmFds(), after.kvmFds(), "KVM descriptors left open");
            assertEquals(before.eventFds(), after.eventFds(), "eventfds left open");
            assertEquals(before.fds(), after.fds(), "descriptors left open");
            assertEquals(before.guestMaps(), after.guestMaps(), "guest RAM or kvm_run mappings left");
        }
    }

    @Test
    void removingASlotUnmapsItAtOnce() throws Exception {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Held before = Held.now();
            MemoryRegion r = vm.addMemory(3, 0x200000, RAM, 0);
            assertEquals(before.guestMaps() + 1, Held.now().guestMaps());
            vm.removeMemory(3);
            assertEquals(before.guestMaps(), Held.now().guestMaps(), "the slot's mapping outlived its removal");
            assertThrows(IllegalStateException.class, () -> r.memory().get(ValueLayout.JAVA_BYTE, 0));
            assertFalse(vm.memory().isMapped(0x200000, 1));
            // a slot KVM refuses (past the slots KVM has) leaves no mapping either
            int beyond = vm.checkExtension(Cap.NR_MEMSLOTS) + 10;
            assertThrows(dev.panavirt.base.ErrnoException.class, () -> vm.addMemory(beyond, 0x400000, RAM, 0));
            assertEquals(before.guestMaps(), Held.now().guestMaps(), "a refused slot kept its mapping");
        }
    }

    /** {@code pthread_sigmask(SIG_BLOCK, {SIGPIPE}, NULL)}: the kick's signal cannot reach the calling thread. */
    private static void blockKickSignal() {
        try (Arena a = Arena.ofConfined()) {
            MethodHandle sigmask = Linker.nativeLinker().downcallHandle(
                    Linker.nativeLinker().defaultLookup().find("pthread_sigmask").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                            ValueLayout.ADDRESS));
            MemorySegment set = a.allocate(128);
            set.set(ValueLayout.JAVA_LONG, 0, 1L << (13 - 1));   // SIGPIPE
            int rc = (int) sigmask.invokeExact(0 /* SIG_BLOCK */, set, MemorySegment.NULL);
            assertEquals(0, rc, "pthread_sigmask");
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Test
    void aVcpuThatCannotBeKickedKeepsItsMemoryUntilItLeaves() throws Exception {
        try (Kvm kvm = Kvm.open()) {
            Held before = Held.now();
            AtomicReference<Throwable> end = new AtomicReference<>();
            AtomicReference<VcpuExit> odd = new AtomicReference<>();
            CountDownLatch blocked = new CountDownLatch(1);
            Vm vm = kvm.createVm();
            Vcpu cpu = realModeGuest(vm, SPIN_UNTIL_FLAG);
            long flag = vm.memory().region(0).orElseThrow().memory().address() + 0x7e00;
            Thread thread = runUntilClosed(cpu, end, odd, () -> {
                blockKickSignal();
                blocked.countDown();
            });
            assertTrue(blocked.await(10, TimeUnit.SECONDS));
            awaitRunning(cpu);
            Thread.sleep(20);   // well inside the guest's loop

            assertFalse(vm.close(Duration.ofMillis(200)), "the vCPU should still be inside KVM_RUN");
            assertTrue(cpu.isRunning());
            assertTrue(thread.isAlive());
            assertFalse(vm.memory().isMapped(0x7c00, 1), "the VM's memory view is empty once closed");
            assertEquals(before.guestMaps() + 2, Held.now().guestMaps(),
                    "RAM and kvm_run stay mapped while the guest may still use them");

            // the mapping is still there, so the guest sees this write and halts: KVM_RUN returns
            MemorySegment.ofAddress(flag).reinterpret(1).set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            thread.join(TimeUnit.SECONDS.toMillis(10));
            assertFalse(thread.isAlive(), "the vCPU thread did not end after its guest halted");
            assertInstanceOf(IllegalStateException.class, end.get(), String.valueOf(end.get()));
            assertNull(odd.get(), "the exit after close comes back as Interrupted, kvm_run unread");
            Held after = Held.now();
            assertEquals(before.guestMaps(), after.guestMaps(), "the last vCPU out unmaps what close left");
            assertEquals(before.kvmFds(), after.kvmFds(), "KVM descriptors left open");
            assertTrue(vm.close(Vm.CLOSE_WAIT), "a second close reports everything released");
        }
    }

    private static final MethodHandle NANOSLEEP = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("nanosleep").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    /** nanosleep(2) for {@code ms}: 0 when it slept the whole time, -1 when a signal cut it short (EINTR). */
    private static int nanosleep(long ms) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ts = a.allocate(16);
            ts.set(ValueLayout.JAVA_LONG, 0, ms / 1000);
            ts.set(ValueLayout.JAVA_LONG, 8, ms % 1000 * 1_000_000);
            return (int) NANOSLEEP.invokeExact(ts, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Test
    void aKickSignalsOnlyAThreadInsideRun() throws Exception {
        try (Kvm kvm = Kvm.open()) {
            Vm vm = kvm.createVm();
            Vcpu cpu = realModeGuest(vm, new byte[] {(byte) 0xf4});   // hlt
            java.util.concurrent.Phaser phase = new java.util.concurrent.Phaser(2);
            int[] rc = new int[3];
            AtomicReference<Object> first = new AtomicReference<>();
            java.util.concurrent.atomic.AtomicInteger tid = new java.util.concurrent.atomic.AtomicInteger();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    first.set(cpu.run());   // the thread that last ran the vCPU
                } catch (Throwable e) {
                    first.set(e);
                }
                tid.set(dev.panavirt.sys.Libc.gettid());
                for (int i = 0; i < 3; i++) {
                    phase.arriveAndAwaitAdvance();
                    rc[i] = nanosleep(400);
                }
            });
            // 0: the vCPU is open but nobody is inside run(): a kick sets immediate_exit, signals nobody
            phase.arriveAndAwaitAdvance();
            Thread.sleep(100);
            cpu.kick();
            // 1: after close
            phase.arriveAndAwaitAdvance();
            assertTrue(vm.close(Vm.CLOSE_WAIT));
            Thread.sleep(100);
            cpu.kick();
            // 2: the control: the kick's signal itself does cut the sleep short
            phase.arriveAndAwaitAdvance();
            Thread.sleep(100);
            dev.panavirt.sys.Libc.tgkill(dev.panavirt.sys.Scratch.capture(), dev.panavirt.sys.Libc.getpid(), tid.get(),
                    dev.panavirt.sys.Libc.SIGPIPE);
            t.join(TimeUnit.SECONDS.toMillis(10));
            assertFalse(t.isAlive());
            assertEquals(VcpuExit.Hlt.INSTANCE, first.get());
            assertEquals(0, rc[0], "a kick signalled the thread that ran the vCPU after it left run()");
            assertEquals(0, rc[1], "a kick after close signalled the thread that last ran the vCPU");
            assertEquals(-1, rc[2], "the control: SIGPIPE interrupts nanosleep");
        }
    }
}
