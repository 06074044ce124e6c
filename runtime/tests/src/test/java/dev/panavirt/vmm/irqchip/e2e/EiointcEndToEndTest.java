package dev.panavirt.vmm.irqchip.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.loongarch64.kvm_h;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.models.loongarch.EiointcDevice;
import dev.panavirt.models.loongarch.EiointcRegisters.Register;
import dev.panavirt.models.loongarch.EiointcRegisters;
import dev.panavirt.models.loongarch.EiointcState;
import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.Symbols;
import dev.panavirt.replay.targets.EiointcSessionTarget;
import dev.panavirt.testkit.TestGuest.Stop;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A real x86 guest under KVM drives the LoongArch EIOINTC model through an MMIO window that maps its IOCSR
 * space (main block at window offset 0, the V-EIOINTC page at 0x1000): it turns on the virt extension with
 * encoded routing, sets node types, IP map, core map and enable bits with 1-, 2-, 4- and 8-byte accesses,
 * and acknowledges vectors the host raises by reading COREISR and writing it back. The host raises and
 * lowers lines at the guest's sync points and chooses which model vCPU the window accesses come from.
 *
 * <p>Everything is written down as a session script (IOCSR addresses, the values the guest read, accesses
 * the model refused, host {@code irq}, {@code vcpu-load} and state checks) and replayed on a fresh model;
 * both models must end in the same snapshot.
 */
@KvmTest
class EiointcEndToEndTest {
    private static final Duration T = Duration.ofSeconds(10);

    static final long WINDOW = 0xd000_0000L;
    static final int VCPUS = 4;

