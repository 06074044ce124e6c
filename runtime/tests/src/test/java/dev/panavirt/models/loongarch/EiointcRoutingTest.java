package dev.panavirt.models.loongarch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.targets.EiointcSessionTarget;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Pin and CPU selection in both modes, line changes, ENABLE, COREISR and COREMAP side effects
 * (arch/loongarch/kvm/intc/eiointc.c {@code eiointc_update_irq()}, {@code eiointc_update_sw_coremap()},
 * {@code eiointc_set_irq()}, {@code loongarch_eiointc_write()}).
 */
class EiointcRoutingTest extends EiointcFixture {

    // ---- pin selection ----

    @ParameterizedTest(name = "IPMAP byte 0x{0} -> IP{1}")
    @CsvSource({"00,0", "01,0", "02,1", "04,2", "08,3", "0C,2", "06,1", "10,0", "80,0", "F0,0", "FF,0"})
    void b4_bitmapPinIsLowestSetBitAndIp0Otherwise(String hex, int pin) throws ErrnoException {
        int b = Integer.parseInt(hex, 16);
        wr(IPMAP + 2, 1, b); // vectors 64..95
        assertEquals(pin, dev.pinOf(64));
        assertEquals(pin, dev.pinOf(95));
        assertEquals(0, dev.pinOf(63));
        enableAll();
        dev.setIrq(70, true);
        assertEquals(List.of(up(0, pin)), lines);
    }

    @ParameterizedTest(name = "encoded IPMAP byte {0} -> IP{1}")
    @CsvSource({"0,0", "1,1", "3,3", "4,4", "7,7", "8,8", "15,15", "16,0", "255,0"})
    void b4_encodedPinIsTheIpmapByte(int b, int pin) throws ErrnoException {
        encoded();
        wr(IPMAP + 7, 1, b); // vectors 224..255
        assertEquals(pin, dev.pinOf(224));
        enableAll();
        dev.setIrq(255, true);
        assertEquals(List.of(up(0, pin)), lines);
        assertTrue(dev.isAsserted(0, pin));
    }

    @Test
    void b4_pinNIsCpuInterruptHwi0PlusN() {
        assertEquals(2, EiointcRegisters.INT_HWI0);
    }

    // ---- CPU selection ----

    @ParameterizedTest(name = "COREMAP byte 0x{0} -> vCPU {1}")
    @CsvSource({"01,0", "02,1", "04,2", "08,3", "06,1", "0A,1", "10,0", "80,0", "F1,0"})
    void b4_bitmapCpuIsLowestSetBitAndCpu0Above3(String hex, int cpu) throws ErrnoException {
        EiointcFixture f = new EiointcFixture(8);
        f.route(17, 0x02); // start somewhere else than the answer where possible
        f.route(17, Integer.parseInt(hex, 16));
        assertEquals(cpu, f.dev.targetOf(17));
    }

    @Test
    void b4_bitmapZeroCoremapByteLeavesTheRouteUnchanged() throws ErrnoException {
        route(40, 0x08);
        route(40, 0x00);
        assertEquals(3, dev.targetOf(40));
        assertEquals(0, rd(COREMAP + 40, 1), "the byte is stored");
    }

