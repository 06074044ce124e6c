package dev.panavirt.vmm.irqchip.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.models.gicv3.ItsCommand;
import dev.panavirt.models.gicv3.ItsDevice;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.Symbols;
import dev.panavirt.replay.targets.ItsSessionTarget;
import dev.panavirt.testkit.TestGuest.Stop;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.BusRange;
import dev.panavirt.vmm.irqchip.VmGuestRam;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A real x86 guest under KVM drives the GICv3 ITS model through MMIO exits: it reads the ID registers,
 * writes LPI properties and commands into its own RAM (a second slot at 0x4000_0000, which the model reads
 * through {@link VmGuestRam}), programs CBASER and the BASERs, enables the ITS, advances CWRITER and polls
 * CREADR. The host places the frame and programs the redistributors through
 * device attributes and injects MSIs before, between and after the guest's command batches.
 *
 * <p>Everything the model saw is written down as a session script (frame accesses with the values the
 * guest read, the guest's RAM as the ITS found it at each register write, the host's attributes and MSIs)
 * and replayed on a fresh model over heap RAM; both models must end in the same state.
 */
@KvmTest
class ItsEndToEndTest {
    private static final Duration T = Duration.ofSeconds(10);

    static final long FRAME = 0x0808_0000L;
    /**
     * The ITS's structures live in a second RAM slot at the QEMU virt machine's RAM base, where
     * {@code panavirt replay --device its} has its heap RAM, so the recorded script replays there as is.
     */
    static final long ITS_RAM = ItsSessionTarget.DEFAULT_RAM_BASE;
    static final long ITS_RAM_SIZE = 0x10_0000L;
    static final long QUEUE = ITS_RAM + 0x1_0000L;
    static final long DEVICE_TABLE = ITS_RAM + 0x2_0000L;
    static final long COLLECTION_TABLE = ITS_RAM + 0x3_0000L;
    static final long PROP = ITS_RAM + 0x4_0000L;
    static final long PEND0 = ITS_RAM + 0x6_0000L;
    static final long PEND1 = ITS_RAM + 0x8_0000L;
    static final long ITT = ITS_RAM + 0xa_0000L;
    static final int VCPUS = 2;
    static final int REDIST = kvm_h.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS();