    private static final String GUEST = """
            #define EIO 0xd0000000ull          /* window offset = IOCSR address - 0x1400 in the main block */
            #define NODETYPE 0x0a0
            #define IPMAP 0x0c0
            #define ENABLE 0x200
            #define BOUNCE 0x280
            #define COREISR 0x400
            #define COREMAP 0x800
            #define VIRT_FEATURES 0x1000       /* IOCSR 0x40000000 */
            #define VIRT_CONFIG 0x1004

            int main(void) {
                GUEST_ASSERT_EQ(mmio_read32(EIO + VIRT_FEATURES), 0xf);
                GUEST_ASSERT_EQ(mmio_read32(EIO + VIRT_CONFIG), 0);
                mmio_write32(EIO + VIRT_FEATURES, 0);            /* read-only: refused */
                mmio_write32(EIO + VIRT_CONFIG, 0xe);            /* ENABLE | INT_ENCODE | CPU_ENCODE */
                GUEST_ASSERT_EQ(mmio_read32(EIO + VIRT_CONFIG), 0xe);
                mmio_write32(EIO + VIRT_CONFIG, 0x2);            /* once enabled only 0 is taken: refused */
                GUEST_ASSERT_EQ(mmio_read32(EIO + VIRT_CONFIG), 0xe);
                GUEST_ASSERT_EQ(mmio_read64(EIO + VIRT_FEATURES), 0xf); /* the page answers a u32 */

                mmio_write16(EIO + NODETYPE, 0x0001);
                mmio_write16(EIO + NODETYPE + 2, 0x0002);
                GUEST_ASSERT_EQ(mmio_read32(EIO + NODETYPE), 0x00020001);
                mmio_write8(EIO + BOUNCE + 5, 0x80);
                GUEST_ASSERT_EQ(mmio_read64(EIO + BOUNCE), 0x0000800000000000ull);

                /* Encoded routing: an IPMAP byte per 32 vectors is the pin, a COREMAP byte the CPU. */
                mmio_write8(EIO + IPMAP + 1, 1);                 /* 32..63 -> IP1 */
                mmio_write16(EIO + IPMAP + 2, 0x0302);           /* 64..95 -> IP2, 96..127 -> IP3 */
                GUEST_ASSERT_EQ(mmio_read64(EIO + IPMAP), 0x03020100);
                mmio_write8(EIO + COREMAP + 37, 2);              /* 37 -> CPU 2 */
                mmio_write32(EIO + COREMAP + 64, 0x03020100);    /* 64..67 -> CPU 0..3 */
                mmio_write16(EIO + COREMAP + 100, 0x0101);       /* 100, 101 -> CPU 1 */
                GUEST_ASSERT_EQ(mmio_read64(EIO + COREMAP + 64), 0x03020100);
                GUEST_ASSERT_EQ(mmio_read8(EIO + COREMAP + 37), 2);
                GUEST_ASSERT_EQ(mmio_read16(EIO + COREMAP + 100), 0x0101);

                mmio_write64(EIO + ENABLE, 0xffffffff00000000ull);   /* 32..63 */
                mmio_write32(EIO + ENABLE + 8, 0xffffffff);          /* 64..95 */
                mmio_write16(EIO + ENABLE + 12, 0xffff);             /* 96..111 */
                GUEST_ASSERT_EQ(mmio_read64(EIO + ENABLE + 8), 0x0000ffffffffffffull);
                GUEST_ASSERT_EQ(mmio_read16(EIO + COREISR + 1), 0);  /* misaligned: refused, reads 0 */
                GUEST_SYNC(1);                  /* the host raises 37, 64 and 100 */

                u64 isr = mmio_read64(EIO + COREISR + 8);    /* as vCPU 0: vector 64 */
                GUEST_ASSERT_EQ(isr, 1);
                mmio_write64(EIO + COREISR + 8, isr);        /* write 1 to clear */
                GUEST_ASSERT_EQ(mmio_read64(EIO + COREISR + 8), 0);
                GUEST_SYNC(2);                  /* the host lowers 64; the window now speaks for vCPU 2 */

                u32 w = mmio_read32(EIO + COREISR + 4);      /* vector 37: bit 5 of the upper half */
                GUEST_ASSERT_EQ(w, 0x20);
                mmio_write32(EIO + COREISR + 4, w);
                GUEST_SYNC(3);                  /* the window now speaks for vCPU 1 */

                u8 b = mmio_read8(EIO + COREISR + 12);       /* vector 100: bit 4 of byte 12 */
                GUEST_ASSERT_EQ(b, 0x10);
                mmio_write8(EIO + COREISR + 12, b);
                GUEST_SYNC(4);                  /* the host raises 65 (CPU 1, IP2) */

                GUEST_ASSERT_EQ(mmio_read16(EIO + COREISR + 8), 2);
                mmio_write8(EIO + COREMAP + 65, 3);          /* re-route the asserted vector to CPU 3 */
                GUEST_ASSERT_EQ(mmio_read16(EIO + COREISR + 8), 0);
                return 0;
            }
            """;

    /** The names `panavirt replay --device eiointc` knows: register names at their IOCSR addresses. */
    static final Symbols SYMBOLS;

    static {
        Map<String, Long> names = new HashMap<>();
        for (Register r : Register.values()) {
            names.put(r.name(), EiointcRegisters.EIOINTC_BASE + r.start());
        }
        names.put("VIRT_FEATURES", EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_FEATURES);
        names.put("VIRT_CONFIG", EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_CONFIG);
        SYMBOLS = Symbols.of(names, kvm_h.class, EiointcRegisters.class);
    }

