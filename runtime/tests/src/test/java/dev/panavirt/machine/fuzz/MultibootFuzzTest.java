package dev.panavirt.machine.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.machine.GuestLoader;
import dev.panavirt.machine.GuestLoader.GuestFormatException;
import dev.panavirt.machine.Multiboot;
import dev.panavirt.machine.MultibootInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A kernel file as {@code panavirt run --kernel FILE [--append ARGS] [--initrd FILE] --mem N} reads it: the
 * multiboot header and the kernel it describes ({@link Multiboot#parse}), then the boot layout
 * ({@link MultibootInfo#plan}). Parsing fails only with {@link GuestFormatException}, planning only with
 * {@link IllegalArgumentException}, both with a message. A kernel's bytes come from the file (at most its
 * length in all); a plan puts the modules and the information structure inside RAM, clear of the kernel and
 * of each other, and the structure points at the command line and modules it was given.
 *
 * <p>The file is the input's front; RAM size, command line and module size come from its last bytes, so a
 * saved kernel file followed by a few bytes is a seed.
 */
class MultibootFuzzTest {
    private static final long[] RAM_SIZES = {1L << 20, 2L << 20, 16L << 20, 256L << 20, MultibootInfo.MAX_RAM,
        MultibootInfo.MAX_RAM + 4096};
    private static final String[] CMDLINES = {"kernel", "x86/smptest.flat arg1 arg2", "nul\0inside",
        "ünïcode " + "x".repeat(300), ""};

    @FuzzTest(maxDuration = "10s")
    void kernelAndBootLayout(FuzzedDataProvider data) {
        long ram = data.consumeBoolean() ? data.pickValue(RAM_SIZES) : data.consumeLong(0, 1L << 32);
        String cmdline = data.pickValue(CMDLINES);
        int moduleBytes = data.consumeInt(-1, 64 << 10);
        byte[] file = data.consumeRemainingAsBytes();
        Multiboot.Kernel kernel;
        try {
            kernel = Multiboot.parse(file);
        } catch (GuestFormatException e) {
            FuzzChecks.message(e);
            return;
        }
        long copied = 0;
        for (GuestLoader.Segment s : kernel.segments()) {
            copied += s.fileBytes().length;
            assertTrue(s.fileBytes().length <= s.memSize() && s.physAddr() >= 0, "segment " + s);
        }
        assertTrue(copied <= file.length, copied + " kernel bytes from a " + file.length + "-byte file");

        List<Multiboot.Module> modules = moduleBytes < 0 ? List.of()
                : List.of(new Multiboot.Module(new byte[moduleBytes], "initrd"));
        MultibootInfo.Layout layout;
        try {
            layout = MultibootInfo.plan(kernel, ram, cmdline, modules);
        } catch (IllegalArgumentException e) {
            FuzzChecks.message(e);
            return;
        }
        checkLayout(kernel, ram, cmdline, modules, layout);
    }

    private static void checkLayout(Multiboot.Kernel kernel, long ram, String cmdline, List<Multiboot.Module> modules,
            MultibootInfo.Layout layout) {
        assertTrue(kernel.highest() <= ram, "the kernel ends inside RAM");
        List<long[]> placed = new ArrayList<>();
        for (MultibootInfo.Blob b : layout.blobs()) {
            long end = b.address() + b.bytes().length;
            assertTrue(b.address() >= 0 && end <= ram, "blob at 0x" + Long.toHexString(b.address()) + " inside RAM");
            assertFalse(b.bytes().length > 0 && kernel.overlaps(b.address(), b.bytes().length),
                    "blob at 0x" + Long.toHexString(b.address()) + " clear of the kernel");
            for (long[] p : placed) {
                assertFalse(b.address() < p[1] && p[0] < end, "blobs overlap");
            }
            if (b.bytes().length > 0) {
                placed.add(new long[] {b.address(), end});
            }
        }
        assertEquals(modules.size(), layout.moduleStarts().size());
        MultibootInfo.Blob info = layout.blobs().getLast();
        assertEquals(layout.infoAddress(), info.address());
        ByteBuffer b = ByteBuffer.wrap(info.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(modules.size(), b.getInt(20), "mods_count");
        long cmdAt = Integer.toUnsignedLong(b.getInt(16)) - info.address();
        assertTrue(cmdAt >= 0 && cmdAt < info.bytes().length, "cmdline inside the information area");
        byte[] expected = cmdline.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], info.bytes()[(int) cmdAt + i], "cmdline byte " + i);
        }
        assertEquals(0, info.bytes()[(int) cmdAt + expected.length], "cmdline NUL");
    }
}