    private static final String GUEST = """
            #define ITS 0x08080000ull
            #define GITS_CTLR 0x0000
            #define GITS_IIDR 0x0004
            #define GITS_TYPER 0x0008
            #define GITS_CBASER 0x0080
            #define GITS_CWRITER 0x0088
            #define GITS_CREADR 0x0090
            #define GITS_BASER0 0x0100
            #define GITS_BASER1 0x0108
            #define GITS_PIDR2 0xffe8
            #define GITS_TRANSLATER 0x10040
            #define VALID (1ull << 63)

            /* In the second RAM slot, at 0x40000000. */
            #define QUEUE 0x40010000ull
            #define DEVICE_TABLE 0x40020000ull
            #define COLLECTION_TABLE 0x40030000ull
            #define PROP 0x40040000ull
            #define ITT 0x400a0000ull

            static u64 cwriter;

            static void cmd(u64 w0, u64 w1, u64 w2, u64 w3) {
                volatile u64 *c = (volatile u64 *)(QUEUE + cwriter);
                c[0] = w0; c[1] = w1; c[2] = w2; c[3] = w3;
                cwriter += 32;
            }
            static void mapc(u64 icid, u64 rd) { cmd(0x09, 0, VALID | rd << 16 | icid, 0); }
            static void mapd(u64 dev, u64 bits, u64 itt) { cmd(dev << 32 | 0x08, bits - 1, VALID | itt, 0); }
            static void mapti(u64 dev, u64 ev, u64 intid, u64 icid) { cmd(dev << 32 | 0x0a, intid << 32 | ev, icid, 0); }
            static void movi(u64 dev, u64 ev, u64 icid) { cmd(dev << 32 | 0x01, ev, icid, 0); }
            static void event(u64 op, u64 dev, u64 ev) { cmd(dev << 32 | op, ev, 0, 0); }
            static void sync(u64 rd) { cmd(0x05, 0, rd << 16, 0); }

            /* Hands the queued commands to the ITS and waits until it has consumed them. */
            static void go(int wide) {
                u32 spins = 0;
                if (wide) mmio_write64(ITS + GITS_CWRITER, cwriter);
                else mmio_write32(ITS + GITS_CWRITER, (u32)cwriter);
                while (mmio_read64(ITS + GITS_CREADR) != cwriter) {
                    GUEST_ASSERT(++spins < 100);
                    cpu_relax();
                }
                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_CTLR), 0x80000001u); /* quiescent, enabled */
            }

            int main(void) {
                volatile u8 *prop = (volatile u8 *)PROP;

                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_IIDR), 0x4b00043b);      /* KVM, ABI rev 0 */
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_TYPER), 0x1ef71);        /* 16 device/ID bits, 8-byte ITEs */
                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_TYPER + 4), 0);
                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_PIDR2), 0x3b);           /* GICv3 */
                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_CTLR), 0x80000000u);     /* quiescent, disabled */
                GUEST_ASSERT_EQ(mmio_read8(ITS + GITS_CTLR), 0);                /* byte access: ignored */

                /* LPIs 8192..8194 enabled (priorities 0xa0, 0xa0, 0x60), 8195 disabled. */
                prop[0] = 0xa1; prop[1] = 0xa1; prop[2] = 0x61; prop[3] = 0x60;

                mmio_write64(ITS + GITS_CBASER, VALID | QUEUE);                 /* one 4 KiB page */
                mmio_write64(ITS + GITS_BASER0, VALID | DEVICE_TABLE);
                mmio_write32(ITS + GITS_BASER1, (u32)COLLECTION_TABLE);         /* in two halves */
                mmio_write32(ITS + GITS_BASER1 + 4, (u32)(VALID >> 32));
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_CBASER), 0x9800000040010000ull); /* inner NCnB -> RaWb */
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_BASER0), 0x9907000040020200ull); /* device, 8 B, 64 KiB */
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_BASER1), 0x9c07000040030200ull); /* collection */
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_CREADR), 0);
                mmio_write32(ITS + GITS_CTLR, 1);
                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_CTLR), 0x80000001u);

                mapc(0, 0);
                mapc(1, 1);
                mapd(1, 4, ITT);
                mapti(1, 0, 8192, 0);
                mapti(1, 1, 8193, 0);
                mapti(1, 2, 8194, 0);
                mapti(1, 3, 8195, 1);
                sync(0);
                go(1);
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_CREADR), 8 * 32);
                GUEST_SYNC(1);                                  /* the host sends MSIs for events 0 and 1 */

                movi(1, 1, 1);                                  /* 8193 (pending) moves to vCPU 1 */
                event(0x0f, 1, 0);                              /* DISCARD 8192 */
                event(0x03, 1, 2);                              /* INT: 8194 pending */
                mapti(7, 0, 8200, 0);                           /* device 7 is not mapped: E_ITS_MAPTI_UNMAPPED_DEVICE */
                event(0x0c, 1, 3);                              /* INV */
                sync(1);
                go(0);                                          /* a 32-bit CWRITER write this time */
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_CREADR), 14 * 32);
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_CWRITER), 14 * 32);

                mmio_write64(ITS + GITS_CBASER, 0);             /* ignored while enabled */
                GUEST_ASSERT_EQ(mmio_read64(ITS + GITS_CBASER), 0x9800000040010000ull);
                mmio_write32(ITS + GITS_TRANSLATER, 2);         /* KVM does not decode the doorbell */
                GUEST_ASSERT_EQ(mmio_read32(ITS + GITS_TRANSLATER), 0);
                return 0;
            }
            """;

    /** The commands the guest queues, built with the model's own encoders. */
    static final List<long[]> COMMANDS = List.of(
            ItsCommand.mapc(0, 0, true), ItsCommand.mapc(1, 1, true), ItsCommand.mapd(1, 4, ITT, true),
            ItsCommand.mapti(1, 0, 8192, 0), ItsCommand.mapti(1, 1, 8193, 0), ItsCommand.mapti(1, 2, 8194, 0),
            ItsCommand.mapti(1, 3, 8195, 1), ItsCommand.sync(0),
            ItsCommand.movi(1, 1, 1), ItsCommand.event(ItsCommand.DISCARD, 1, 0), ItsCommand.event(ItsCommand.INT, 1, 2),
            ItsCommand.mapti(7, 0, 8200, 0), ItsCommand.event(ItsCommand.INV, 1, 3), ItsCommand.sync(1));

    /** The names `panavirt replay --device its` knows. */
    static final Symbols SYMBOLS = Symbols.of(Map.of(), kvm_h.class, ItsRegisters.class, Redistributors.class);

