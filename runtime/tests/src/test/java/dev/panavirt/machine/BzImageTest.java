package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.machine.GuestLoader.GuestFormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The setup header parser and the boot plan, on made-up images (no KVM needed). */
class BzImageTest {
    /** A bzImage as Debian's 6.12 kernel's header has it: protocol 2.15, 2 MiB alignment, relocatable. */
    static ByteBuffer image(int setupSects, int kernelBytes) {
        int sects = setupSects == 0 ? 4 : setupSects;
        ByteBuffer b = ByteBuffer.allocate((sects + 1) * 512 + kernelBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) setupSects);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb).put(0x201, (byte) 0x6a);      // jmp to 0x26c: the header's end
        b.putInt(0x202, BzImage.HEADER_MAGIC);
        b.putShort(0x206, (short) 0x020f);
        b.put(0x211, (byte) BzImage.LOADED_HIGH);
        b.putInt(0x22c, 0x7fff_ffff);
        b.putInt(0x230, 0x20_0000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) 0x7f);
        b.putInt(0x238, 2047);
        b.putLong(0x258, 0x100_0000);
        b.putInt(0x260, 0x40_0000);
        for (int i = 0; i < kernelBytes; i++) {
            b.put((sects + 1) * 512 + i, (byte) (i * 7));
        }
        return b;
    }

    @Test
    void readsTheSetupHeader() throws Exception {
        BzImage k = BzImage.parse(image(39, 4096).array());
        assertEquals(0x020f, k.protocol());
        assertEquals(40 * 512, k.kernelOffset());
        assertEquals(0x20_0000, k.kernelAlignment());
        assertTrue(k.relocatable());
        assertEquals(2047, k.cmdlineSize());
        assertEquals(0x40_0000, k.initSize());
        assertEquals(0x26c - 0x1f1, k.setupHeader().length);
        assertEquals(4096, k.protectedModeKernel().length);
        assertEquals((byte) 7, k.protectedModeKernel()[1]);
    }

    @Test
    void zeroSetupSectsMeansFour() throws Exception {
        assertEquals(5 * 512, BzImage.parse(image(0, 512).array()).kernelOffset());
    }

    @Test
    void refusesWhatItCannotBoot() {
        assertMessage(new byte[100], "HdrS");
        assertMessage(put(image(4, 512), b -> b.putInt(0x202, 0x12345678)), "HdrS");
        assertMessage(put(image(4, 512), b -> b.putShort(0x206, (short) 0x020b)), "boot protocol 2.11 is too old");
        assertMessage(put(image(4, 512), b -> b.putShort(0x236, (short) 0)), "XLF_KERNEL_64");
        assertMessage(put(image(4, 512), b -> b.put(0x211, (byte) 0)), "zImage");
        assertMessage(put(image(4, 512), b -> b.put(0x201, (byte) 0x10)), "setup header's length");
        assertMessage(put(image(4, 512), b -> b.put(0x1f1, (byte) 0xff)), "setup_sects 255");
        assertMessage(put(image(4, 512), b -> b.putInt(0x230, 0x30_0000)), "power of two");
        assertMessage(put(image(4, 512), b -> b.putInt(0x260, 16)), "init_size");
        assertMessage(put(image(4, 512), b -> b.put(0x234, (byte) 0).putLong(0x258, 0x1234)), "non-relocatable");
    }

    @Test
    void truncatedHeadersNeverThrowAnythingElse() {
        byte[] full = image(4, 512).array();
        for (int len = 0; len < full.length; len += 7) {
            byte[] cut = Arrays.copyOf(full, len);
            try {
                BzImage.parse(cut);
            } catch (GuestFormatException e) {
                // expected for most lengths
            }
        }
    }

    @Test
    void plansTheZeroPageTheE820MapAndTheInitrd() throws Exception {
        BzImage k = BzImage.parse(image(39, 4096).array());
        byte[] initrd = new byte[10_000];
        LinuxBoot.Layout l = LinuxBoot.plan(k, 256L << 20, "console=ttyS0", initrd, 0xe0000);
        assertEquals(0x100_0000, l.kernelAddress());
        assertEquals(0x100_0200, l.entry());
        assertEquals(((256L << 20) - 10_000) & ~0xfffL, l.initrdAddress());
        assertEquals(List.of(new LinuxBoot.E820(0, 0x9fc00, 1), new LinuxBoot.E820(0x9fc00, 0x400, 2),
                new LinuxBoot.E820(0xe0000, 0x20000, 2), new LinuxBoot.E820(0x100000, (256L << 20) - 0x100000, 1)),
                l.e820());
        byte[] zp = l.blobs().stream().filter(b -> b.address() == LinuxBoot.ZERO_PAGE).findFirst().orElseThrow().bytes();
        ByteBuffer z = ByteBuffer.wrap(zp).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(BzImage.HEADER_MAGIC, z.getInt(0x202));
        assertEquals(0xff, z.get(0x210) & 0xff);
        assertEquals(BzImage.LOADED_HIGH | LinuxBoot.CAN_USE_HEAP, z.get(0x211) & 0xff);
        assertEquals(LinuxBoot.HEAP_END, z.getShort(0x224) & 0xffff);
        assertEquals(LinuxBoot.CMDLINE, z.getInt(0x228));
        assertEquals(l.initrdAddress(), z.getInt(0x218));
        assertEquals(10_000, z.getInt(0x21c));
        assertEquals(0xe0000, z.getLong(0x070));
        assertEquals(4, z.get(0x1e8));
        assertEquals(0x100000, z.getLong(0x2d0 + 3 * 20));
        assertEquals(1, z.getInt(0x2d0 + 3 * 20 + 16));
        byte[] line = l.blobs().stream().filter(b -> b.address() == LinuxBoot.CMDLINE).findFirst().orElseThrow().bytes();
        assertArrayEquals("console=ttyS0\0".getBytes(), line);
    }

    @Test
    void refusesWhatDoesNotFit() throws Exception {
        BzImage k = BzImage.parse(image(39, 4096).array());
        assertPlanMessage(() -> LinuxBoot.plan(k, 16L << 20, "", new byte[0], 0), "init_size");
        assertPlanMessage(() -> LinuxBoot.plan(k, 64L << 20, "x".repeat(2048), new byte[0], 0), "cmdline_size");
        assertPlanMessage(() -> LinuxBoot.plan(k, 24L << 20, "", new byte[8 << 20], 0), "initrd");
        BzImage far = BzImage.parse(put(image(39, 4096), b -> b.putLong(0x258, Long.MAX_VALUE - 5)));
        assertPlanMessage(() -> LinuxBoot.plan(far, 64L << 20, "", new byte[0], 0), "init_size");
        // A protocol 2.13 kernel gets no RSDP address: the field did not exist then.
        BzImage old = BzImage.parse(put(image(39, 4096), b -> b.putShort(0x206, (short) 0x020d)));
        byte[] zp = LinuxBoot.plan(old, 64L << 20, "", new byte[0], 0xe0000).blobs().get(1).bytes();
        assertEquals(0, ByteBuffer.wrap(zp).order(ByteOrder.LITTLE_ENDIAN).getLong(0x070));
    }

    private static byte[] put(ByteBuffer b, java.util.function.Consumer<ByteBuffer> change) {
        change.accept(b);
        return b.array();
    }

    private static void assertMessage(byte[] file, String part) {
        GuestFormatException e = assertThrows(GuestFormatException.class, () -> BzImage.parse(file));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    private static void assertPlanMessage(org.junit.jupiter.api.function.Executable plan, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, plan);
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }
}
