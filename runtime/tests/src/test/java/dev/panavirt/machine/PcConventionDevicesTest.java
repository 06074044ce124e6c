package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.kvm.Cpuid;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.legacy.PcTestdev;
import dev.panavirt.vmm.legacy.Port92;
import dev.panavirt.vmm.pci.PciHostBridge;
import dev.panavirt.vmm.pci.PciTestdev;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The device models of QEMU's test-machine conventions, and the hypervisor CPUID, without KVM. */
class PcConventionDevicesTest {
    private final Arena arena = Arena.ofAuto();
    private final Bus pio = new Bus("pio"), mmio = new Bus("mmio");

    private long in(Bus bus, long addr, int width) {
        MemorySegment d = arena.allocate(width);
        bus.read(addr, d);
        return BusData.get(d);
    }

    private void out(Bus bus, long addr, int width, long v) {
        MemorySegment d = arena.allocate(width);
        BusData.set(d, v);
        bus.write(addr, d);
    }

    @Test
    void port92ResetsOnARisingBitZeroOnly() {
        AtomicInteger resets = new AtomicInteger();
        pio.insert(new Port92(resets::incrementAndGet), Port92.PORT, 1);
        assertEquals(2, in(pio, 0x92, 1), "A20 on at power-up");
        out(pio, 0x92, 1, 3);
        assertEquals(1, resets.get());
        out(pio, 0x92, 1, 3);
        assertEquals(1, resets.get(), "bit 0 staying set is no new reset");
        out(pio, 0x92, 1, 2);
        out(pio, 0x92, 1, 3);
        assertEquals(2, resets.get());
        assertEquals(3, in(pio, 0x92, 1));
    }

    @Test
    void pcTestdevDrivesLinesAndKeepsItsRegisters() {
        List<String> lines = new ArrayList<>();
        List<Long> flushed = new ArrayList<>();
        new PcTestdev((line, level) -> lines.add(line + "=" + level), flushed::add).attach(pio, mmio);
        out(pio, 0x2000 + 14, 1, 1);
        out(pio, 0x2000 + 14, 1, 0);
        out(pio, 0x2000 + 23, 1, 0x80);
        assertEquals(List.of("14=true", "14=false", "23=true"), lines);
        out(pio, 0xe0, 4, 0xaabbccddL);
        assertEquals(0xcc, in(pio, 0xe9, 1), "0xe8 is a byte-wise window onto the same register");
        out(pio, 0xea, 1, 0x11);
        assertEquals(0xaa11ccddL, in(pio, 0xe0, 4));
        assertEquals(0xaa11, in(pio, 0xe2, 2));
        out(pio, 0xe4, 4, 0x12345);
        out(pio, 0xe4, 1, 0x9000);
        assertEquals(List.of(0x12000L), flushed, "4-byte writes only, page-aligned");
        out(mmio, PcTestdev.IORAM_BASE + 0xfffc, 4, 0x01020304);
        assertEquals(0x0304, in(mmio, PcTestdev.IORAM_BASE + 0xfffc, 2));
        assertEquals(0x01020304L, in(mmio, PcTestdev.IORAM_BASE + 0xfffc, 4));
        assertTrue(mmio.deviceAt(PcTestdev.IORAM_BASE + PcTestdev.IORAM_SIZE - 1).isPresent());
        assertFalse(mmio.deviceAt(PcTestdev.IORAM_BASE + PcTestdev.IORAM_SIZE).isPresent());
    }

    private PciTestdev pciMachine() {
        PciHostBridge host = new PciHostBridge();
        PciTestdev dev = new PciTestdev();
        host.add(1, 0, dev);
        host.attach(pio);
        dev.attach(pio, mmio, 0xfe00_0000L, 0xc000);
        return dev;
    }

    private long cfg(int devfn, int reg) {
        out(pio, 0xcf8, 4, 0x8000_0000L | devfn << 8 | reg);
        return in(pio, 0xcfc, 4);
    }

    private void cfgWrite(int devfn, int reg, long v) {
        out(pio, 0xcf8, 4, 0x8000_0000L | devfn << 8 | reg);
        out(pio, 0xcfc, 4, v);
    }

    @Test
    void theHostBridgeAnswersMechanismOne() {
        pciMachine();
        assertEquals(0x1237_8086L, cfg(0, 0));
        assertEquals(0x0005_1b36L, cfg(1 << 3, 0));
        assertEquals(0xffff_ffffL, cfg(2 << 3, 0), "an empty slot");
        out(pio, 0xcf8, 4, 0x0000_0800L);
        assertEquals(0xffff_ffffL, in(pio, 0xcfc, 4), "enable bit clear");
        out(pio, 0xcf8, 4, 0x8000_0802L);
        assertEquals(0x0005, in(pio, 0xcfe, 2), "the port's low bits pick the bytes: device id");
        out(pio, 0xcf8, 4, 0x8001_0800L);
        assertEquals(0xffff_ffffL, in(pio, 0xcfc, 4), "bus 1 does not exist");
    }