    /** Register names for the script, with the span each one covers (NAME+N inside it). */
    private static final TreeMap<Long, String> NAMES = new TreeMap<>();
    private static final Map<String, Integer> SPANS = Map.of("GITS_TYPER", 8, "GITS_CBASER", 8, "GITS_CWRITER", 8,
            "GITS_CREADR", 8, "GITS_BASER", 8 * ItsRegisters.GITS_BASER_COUNT);

    static {
        NAMES.put((long) ItsRegisters.GITS_CTLR, "GITS_CTLR");
        NAMES.put((long) ItsRegisters.GITS_IIDR, "GITS_IIDR");
        NAMES.put((long) ItsRegisters.GITS_TYPER, "GITS_TYPER");
        NAMES.put((long) ItsRegisters.GITS_CBASER, "GITS_CBASER");
        NAMES.put((long) ItsRegisters.GITS_CWRITER, "GITS_CWRITER");
        NAMES.put((long) ItsRegisters.GITS_CREADR, "GITS_CREADR");
        NAMES.put((long) ItsRegisters.GITS_BASER, "GITS_BASER");
        NAMES.put((long) ItsRegisters.GITS_PIDR2, "GITS_PIDR2");
        NAMES.put((long) ItsRegisters.GITS_TRANSLATER, "GITS_TRANSLATER");
    }