    /** A script number: 0x hex, decimal, or a name from {@link #SYMBOLS}. */
    static long value(String name) {
        if (name.startsWith("0x")) {
            return Long.parseUnsignedLong(name.substring(2), 16);
        }
        if (Character.isDigit(name.charAt(0))) {
            return Long.parseLong(name);
        }
        return SYMBOLS.get(name).orElseThrow(() -> new IllegalArgumentException("unknown name " + name));
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /** The script name of an IOCSR address: {@code REGISTER+N} or a V-EIOINTC name, else hex. */
    static String register(long iocsr) {
        if (EiointcRegisters.inMainBlock(iocsr, 1)) {
            Register r = Register.at(iocsr - EiointcRegisters.EIOINTC_BASE);
            if (r != null) {
                long delta = iocsr - EiointcRegisters.EIOINTC_BASE - r.start();
                return delta == 0 ? r.name() : r.name() + "+" + delta;
            }
        } else if (iocsr == EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_FEATURES) {
            return "VIRT_FEATURES";
        } else if (iocsr == EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_CONFIG) {
            return "VIRT_CONFIG";
        }
        return hex(iocsr);
    }

    /**
     * The EIOINTC window on the guest's MMIO bus: forwards every access to the model's bus window as the
     * selected vCPU and writes it down by IOCSR address; an access the model refused (the bus read 0 or
     * dropped the write) must fail with an errno in the replay. Host operations go through the same object so
     * the script keeps their order.
     */
    static final class RecordingWindow implements BusDevice {
        final EiointcSessionTarget target;
        final EiointcDevice device;
        final SessionScript script;
        private final BusDevice[] views = new BusDevice[VCPUS];
        int vcpu;
        long exits;

        RecordingWindow(EiointcSessionTarget target, SessionScript script) {
            this.target = target;
            this.device = target.device();
            this.script = script;
            for (int i = 0; i < VCPUS; i++) {
                views[i] = BusDevice.of(i == 0 ? device : device.busFor(i));
            }
        }

        private static long iocsr(long offset) {
            long a = EiointcRegisters.iocsrAddress(offset);
            if (a < 0) {
                throw new AssertionError("window offset 0x" + Long.toHexString(offset) + " maps no IOCSR address");
            }
            return a;
        }

        @Override
        public void read(long base, long offset, MemorySegment data) {
            exits++;
            long refusedBefore = device.rejectedAccesses();
            views[vcpu].read(base, offset, data);
            String op = "read " + register(iocsr(offset)) + " " + data.byteSize();
            if (device.rejectedAccesses() != refusedBefore) {
                script.failingOp(op, "refused: the guest read " + hex(BusData.get(data)));
            } else {
                script.op(op + " expect " + hex(BusData.get(data)), null);
            }
        }

        @Override
        public void write(long base, long offset, MemorySegment data) {
            exits++;
            long refusedBefore = device.rejectedAccesses();
            views[vcpu].write(base, offset, data);
            String op = "write " + register(iocsr(offset)) + " " + data.byteSize() + " " + hex(BusData.get(data));
            if (device.rejectedAccesses() != refusedBefore) {
                script.failingOp(op, "refused: dropped");
            } else {
                script.op(op, null);
            }
        }

        void attrSet(String group, String attr, long value, int size, String note) throws ErrnoException {
            target.setAttr((int) value(group), value(attr), value, size);
            script.op("attr-set " + group + " " + attr + " " + hex(value) + " " + size, note);
        }

        void irq(int line, boolean level, String note) throws ErrnoException {
            target.setIrq(line, level);
            script.op("irq " + line + " " + (level ? 1 : 0), note);
        }

        /** The guest's next window accesses come from model vCPU {@code n}. */
        void accessAs(int n) throws ErrnoException {
            target.vcpuLoad(n);
            vcpu = n;
            script.op("vcpu-load " + n, "window accesses now come from vCPU " + n);
        }

        void state(String expected) {
            assertEquals(expected, target.state());
            script.op("state expect \"" + expected + "\"", null);
        }
    }

    @Test
    void guestRoutesAndAcknowledgesAndTheReplayedScriptEndsInTheSameState() throws Exception {
        GuestImage image = Guests.c(GUEST);
        SessionScript script = new SessionScript();
        script.comment("LoongArch EIOINTC model (" + VCPUS + " vCPUs) driven by an x86 guest under KVM through an MMIO");
        script.comment("window onto its IOCSR space, recorded by " + EiointcEndToEndTest.class.getSimpleName());
        EiointcState guestState;
        String guestLine;
        long readExits;
        long writeExits;
        long refused;
        long exits;
        long guestNanos;
        try (TestGuest g = TestGuest.longMode(image)) {
            EiointcSessionTarget target = EiointcSessionTarget.create(VCPUS);
            RecordingWindow window = new RecordingWindow(target, script);
            g.mmio().insert(window, WINDOW, EiointcRegisters.WINDOW_SIZE);

            long start = System.nanoTime();
            script.comment("host: set the device up as KVM's userspace does");
            window.attrSet("KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL", "KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU", VCPUS, 4,
                    null);
            window.attrSet("KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL", "KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE",
                    EiointcRegisters.ALL_FEATURES, 4, "virt extension, enable option, INT and CPU encoding");

            script.comment("guest (as vCPU 0): virt extension on, node types, bounce, IP map, core map, enables");
            assertEquals(new Stop(StopKind.SYNC, 1), g.next(0, T));
            script.comment("host: raise 37 (CPU 2, IP1), 64 (CPU 0, IP2), 100 (CPU 1, IP3)");
            window.irq(37, true, null);
            window.irq(64, true, null);
            window.irq(100, true, null);
            window.state("asserted vcpu0.ip2 vcpu1.ip3 vcpu2.ip1");

            script.comment("guest: acknowledge vector 64 on vCPU 0 with 8-byte accesses");
            assertEquals(new Stop(StopKind.SYNC, 2), g.next(0, T));
            window.state("asserted vcpu1.ip3 vcpu2.ip1");
            window.irq(64, false, "the device drops the line");
            window.accessAs(2);

            script.comment("guest: acknowledge vector 37 on vCPU 2 with 4-byte accesses");
            assertEquals(new Stop(StopKind.SYNC, 3), g.next(0, T));
            window.state("asserted vcpu1.ip3");
            window.accessAs(1);

            script.comment("guest: acknowledge vector 100 on vCPU 1 with 1-byte accesses");
            assertEquals(new Stop(StopKind.SYNC, 4), g.next(0, T));
            window.state("asserted none");
            window.irq(65, true, "CPU 1, IP2");
            window.state("asserted vcpu1.ip2");

            script.comment("guest: re-route the asserted vector 65 to CPU 3");
            assertEquals(0, g.runToDone(0, T));
            window.state("asserted vcpu3.ip2");
            guestNanos = System.nanoTime() - start;

            EiointcDevice d = target.device();
            guestState = d.snapshot();
            guestLine = target.state();
            readExits = d.readExits();
            writeExits = d.writeExits();
            refused = d.rejectedAccesses();
            exits = window.exits;
        }

        // What the guest run left: vector 65 in CPU 3's COREISR, 37 and 100 still high but acknowledged.
        assertEquals(3, refused, "refused accesses: FEATURES write, CONFIG write, misaligned COREISR read");
        assertEquals(1L << 1, guestState.coreisr()[3 * EiointcRegisters.IRQ_WORDS + 1], "vCPU 3 COREISR word 1");
        assertEquals(1L << 37, guestState.isr()[0]);
        assertEquals(1L << 1 | 1L << 36, guestState.isr()[1]);
        assertEquals(3, guestState.swCoremap()[65]);
        assertEquals(0xe, guestState.status());

        String text = script.text();
        System.out.println("---- EIOINTC session recorded from the guest run (" + script.opCount() + " operations, "
                + script.lineCount() + " lines, " + script.failingCount() + " refused) ----");
        System.out.print(text);
        System.out.println("---- end of EIOINTC session ----");

        long start = System.nanoTime();
        EiointcSessionTarget replay = EiointcSessionTarget.create(VCPUS);
        script.replay(replay, SYMBOLS);
        long replayNanos = System.nanoTime() - start;

        assertEquals(guestState, replay.device().snapshot());
        assertEquals(guestLine, replay.state());
        assertEquals(readExits, replay.device().readExits());
        assertEquals(writeExits, replay.device().writeExits());

        // The comparison has teeth: without the re-route the replay ends elsewhere.
        String withoutReroute = text.replaceAll("(?m)^write COREMAP\\+65 1 0x3.*$", "");
        SessionRunner.Outcome tampered = new SessionRunner(EiointcSessionTarget.create(VCPUS), SYMBOLS)
                .run(Script.parse(withoutReroute));
        assertFalse(tampered.passed(), "a replay without the re-route must not match");

        System.out.printf("EIOINTC end to end: %d MMIO exits, guest run %.1f ms, replay %.1f ms%n", exits,
                guestNanos / 1e6, replayNanos / 1e6);
    }
}
