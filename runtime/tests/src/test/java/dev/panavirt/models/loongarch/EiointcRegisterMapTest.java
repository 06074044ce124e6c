package dev.panavirt.models.loongarch;

import static dev.panavirt.base.Errno.EINVAL;
import static dev.panavirt.base.Errno.EOPNOTSUPP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.loongarch.EiointcRegisters.Register;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * State and reset values, the IOCSR map, widths and alignment, and holes (arch/loongarch/kvm/intc/eiointc.c
 * {@code kvm_eiointc_create()}, {@code kvm_eiointc_read/write()}, {@code loongarch_eiointc_read/write()};
 * arch/loongarch/include/asm/kvm_eiointc.h).
 */
class EiointcRegisterMapTest extends EiointcFixture {

    // ---- state (kvm_eiointc_create() zero-allocates): everything starts at zero, every route at vCPU 0 ----

    @Test
    void b1_resetValuesAreZeroEverywhere() throws ErrnoException {
        for (long a = NODETYPE; a < NODETYPE + 32; a += 8) {
            assertEquals(0, rd(a, 8));
        }
        assertEquals(0, rd(IPMAP, 8));
        for (int i = 0; i < 4; i++) {
            assertEquals(0, rd(ENABLE + 8L * i, 8));
            assertEquals(0, rd(BOUNCE + 8L * i, 8));
            assertEquals(0, rd(COREISR + 8L * i, 8));
        }
        for (long a = COREMAP; a < COREMAP + 256; a += 8) {
            assertEquals(0, rd(a, 8));
        }
        for (int off = 0x300; off < 0x320; off += 4) {
            assertEquals(0, regs(0, off), "ISR");
        }
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 0, 4), "num_cpu");
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 1, 4), "features");
        assertEquals(0, dev.getAttr(GRP_SW_STATUS, 2, 4), "status");
        assertEquals(0, rd(FEATURES, 4));
        assertEquals(0, rd(CONFIG, 4));
    }

    @Test
    void b1_initialRouteOfEveryVectorIsVcpu0() {
        for (int irq = 0; irq < 256; irq++) {
            assertEquals(0, dev.targetOf(irq));
            assertEquals(0, dev.pinOf(irq));
        }
        for (int v = 0; v < 4; v++) {
            assertEquals(0, dev.pins(v));
        }
    }

    @Test
    void b1_coreisrHasOneRowPerVcpuId() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(256);
        f.dev.setAttr(GRP_CTRL, 0, 256, 4);
        f.dev.setAttr(GRP_REGS, (255L << 16) | 0x41C, 0x8000_0000L, 4);
        f.dev.setAttr(GRP_REGS, (7L << 16) | 0x400, 1, 4);
        assertEquals(0x8000_0000_0000_0000L, f.rd(255, COREISR + 24, 8));
        assertEquals(1, f.rd(7, COREISR, 8));
        assertEquals(0, f.rd(0, COREISR, 8));
        assertEquals(0, f.rd(7, COREISR + 24, 8));
    }

    // ---- the IOCSR map (asm/kvm_eiointc.h EIOINTC_*_START/END) ----

    @Test
    void b2_registerOffsetsMatchTheMap() {
        assertEquals(0x1400, EiointcRegisters.EIOINTC_BASE);
        assertEquals(0x900, EiointcRegisters.EIOINTC_SIZE);
        assertEquals(Register.NODETYPE, Register.at(0x0A0));
        assertEquals(Register.NODETYPE, Register.at(0x0BF));
        assertEquals(Register.IPMAP, Register.at(0x0C0));
        assertEquals(Register.IPMAP, Register.at(0x0C7));
        assertEquals(Register.ENABLE, Register.at(0x21F));
        assertEquals(Register.BOUNCE, Register.at(0x280));
        assertEquals(Register.ISR, Register.at(0x31F));
        assertEquals(Register.COREISR, Register.at(0x400));
        assertEquals(Register.COREMAP, Register.at(0x8FF));
        assertNull(Register.at(0x09F));
        assertNull(Register.at(0x0C8));
        assertNull(Register.at(0x220));
        assertNull(Register.at(0x900));
        assertEquals(0x4000_0000L, EiointcRegisters.VIRT_BASE);
        assertEquals(0x1000, EiointcRegisters.VIRT_SIZE);
    }

    @Test
    void b2_storedRegistersReadBackWhatWasWritten() throws ErrnoException {
        long[] addrs = {NODETYPE, NODETYPE + 24, IPMAP, BOUNCE, BOUNCE + 24, COREMAP, COREMAP + 248};
        for (long a : addrs) {
            long v = 0x0102_0304_0506_0708L ^ a;
            wr(a, 8, v);
            assertEquals(v, rd(a, 8), Long.toHexString(a));
        }
        wr(ENABLE + 16, 8, 0x1234_5678_9ABC_DEF0L);
        assertEquals(0x1234_5678_9ABC_DEF0L, rd(ENABLE + 16, 8));
    }

    @Test
    void b2_nodetypeWriteHasNoSideEffects() throws ErrnoException {
        wr(NODETYPE, 8, -1L);
        wr(NODETYPE + 8, 2, 0xFFFF);
        assertTrue(lines.isEmpty());
        assertEquals(0, rd(IPMAP, 8));
        assertEquals(0xFFFF, rd(NODETYPE + 8, 8));
    }

    @Test
    void b2_bounceIsStoredButBounceRoutingIsNotEmulated() throws ErrnoException {
        enableAll();
        wr(BOUNCE, 8, -1L);
        dev.setIrq(3, true);
        assertEquals(java.util.List.of(up(0, 0)), lines, "delivered to the COREMAP target only");
        assertEquals(-1L, rd(BOUNCE, 8));
    }

    @Test
    void b2_isrIsNotDecodedForGuests() throws ErrnoException {
        dev.setIrq(5, true);
        for (long a = ISR; a < ISR + 0x20; a += 8) {
            final long addr = a;
            assertErrno(EINVAL, () -> rd(addr, 8));
            assertErrno(EINVAL, () -> wr(addr, 8, 0));
        }
        assertEquals(1L << 5, regs(0, 0x300), "reachable through GRP_REGS");
    }

    @Test
    void b2_coreisrReadShowsTheAccessingVcpusRow() throws ErrnoException {
        enableAll();
        route(9, 0x04); // bitmap: CPU 2
        dev.setIrq(9, true);
        assertEquals(1L << 9, rd(2, COREISR, 8));
        assertEquals(0, rd(0, COREISR, 8));
        assertEquals(0, rd(1, COREISR, 8));
    }

    // ---- widths and alignment (kvm_eiointc_read(), kvm_eiointc_write()) ----

    @Test
    void b3_readsFetchTheContainingWordAndShift() throws ErrnoException {
        wr(NODETYPE, 8, 0x8877_6655_4433_2211L);
        assertEquals(0x11, rd(NODETYPE, 1));
        assertEquals(0x44, rd(NODETYPE + 3, 1));
        assertEquals(0x4433, rd(NODETYPE + 2, 2));
        assertEquals(0x4433_2211, rd(NODETYPE, 4));
        assertEquals(0x8877_6655L | 0xFFFF_FFFF_0000_0000L, rd(NODETYPE + 4, 4));
    }

    @Test
    void b3_readsAreSignExtendedFromTheAccessWidth() throws ErrnoException {
        wr(COREMAP, 8, 0x8000_0000_8000_0080L);
        assertEquals(0xFFFF_FFFF_FFFF_FF80L, rd(COREMAP, 1));
        assertEquals(0x0080L, rd(COREMAP, 2));
        assertEquals(0xFFFF_FFFF_8000_0000L, rd(COREMAP + 4, 4));
        assertEquals(0xFFFF_FFFF_FFFF_8000L, rd(COREMAP + 6, 2));
        assertEquals(0x8000_0000_8000_0080L, rd(COREMAP, 8));
    }

    @Test
    void b3_writesMergeOnlyTheWrittenBytes() throws ErrnoException {
        wr(BOUNCE, 8, 0x1111_1111_1111_1111L);
        wr(BOUNCE + 1, 1, 0x1FF); // masked to one byte
        assertEquals(0x1111_1111_1111_FF11L, rd(BOUNCE, 8));
        wr(BOUNCE + 6, 2, 0xABCD_EEEEL);
        assertEquals(0xEEEE_1111_1111_FF11L, rd(BOUNCE, 8));
        wr(BOUNCE + 0, 4, 0);
        assertEquals(0xEEEE_1111_0000_0000L, rd(BOUNCE, 8));
        wr(BOUNCE + 8, 8, -1L);
        assertEquals(-1L, rd(BOUNCE + 8, 8));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4, 8})
    void b3_misalignedAccessesAreRejected(int width) throws ErrnoException {
        wr(BOUNCE, 8, -1L);
        long readsBefore = dev.readExits();
        long writesBefore = dev.writeExits();
        for (long skew = 1; skew < width; skew++) {
            long addr = BOUNCE + skew;
            assertErrno(EINVAL, () -> rd(addr, width));
            assertErrno(EINVAL, () -> wr(addr, width, 0));
        }
        assertEquals(-1L, rd(BOUNCE, 8), "nothing written");
        assertEquals(readsBefore + 1, dev.readExits(), "rejected accesses are not counted");
        assertEquals(writesBefore, dev.writeExits());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 5, 6, 7, 16})
    void b3_onlyWidths1248AreAccepted(int width) {
        assertErrno(EINVAL, () -> rd(BOUNCE, width));
        assertErrno(EINVAL, () -> wr(BOUNCE, width, 0));
    }

    @Test
    void b3_exitCountersCountAlignedAccessesIncludingUndecodedOnes() throws ErrnoException {
        rd(BOUNCE, 4);
        wr(BOUNCE, 4, 0);
        assertErrno(EINVAL, () -> rd(0x1400, 4)); // a hole, still counted
        assertErrno(EINVAL, () -> wr(0x1400, 4, 0));
        rd(FEATURES, 4); // the virt page is a different device and not counted
        assertEquals(2, dev.readExits());
        assertEquals(2, dev.writeExits());
    }

    @Test
    void b3_accessesOutsideBothDevicesReachNoDevice() {
        assertErrno(EOPNOTSUPP, () -> rd(0x13F8, 8));
        assertErrno(EOPNOTSUPP, () -> rd(0x1D00, 1));
        assertErrno(EOPNOTSUPP, () -> wr(0x3FFF_FFFCL, 4, 0));
        assertErrno(EOPNOTSUPP, () -> rd(0x4000_1000L, 4));
        assertErrno(EOPNOTSUPP, () -> rd(0x1CFC, 8)); // straddles the end of the block
        assertErrno(EOPNOTSUPP, () -> rd(Long.MAX_VALUE - 2, 8));
    }

    // ---- undecoded offsets inside the block (default case of loongarch_eiointc_read/write()) ----

    @ParameterizedTest
    @ValueSource(longs = {0x1400, 0x1498, 0x14C8, 0x1500, 0x1620, 0x1678, 0x16A0, 0x1700, 0x1718, 0x1780,
        0x1820, 0x1BF8})
    void b7_undecodedOffsetsFailWithEinval(long addr) {
        assertErrno(EINVAL, () -> rd(addr, 8));
        assertErrno(EINVAL, () -> rd(addr, 1));
        assertErrno(EINVAL, () -> wr(addr, 8, -1L));
    }

    @Test
    void b7_lastByteOfCoremapIsDecoded() throws ErrnoException {
        wr(0x1CFF, 1, 0x5A);
        assertEquals(0x5A, rd(0x1CFF, 1));
        assertEquals(0x5A00_0000_0000_0000L, rd(0x1CF8, 8));
    }
}