    @Test
    void barsSizeAndMoveWithTheGuestsWrites() {
        PciTestdev dev = pciMachine();
        assertEquals(0xfe00_0000L, cfg(8, 0x10));
        assertEquals(0xc001L, cfg(8, 0x14));
        assertEquals(3, cfg(8, 4) & 3, "I/O and memory decoding on");
        cfgWrite(8, 0x10, 0xffff_ffffL);
        assertEquals(0xffff_f000L, cfg(8, 0x10), "4 KiB");
        assertEquals(-1, dev.mappedAt(0), "off the bus while sizing");
        cfgWrite(8, 0x14, 0xffff_ffffL);
        assertEquals(0xffff_ff01L, cfg(8, 0x14), "256 ports");
        cfgWrite(8, 0x10, 0xfe10_0000L);
        cfgWrite(8, 0x14, 0xd000);
        assertEquals(0xfe10_0000L, dev.mappedAt(0));
        assertTrue(mmio.deviceAt(0xfe10_0fffL).isPresent());
        assertFalse(mmio.deviceAt(0xfe00_0000L).isPresent());
        cfgWrite(8, 4, 0);
        assertEquals(-1, dev.mappedAt(1), "decoding off");
        assertFalse(pio.deviceAt(0xd000).isPresent());
    }

    @Test
    void pciTestdevCountsTheWritesOfEachTest() {
        pciMachine();
        for (long base : new long[] {0xfe00_0000L, 0xc000}) {
            Bus bus = base == 0xc000 ? pio : mmio;
            for (int t = 0; t < 3; t++) {
                out(bus, base, 1, t);
                assertEquals(0, in(bus, base + 12, 4));
                assertEquals(1, in(bus, base + 1, 1), "width");
                long off = in(bus, base + 4, 4), data = in(bus, base + 8, 4);
                for (int i = 0; i < 16; i++) {
                    out(bus, base + off, 1, data);
                }
                out(bus, base + off, 1, data ^ 1);
                assertEquals(t == 1 ? 17 : 16, in(bus, base + 12, 4), "test " + t + " at 0x" + Long.toHexString(base));
            }
        }
        out(mmio, 0xfe00_0000L, 1, 2);
        StringBuilder name = new StringBuilder();
        for (int i = 16; in(mmio, 0xfe00_0000L + i, 1) != 0; i++) {
            name.append((char) in(mmio, 0xfe00_0000L + i, 1));
        }
        assertEquals("mmio-datamatch-eventfd", name.toString());
        out(mmio, 0xfe00_0000L, 1, 3);
        assertEquals(0, in(mmio, 0xfe00_0000L + 16, 1), "no test selected reads as zero");
    }

    @Test
    void cpuidPresentsAHypervisorOrHidesIt() {
        Cpuid host = new Cpuid(List.of(new Cpuid.Entry(0, 0, 0, 0xd, 1, 2, 3),
                new Cpuid.Entry(1, 0, 0, 0x806f8, 0x800, 0x7ffa_fbbf, 0xbfeb_fbff),
                new Cpuid.Entry(0xd, 0, 1, 0x207, 0xa88, 0xa88, 0), new Cpuid.Entry(0xd, 1, 1, 5, 0, 0, 0),
                new Cpuid.Entry(0x4000_0000, 0, 0, 0, 0x4b4d_564b, 0x564b_4d56, 0x4d),
                new Cpuid.Entry(0x4000_0001, 0, 0, 0x0100_7afb, 0, 0, 1)));
        Cpuid shown = PcPlatform.withHypervisorLeaves(host, true);
        assertEquals(0xfffa_fbbf, shown.find(1, 0).orElseThrow().ecx(), "HYPERVISOR bit");
        assertEquals(new Cpuid.Entry(0x4000_0000, 0, 0, 0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x4d),
                shown.find(0x4000_0000, 0).orElseThrow());
        assertEquals(new Cpuid.Entry(0x4000_0001, 0, 0, 0x0100_7afb, 0, 0, 1), shown.find(0x4000_0001, 0).orElseThrow());
        assertEquals(host.find(0xd, 1), shown.find(0xd, 1), "sub-leaves keep their index and flags");
        Cpuid hidden = PcPlatform.withHypervisorLeaves(host, false);
        assertEquals(0x7ffa_fbbf, hidden.find(1, 0).orElseThrow().ecx());
        assertTrue(hidden.find(0x4000_0000, 0).isEmpty());
        assertTrue(hidden.find(0x4000_0001, 0).isEmpty());
        assertEquals(4, hidden.entries().size());
    }
}