    static String register(long offset) {
        Map.Entry<Long, String> e = NAMES.floorEntry(offset);
        if (e != null) {
            long delta = offset - e.getKey();
            if (delta == 0) {
                return e.getValue();
            }
            if (delta < SPANS.getOrDefault(e.getValue(), 4)) {
                return e.getValue() + "+" + delta;
            }
        }
        return hex(offset);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /**
     * The ITS frame on the guest's MMIO bus: forwards every access to the model and writes it down, after
     * first writing down what the guest put in the watched RAM (the ITS may read it on any register write).
     * Host operations go through the same object so the script keeps their order.
     */
    static final class RecordingFrame implements BusDevice {
        final ItsSessionTarget target;
        final SessionScript script;
        final GuestRamWatch ram;
        long exits;

        RecordingFrame(ItsSessionTarget target, SessionScript script, GuestRamWatch ram) {
            this.target = target;
            this.script = script;
            this.ram = ram;
        }

        @Override
        public void read(long base, long offset, MemorySegment data) {
            exits++;
            BusData.set(data, target.device().mmioRead(offset, (int) data.byteSize()));
            script.op("read " + register(offset) + " " + data.byteSize() + " expect " + hex(BusData.get(data)), null);
        }

        @Override
        public void write(long base, long offset, MemorySegment data) {
            exits++;
            ram.record(script);
            target.device().mmioWrite(offset, (int) data.byteSize(), BusData.get(data));
            ram.absorb();
            String note = offset == ItsRegisters.GITS_CWRITER || offset == ItsRegisters.GITS_CWRITER + 4
                    ? "the ITS runs the queue up to here" : null;
            script.op("write " + register(offset) + " " + data.byteSize() + " " + hex(BusData.get(data)), note);
        }

        void attrSet(String group, String attr, long value, int size, String note) throws ErrnoException {
            ram.record(script);
            target.setAttr((int) value(group), value(attr), value, size);
            ram.absorb();
            script.op("attr-set " + group + " " + attr + " " + hex(value) + (size == 8 ? "" : " " + size), note);
        }

        void redist(int vcpu, String register, int offset, long value, int size, String note) throws ErrnoException {
            // attr = MPIDR << 32 | offset; vCPU ids below 16 have MPIDR Aff0 = id.
            long attr = (long) vcpu << 32 | offset;
            attrSet("KVM_DEV_ARM_VGIC_GRP_REDIST_REGS", vcpu == 0 ? register : hex(attr), value, size,
                    "vCPU " + vcpu + " " + register + (note == null ? "" : ": " + note));
        }

        int msi(long deviceId, long eventId, String note) throws ErrnoException {
            long doorbell = FRAME + ItsRegisters.GITS_TRANSLATER;
            int rc = target.signalMsi(doorbell, (int) eventId, (int) deviceId);
            script.op("msi " + hex(doorbell) + " " + eventId + " " + deviceId + " expect " + rc, note);
            return rc;
        }

        void msiRefused(long doorbell, long deviceId, long eventId, String errno, String note) {
            try {
                target.signalMsi(doorbell, (int) eventId, (int) deviceId);
                throw new AssertionError("MSI to " + hex(doorbell) + " was accepted");
            } catch (ErrnoException e) {
                assertEquals(errno, Errno.name(e.errno()));
            }
            script.failingOp("msi " + hex(doorbell) + " " + eventId + " " + deviceId + " expect " + errno, note);
        }

        void state(String note) {
            script.op("state expect \"" + target.state() + "\"", note);
        }
    }

    /** A fresh ITS as `panavirt replay --device its --vcpus 2` makes it: 1 GiB of heap RAM at 0x40000000. */
    static ItsSessionTarget cliTarget() {
        return ItsSessionTarget.create(new HeapGuestRam(ItsSessionTarget.DEFAULT_RAM_BASE,
                ItsSessionTarget.DEFAULT_RAM_SIZE), VCPUS);
    }

    /** A script number: 0x hex or a name from {@link #SYMBOLS}, as the replay reads it. */
    static long value(String name) {
        return name.startsWith("0x") ? Long.parseUnsignedLong(name.substring(2), 16)
                : SYMBOLS.get(name).orElseThrow(() -> new IllegalArgumentException("unknown name " + name));
    }

    private static String describeQueueWord(GuestMemory memory, long gpa) {
        long offset = gpa - QUEUE;
        if (offset % ItsRegisters.COMMAND_SIZE != 0) {
            return null;
        }
        return ItsCommand.opcodeName(ItsCommand.opcode(memory.readLong(gpa))) + " (command "
                + offset / ItsRegisters.COMMAND_SIZE + ")";
    }

    @Test
    void guestProgramsTheItsAndTheReplayedScriptEndsInTheSameState() throws Exception {
        GuestImage image = Guests.c(GUEST);
        SessionScript script = new SessionScript();
        script.comment("GICv3 ITS model (" + VCPUS + " vCPUs) driven by an x86 guest under KVM, recorded by "
                + ItsEndToEndTest.class.getSimpleName() + ";");
        script.comment("the ITS's tables are in guest RAM at 0x40000000. Replay: panavirt replay --device its --vcpus "
                + VCPUS + " FILE");
        String guestState;
        ItsDevice guestIts;
        long exits;
        long guestNanos;
        GuestRamWatch ram;
        byte[][] guestRam;
        try (TestGuest g = TestGuest.longMode(image)) {
            g.vm().addMemory(1, ITS_RAM, ITS_RAM_SIZE, 0);
            GuestMemory memory = g.memory();
            ItsSessionTarget target = ItsSessionTarget.create(new VmGuestRam(memory), VCPUS);
            ram = new GuestRamWatch(memory)
                    .watch("LPI property table", PROP, 0x1000, gpa -> "LPIs " + (8192 + gpa - PROP) + ".."
                            + (8192 + gpa - PROP + 7) + ": priority | enable")
                    .watch("pending table of vCPU 0", PEND0, 0x2000, null)
                    .watch("pending table of vCPU 1", PEND1, 0x2000, null)
                    .watch("command queue", QUEUE, 0x1000, gpa -> describeQueueWord(memory, gpa))
                    .watch("device table", DEVICE_TABLE, 0x1000, null)
                    .watch("collection table", COLLECTION_TABLE, 0x1000, null)
                    .watch("ITT of device 1", ITT, 0x1000, null);
            RecordingFrame frame = new RecordingFrame(target, script, ram);
            // As a VMM does: the frame goes on the MMIO bus when the ADDR attribute places it.
            target.device().vgic().onFrameMapped((its, base, size) -> g.mmio().insert(frame, base, size));

            long start = System.nanoTime();
            script.comment("host: place the frame, give the vCPUs property and pending tables, enable LPIs");
            frame.attrSet("KVM_DEV_ARM_VGIC_GRP_ADDR", "KVM_VGIC_ITS_ADDR_TYPE", FRAME, 8, "ITS frame");
            frame.redist(0, "GICR_PROPBASER", Redistributors.GICR_PROPBASER, PROP | 15, 8, "16 ID bits, VM-wide");
            frame.redist(0, "GICR_PENDBASER", Redistributors.GICR_PENDBASER, PEND0, 8, null);
            frame.redist(1, "GICR_PENDBASER", Redistributors.GICR_PENDBASER, PEND1, 8, null);
            frame.redist(0, "GICR_CTLR", Redistributors.GICR_CTLR, Redistributors.CTLR_ENABLE_LPIS, 4, "EnableLPIs");
            frame.redist(1, "GICR_CTLR", Redistributors.GICR_CTLR, Redistributors.CTLR_ENABLE_LPIS, 4, "EnableLPIs");
            assertEquals(List.of(new BusRange(FRAME, ItsRegisters.FRAME_SIZE)), g.mmio().ranges());

            script.comment("guest: probe, program and enable the ITS, run the first command batch");
            Stop stop = g.next(0, T);
            assertEquals(new Stop(StopKind.SYNC, 1), stop);
            script.comment("host: MSIs for device 1 events 0 and 1 (both on vCPU 0)");
            assertEquals(1, frame.msi(1, 0, "LPI 8192"));
            assertEquals(1, frame.msi(1, 1, "LPI 8193"));
            assertEquals(0, frame.msi(1, 4, "event 4 is not mapped: blocked"));
            frame.state("after the first batch and two MSIs");

            script.comment("guest: MOVI, DISCARD, INT, a failing MAPTI, INV, SYNC; then registers refusing writes");
            assertEquals(0, g.runToDone(0, T));
            script.comment("host: MSIs after the guest is done");
            assertEquals(0, frame.msi(1, 0, "discarded: blocked"));
            assertEquals(1, frame.msi(1, 3, "LPI 8195 on vCPU 1 (disabled in the property table)"));
            assertEquals(0, frame.msi(2, 0, "device 2 is not mapped: blocked"));
            frame.msiRefused(FRAME - 0x1_0000, 1, 1, "EINVAL", "doorbell outside the ITS frame");
            frame.state("final");
            guestNanos = System.nanoTime() - start;
            exits = frame.exits;

            // The guest's queue holds exactly the commands the model's encoders build.
            byte[] queue = memory.read(QUEUE, COMMANDS.size() * ItsRegisters.COMMAND_SIZE);
            assertArrayEquals(words(COMMANDS), queue, "command queue contents");

            guestIts = target.device();
            guestState = target.state();
            guestRam = ram.ranges().stream().map(ram::contents).toArray(byte[][]::new);
        }

        // Delivery as the guest run left it.
        assertArrayEquals(new long[] {8194}, guestIts.vgic().pendingLpis(0), "pending on vCPU 0");
        assertArrayEquals(new long[] {8193, 8195}, guestIts.vgic().pendingLpis(1), "pending on vCPU 1");
        assertEquals(14, guestIts.commandsExecuted());
        assertTrue(guestState.contains("collections 0:v0 1:v1;"), guestState);
        assertTrue(guestState.contains("translations 0x1/0x1:8193,icid=1,v1 0x1/0x2:8194,icid=0,v0"), guestState);

        String text = script.text();
        System.out.println("---- ITS session recorded from the guest run (" + script.opCount() + " operations, "
                + script.lineCount() + " lines, " + ram.wordsRecorded() + " guest RAM words) ----");
        System.out.print(text);
        System.out.println("---- end of ITS session ----");

        // Replay on a fresh model over heap RAM.
        long start = System.nanoTime();
        ItsSessionTarget replay = cliTarget();
        script.replay(replay, SYMBOLS);
        long replayNanos = System.nanoTime() - start;

        assertEquals(guestState, replay.state());
        ItsDevice r = replay.device();
        assertEquals(guestIts.commandsExecuted(), r.commandsExecuted());
        assertEquals(guestIts.lastCommandOpcode(), r.lastCommandOpcode());
        assertEquals(guestIts.lastCommandResult(), r.lastCommandResult());
        assertEquals(guestIts.ignoredAccesses(), r.ignoredAccesses());
        assertEquals(guestIts.translations(), r.translations());
        List<GuestRamWatch.Range> ranges = ram.ranges();
        for (int i = 0; i < ranges.size(); i++) {
            GuestRamWatch.Range range = ranges.get(i);
            assertArrayEquals(guestRam[i], replay.memRead(range.base(), range.size()), range.name());
        }

        // The comparison has teeth: without the guest's property table the replay no longer matches.
        String withoutProperties = text.replaceAll("(?m)^mem-write 0x40040000 .*$", "");
        SessionRunner.Outcome tampered = new SessionRunner(
                cliTarget(), SYMBOLS)
                .run(Script.parse(withoutProperties));
        assertFalse(tampered.passed(), "a replay without the LPI properties must not match");

        System.out.printf("ITS end to end: %d MMIO exits, guest run %.1f ms, replay %.1f ms%n", exits,
                guestNanos / 1e6, replayNanos / 1e6);
    }

    private static byte[] words(List<long[]> commands) {
        byte[] out = new byte[commands.size() * ItsRegisters.COMMAND_SIZE];
        int at = 0;
        for (long[] c : commands) {
            for (long w : c) {
                for (int i = 0; i < 8; i++) {
                    out[at++] = (byte) (w >>> (8 * i));
                }
            }
        }
        return out;
    }
}