    @Test
    void b4_bitmapModeReachesOnlyCpus0To3() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(8);
        for (int b = 1; b < 256; b++) {
            f.route(b, b);
            assertTrue(f.dev.targetOf(b) < 4, "byte " + b);
        }
    }

    @Test
    void b4_encodedCpuIsTheCoremapByteUpTo255() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(256);
        f.encoded();
        f.route(1, 200);
        f.route(2, 255);
        f.route(3, 4);
        assertEquals(200, f.dev.targetOf(1));
        assertEquals(255, f.dev.targetOf(2));
        assertEquals(4, f.dev.targetOf(3));
    }

    @Test
    void b4_cpuidIsThePhysicalCpuIdResolvedToAVcpu() throws ErrnoException {
        // vCPU i carries CPU id 3 - i
        EiointcFixture f = new EiointcFixture(new LoongArchVm(new int[] {3, 2, 1, 0}), EiointcDevice.Options.MAINLINE);
        f.route(5, 0x01); // CPU id 0 = vCPU 3
        assertEquals(3, f.dev.targetOf(5));
        f.route(5, 0x08); // CPU id 3 = vCPU 0
        assertEquals(0, f.dev.targetOf(5));
    }

    @Test
    void b4_unknownCpuidIsAcceptedButTheRouteIsUnchanged() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(new LoongArchVm(new int[] {0, LoongArchVm.NO_CPUID, 2}),
                EiointcDevice.Options.MAINLINE);
        f.route(6, 0x04);
        assertEquals(2, f.dev.targetOf(6));
        f.route(6, 0x02); // CPU id 1: no vCPU carries it
        assertEquals(2, f.dev.targetOf(6));
        assertEquals(0x02, f.rd(COREMAP + 6, 1));
        f.encoded();
        f.route(6, 77);
        assertEquals(2, f.dev.targetOf(6));
    }

    @Test
    void b4_routesToAll256VcpusWithCpuAndPinEncoding() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(256);
        f.encoded();
        f.wr(IPMAP, 8, 0x0F0E_0D0C_0B0A_0908L); // vectors 32k.. -> IP(8+k)
        for (int irq = 0; irq < 256; irq++) {
            f.route(irq, 255 - irq);
        }
        f.enableAll();
        for (int irq = 0; irq < 256; irq++) {
            f.dev.setIrq(irq, true);
        }
        assertEquals(256, f.lines.size());
        for (int irq = 0; irq < 256; irq++) {
            int vcpu = 255 - irq;
            int pin = 8 + irq / 32;
            assertEquals(1 << pin, f.dev.pins(vcpu), "vcpu " + vcpu);
            assertEquals(1L << (irq & 63), f.rd(vcpu, COREISR + 8L * (irq / 64), 8));
        }
    }

    // ---- eiointc_set_irq ----

    @Test
    void b4_raiseWithEnableClearOnlySetsIsr() throws ErrnoException {
        dev.setIrq(12, true);
        assertTrue(lines.isEmpty());
        assertEquals(1L << 12, regs(0, 0x300));
        assertEquals(0, rd(COREISR, 8));
        wr(ENABLE, 1, 0); // no 0->1 transition
        assertTrue(lines.isEmpty());
        wr(ENABLE + 1, 1, 0x10); // vector 12 goes 0->1 with ISR set
        assertEquals(List.of(up(0, 0)), lines);
        assertEquals(1L << 12, rd(COREISR, 8));
    }

    @Test
    void b4_firstVectorOnAPinRaisesTheLineAndTheLastLowersIt() throws ErrnoException {
        enableAll();
        route(1, 0x02);
        route(2, 0x02);
        dev.setIrq(1, true);
        dev.setIrq(2, true);
        assertEquals(List.of(up(1, 0)), lines, "second vector on the same pin makes no call");
        assertEquals(0b110, rd(1, COREISR, 8));
        assertTrue(dev.isShadowAsserted(1, 0, 1) && dev.isShadowAsserted(1, 0, 2));
        dev.setIrq(1, false);
        assertEquals(1, lines.size(), "vector 2 still holds the line");
        assertEquals(0b100, rd(1, COREISR, 8));
        dev.setIrq(2, false);
        assertEquals(List.of(up(1, 0), down(1, 0)), lines);
        assertEquals(0, dev.pins(1));
        assertEquals(0, regs(0, 0x300), "ISR follows the line");
    }

    @Test
    void b4_vectorsOnDifferentPinsDriveSeparateLines() throws ErrnoException {
        enableAll();
        wr(IPMAP, 8, 0x0808_0404_0202_0101L); // the guest driver's layout
        dev.setIrq(0, true);
        dev.setIrq(64, true);
        dev.setIrq(128, true);
        dev.setIrq(192, true);
        assertEquals(List.of(up(0, 0), up(0, 1), up(0, 2), up(0, 3)), lines);
        assertEquals(0b1111, dev.pins(0));
    }

    @Test
    void b4_repeatedRaiseOfTheSameVectorMakesOneCall() throws ErrnoException {
        enableAll();
        dev.setIrq(4, true);
        dev.setIrq(4, true);
        assertEquals(List.of(up(0, 0)), lines);
    }

    @Test
    void b4_updateIsSkippedWhenNoVcpuHasTheStoredVcpuId() throws ErrnoException {
        // An EIOINTC created before any vCPU: every route still says vCPU 0, which does not exist yet.
        EiointcFixture f = new EiointcFixture(new LoongArchVm(0), EiointcDevice.Options.MAINLINE);
        f.dev.setAttr(GRP_CTRL, 0, 1, 4);
        f.dev.setAttr(GRP_REGS, 0x200, -1L, 4);
        f.dev.setIrq(3, true);
        assertTrue(f.lines.isEmpty());
        assertEquals(1L << 3, f.regs(0, 0x300), "ISR is still recorded");
        assertEquals(0, f.regs(0, 0x400), "but COREISR of the missing target is not");
        assertEquals(0, f.dev.targetOf(3));
        EiointcSessionTarget s = new EiointcSessionTarget(f.dev);
        assertErrno(Errno.EINVAL, () -> s.read(BOUNCE, 8));
    }

    // ---- ENABLE writes ----

    @Test
    void b4_enableRisingWithIsrSetAssertsAndFallingDeasserts() throws ErrnoException {
        dev.setIrq(65, true);
        dev.setIrq(66, true);
        wr(ENABLE + 8, 8, 0b110);
        assertEquals(List.of(up(0, 0)), lines);
        wr(ENABLE + 8, 8, 0b100); // 65 falls
        assertEquals(1, lines.size());
        wr(ENABLE + 8, 8, 0); // 66 falls, last one
        assertEquals(List.of(up(0, 0), down(0, 0)), lines);
        assertEquals(0, rd(COREISR + 8, 8));
        assertEquals(0b110L, regs(0, 0x308), "ISR untouched");
    }

    @Test
    void b4_enableChangesOfVectorsWithoutIsrHaveNoEffect() throws ErrnoException {
        wr(ENABLE, 8, -1L);
        wr(ENABLE, 8, 0);
        wr(ENABLE, 8, -1L);
        assertTrue(lines.isEmpty());
        assertEquals(0, rd(COREISR, 8));
    }

    @Test
    void b4_enableByteWriteOnlyTouchesItsOwnBits() throws ErrnoException {
        enableAll();
        dev.setIrq(0, true);
        wr(ENABLE + 1, 1, 0); // vectors 8..15 disabled; vector 0 unaffected
        assertEquals(List.of(up(0, 0)), lines);
        assertEquals(0xFFFF_FFFF_FFFF_00FFL, rd(ENABLE, 8));
    }

    // ---- COREISR write-1-to-clear ----

    @Test
    void b4_coreisrWriteOneToClearDropsTheLine() throws ErrnoException {
        enableAll();
        dev.setIrq(3, true);
        long pending = rd(COREISR, 8);
        wr(COREISR, 8, pending); // the guest driver's acknowledge
        assertEquals(List.of(up(0, 0), down(0, 0)), lines);
        assertEquals(0, rd(COREISR, 8));
        assertEquals(1L << 3, regs(0, 0x300), "ISR is not cleared");
    }

    @Test
    void b4_coreisrWriteOfZerosOrClearBitsDoesNothing() throws ErrnoException {
        enableAll();
        dev.setIrq(3, true);
        wr(COREISR, 8, 0);
        wr(COREISR, 8, ~(1L << 3));
        assertEquals(List.of(up(0, 0)), lines);
        assertEquals(1L << 3, rd(COREISR, 8));
    }

    @Test
    void b4_coreisrClearActsOnTheVectorsCurrentTarget() throws ErrnoException {
        dev.setAttr(GRP_CTRL, 0, 4, 4);
        enableAll();
        route(7, 0x02);
        dev.setIrq(7, true); // asserted on vCPU 1
        dev.setAttr(GRP_REGS, 0x400, 1 << 7, 4); // a stale bit in vCPU 0's row
        wr(0, COREISR, 8, 1L << 7); // vCPU 0 acknowledges
        assertEquals(0, rd(0, COREISR, 8));
        assertEquals(0, rd(1, COREISR, 8), "update(v,0) cleared the target's row");
        assertEquals(List.of(up(1, 0), down(1, 0)), lines);
    }

    @Test
    void b4_afterAcknowledgeOnlyAnEnableTransitionOrNewRaiseReasserts() throws ErrnoException {
        enableAll();
        dev.setIrq(3, true);
        wr(COREISR, 8, 1L << 3);
        dev.setIrq(3, true); // ISR already 1, but set_irq always updates
        assertEquals(List.of(up(0, 0), down(0, 0), up(0, 0)), lines);
        wr(COREISR, 8, 1L << 3);
        wr(ENABLE, 8, ~(1L << 3)); // 1->0 while ISR set: update(v,0) lowers the (already low) line again
        wr(ENABLE, 8, -1L); // 0->1 while ISR set: asserted again
        assertEquals(List.of(up(0, 0), down(0, 0), up(0, 0), down(0, 0), down(0, 0), up(0, 0)), lines);
    }

    // ---- COREMAP re-routing ----

    @Test
    void b4_rerouteMovesAnAssertedLine() throws ErrnoException {
        enableAll();
        dev.setIrq(33, true);
        route(33, 0x04);
        assertEquals(List.of(up(0, 0), down(0, 0), up(2, 0)), lines);
        assertEquals(0, rd(0, COREISR, 8));
        assertEquals(1L << 33, rd(2, COREISR, 8));
    }

    @Test
    void b4_rerouteOfAVectorWithoutIsrOnlyChangesTheRoute() throws ErrnoException {
        enableAll();
        route(33, 0x04);
        assertTrue(lines.isEmpty());
        assertEquals(2, dev.targetOf(33));
    }

    @Test
    void b4_rerouteOfAPendingButDisabledVectorDoesNotAssert() throws ErrnoException {
        dev.setIrq(33, true);
        route(33, 0x04);
        // update(v,0) at the old target does not look at ENABLE: a redundant lower, then nothing at the new one
        assertEquals(List.of(down(0, 0)), lines);
        assertEquals(0, rd(2, COREISR, 8));
        assertEquals(2, dev.targetOf(33));
    }

    @Test
    void b4_rerouteWithinSameTargetMakesNoCalls() throws ErrnoException {
        enableAll();
        route(33, 0x04);
        dev.setIrq(33, true);
        route(33, 0x0C); // still CPU 2
        assertEquals(List.of(up(2, 0)), lines);
    }

    @Test
    void b4_coremapWordWriteReroutesAllEightVectors() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(8);
        f.enableAll();
        for (int irq = 8; irq < 16; irq++) {
            f.dev.setIrq(irq, true);
        }
        f.wr(COREMAP + 8, 8, 0x0808_0404_0202_0101L);
        int[] want = {0, 0, 1, 1, 2, 2, 3, 3};
        for (int i = 0; i < 8; i++) {
            assertEquals(want[i], f.dev.targetOf(8 + i));
        }
        assertEquals(0b11L << 8, f.rd(0, COREISR, 8));
        assertEquals(0b11L << 10, f.rd(1, COREISR, 8));
        assertEquals(1, f.dev.pins(3));
    }

    @Test
    void b4_ipmapWriteDoesNotReevaluateAssertedLines() throws ErrnoException {
        enableAll();
        dev.setIrq(2, true); // IP0
        wr(IPMAP, 1, 0x04); // vectors 0..31 now map to IP2
        assertEquals(List.of(up(0, 0)), lines);
        assertTrue(dev.isAsserted(0, 0));
        dev.setIrq(2, false); // the kernel looks at IP2 now: nothing there, so it lowers IP2
        assertEquals(List.of(up(0, 0), down(0, 2)), lines);
        assertTrue(dev.isAsserted(0, 0), "IP0 stays raised");
        assertTrue(dev.isShadowAsserted(0, 0, 2), "and its shadow bit stays set");
    }

    @Test
    void b4_routingModeFollowsStatusNotFeatures() throws ErrnoException {
        EiointcFixture f = new EiointcFixture(8);
        f.dev.setAttr(GRP_CTRL, 1, EiointcRegisters.ALL_FEATURES, 4);
        f.route(20, 0x06); // CPU_ENCODE offered but not configured: bitmap -> CPU 1
        assertEquals(1, f.dev.targetOf(20));
        f.wr(CONFIG, 4, EiointcRegisters.ENABLE_CPU_ENCODE);
        f.route(20, 0x06); // now encoded -> CPU 6
        assertEquals(6, f.dev.targetOf(20));
    }
}
