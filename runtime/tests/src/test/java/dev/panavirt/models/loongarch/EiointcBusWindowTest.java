package dev.panavirt.models.loongarch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The model as a {@link BusDevice}: one MMIO window mapping both IOCSR devices. */
class EiointcBusWindowTest extends EiointcFixture {

    private static final long MMIO = 0xFE00_0000L;
    private final Bus bus = new Bus("mmio", 0);

    EiointcBusWindowTest() {
        bus.insert(BusDevice.of(dev), MMIO, EiointcRegisters.WINDOW_SIZE);
    }

    private long busRead(long offset, int width) {
        MemorySegment data = MemorySegment.ofArray(new byte[width]);
        bus.read(MMIO + offset, data);
        return BusData.get(data);
    }

    private void busWrite(long offset, int width, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[width]);
        BusData.set(data, value);
        bus.write(MMIO + offset, data);
    }

    @Test
    void windowMapsMainBlockAtZeroAndVirtPageAt0x1000() {
        assertEquals(0x1400, EiointcRegisters.iocsrAddress(0));
        assertEquals(0x1CFF, EiointcRegisters.iocsrAddress(0x8FF));
        assertEquals(-1, EiointcRegisters.iocsrAddress(0x900));
        assertEquals(-1, EiointcRegisters.iocsrAddress(0xFFF));
        assertEquals(0x4000_0000L, EiointcRegisters.iocsrAddress(0x1000));
        assertEquals(0x4000_0FFFL, EiointcRegisters.iocsrAddress(0x1FFF));
        assertEquals(-1, EiointcRegisters.iocsrAddress(0x2000));
        assertEquals(-1, EiointcRegisters.iocsrAddress(-1));
    }

    @Test
    void busAccessesAreIocsrAccessesOfVcpu0() throws ErrnoException {
        busWrite(0x200, 8, -1L); // ENABLE word 0
        assertEquals(-1L, rd(ENABLE, 8));
        dev.setIrq(1, true);
        assertEquals(1L << 1, busRead(0x400, 8)); // COREISR of vCPU 0
        busWrite(0x400, 4, 1L << 1);
        assertEquals(List.of(up(0, 0), down(0, 0)), lines);
        dev.setAttr(GRP_CTRL, 1, 0xF, 4);
        assertEquals(0xF, busRead(0x1000, 4));
        busWrite(0x1004, 4, EiointcRegisters.ENABLE_CPU_ENCODE);
        assertEquals(EiointcRegisters.ENABLE_CPU_ENCODE, rd(CONFIG, 4));
    }

    @Test
    void busReadWindowHoldsTheRegisterBytesNotTheSignExtension() {
        busWrite(0x800, 1, 0x80);
        assertEquals(0x80, busRead(0x800, 1));
        assertEquals(0x80, busRead(0x800, 2));
    }

    @Test
    void busForAVcpuShowsThatVcpusCoreisrRow() throws ErrnoException {
        enableAll();
        route(5, 0x08);
        dev.setIrq(5, true);
        BusDevice cpu3 = BusDevice.of(dev.busFor(3));
        MemorySegment data = MemorySegment.ofArray(new byte[8]);
        cpu3.read(MMIO, 0x400, data);
        assertEquals(1L << 5, BusData.get(data));
        cpu3.write(MMIO, 0x400, data);
        assertEquals(0, dev.pins(3));
        assertThrows(IllegalArgumentException.class, () -> dev.busFor(4));
    }

    @Test
    void rejectedBusAccessesReadZeroAreIgnoredAndCounted() throws ErrnoException {
        wr(BOUNCE, 8, -1L);
        assertEquals(0, busRead(0x282, 4)); // misaligned
        assertEquals(0, busRead(0x300, 8)); // ISR, undecoded
        assertEquals(0, busRead(0x280, 3)); // a split access width
        assertEquals(0, busRead(0xA00, 4)); // the gap
        busWrite(0x281, 2, 0); // misaligned
        busWrite(0x1000, 4, 0xF); // FEATURES is read-only
        assertEquals(-1L, rd(BOUNCE, 8));
        assertEquals(6, dev.rejectedAccesses());
    }

    @Test
    void busAccessesNeverThrow() {
        for (long off = 0; off < EiointcRegisters.WINDOW_SIZE; off += 0x3F) {
            for (int w = 1; w <= 8; w++) {
                busWrite(off, w, -1L);
                busRead(off, w);
            }
        }
    }
}
