package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.vmm.legacy.PicMask;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The PIC stand-in for machines without the in-kernel irqchip: initialisation words, then the mask. */
class PicMaskTest {
    private final PicMask pic = new PicMask();

    private void out(int offset, int value) {
        pic.write(PicMask.MASTER_PORT, offset, MemorySegment.ofArray(new byte[] {(byte) value}));
    }

    private int in(int offset) {
        byte[] b = new byte[1];
        pic.read(PicMask.MASTER_PORT, offset, MemorySegment.ofArray(b));
        return b[0] & 0xff;
    }

    @Test
    void maskingWithoutInitialisation() {
        out(1, 0xff);
        assertEquals(0xff, in(1));
        assertEquals(0xff, pic.mask());
        assertEquals(0, in(0), "nothing requested or in service");
    }

    @Test
    void theLinuxStyleInitialisationSequence() {
        out(1, 0xff);
        out(0, 0x11);           // ICW1: edge, cascade, ICW4 follows; clears the mask
        assertEquals(0, in(1));
        out(1, 0x20);           // ICW2: vector base
        out(1, 0x04);           // ICW3: slave on IRQ2
        out(1, 0x01);           // ICW4: 8086 mode
        assertEquals(0, pic.mask(), "initialisation words are not the mask");
        out(1, 0xfb);
        assertEquals(0xfb, in(1));
        out(0, 0x20);           // OCW2: end of interrupt
        assertEquals(0xfb, in(1));
    }

    @Test
    void singleModeWithoutIcw4() {
        out(0, 0x12);           // ICW1: single PIC, no ICW4
        out(1, 0x08);           // ICW2 only
        out(1, 0xfe);
        assertEquals(0xfe, in(1));
    }
}
