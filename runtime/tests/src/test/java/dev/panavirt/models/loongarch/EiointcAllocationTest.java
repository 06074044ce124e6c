package dev.panavirt.models.loongarch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.testsupport.Allocations;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The steady paths allocate nothing: register access, route update, line raise and lower. */
class EiointcAllocationTest extends EiointcFixture {



    EiointcAllocationTest() {
        super(new LoongArchVm(256), EiointcDevice.Options.MAINLINE);
        dev.setLineListener(EiointcLineListener.NONE);
    }

    @Test
    void registerAccessAllocatesNothing() throws Exception {
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                wr(BOUNCE + 8L * (i & 3), 8, i);
                rd(i & 255, BOUNCE + 8L * (i & 3), 1 << (i & 3));
                rd(i & 255, COREISR, 8);
                rd(FEATURES, 4);
            }
        });
        assertEquals(0, bytes);
    }

    @Test
    void routeUpdateAllocatesNothing() throws Exception {
        encoded();
        enableAll();
        for (int irq = 0; irq < 256; irq += 3) {
            dev.setIrq(irq, true);
        }
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                wr(COREMAP + 8L * (i & 31), 8, 0x0102_0304_0506_0708L * (i & 0x1F));
            }
        });
        assertEquals(0, bytes);
    }

    @Test
    void lineRaiseAndLowerAllocateNothing() throws Exception {
        encoded();
        enableAll();
        wr(IPMAP, 8, 0x0706_0504_0302_0100L);
        for (int irq = 0; irq < 256; irq++) {
            route(irq, irq);
        }
        long[] heard = new long[1];
        dev.setLineListener((v, p, l) -> heard[0] += l ? 1 : -1);
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                dev.setIrq(i & 255, true);
                dev.setIrq(i & 255, false);
                wr(i & 255, COREISR, 8, 0); // acknowledge path, nothing set
            }
        });
        assertEquals(0, bytes);
        assertEquals(0, heard[0]);
    }

    @Test
    void busWindowAccessAllocatesNothing() throws Exception {
        MemorySegment data = MemorySegment.ofArray(new byte[8]);
        MemorySegment narrow = MemorySegment.ofArray(new byte[2]);
        BusDevice bus = BusDevice.of(dev);
        long bytes = Allocations.fewest(() -> {
            for (int i = 0; i < 20_000; i++) {
                BusData.set(data, i);
                bus.write(0, 0x280, data);
                bus.read(0, 0x400, data);
                bus.read(0, 0x1000, narrow);
                bus.read(0, 0x301, narrow); // rejected: counted, no exception
            }
        });
        assertEquals(0, bytes);
    }

    @Test
    void errorsStillReportErrnos() {
        assertErrnoAfterWarmup();
    }

    private void assertErrnoAfterWarmup() {
        try {
            rd(BOUNCE + 1, 2);
            throw new AssertionError("misaligned read accepted");
        } catch (ErrnoException e) {
            assertEquals(Errno.EINVAL, e.errno());
        }
    }
}
