package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Where the boot data goes and what the information structure holds, checked byte by byte without a VM. */
class MultibootInfoTest {
    static final long MIB = 1 << 20;

    static Multiboot.Kernel kernelAt(long paddr, long memSize) {
        return new Multiboot.Kernel(new Multiboot.Header(0, 0, 0, 0, 0, 0, 0),
                List.of(new GuestLoader.Segment(paddr, new byte[16], memSize)), paddr, true);
    }

    /** The blob that holds the information structure, as a little-endian buffer addressed by guest address. */
    static final class Guest {
        final MultibootInfo.Layout layout;
        final ByteBuffer info;
        final long base;

        Guest(MultibootInfo.Layout layout) {
            this.layout = layout;
            MultibootInfo.Blob blob = layout.blobs().stream().filter(b -> b.address() == layout.infoAddress())
                    .findFirst().orElseThrow();
            this.base = blob.address();
            this.info = ByteBuffer.wrap(blob.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        }

        int u32(int offset) {
            return info.getInt(offset);
        }

        int at(long guestAddress, int offset) {
            return info.getInt((int) (guestAddress - base) + offset);
        }

        long u64At(long guestAddress, int offset) {
            return info.getLong((int) (guestAddress - base) + offset);
        }

        String string(long guestAddress) {
            int start = (int) (guestAddress - base);
            int end = start;
            while (info.get(end) != 0) {
                end++;
            }
            return new String(info.array(), start, end - start, StandardCharsets.UTF_8);
        }
    }

    @Test
    void theInformationStructureSaysWhatQemuSays() {
        Guest g = new Guest(MultibootInfo.plan(kernelAt(0x100000, 0x5000), 128 * MIB, "/x/kernel.flat -v arg",
                List.of()));
        assertEquals(MultibootInfo.INFO_BASE, g.layout.infoAddress());
        assertEquals(MultibootInfo.COURTESY_STACK_TOP, g.layout.stackTop());
        assertEquals(0x24d, g.u32(MultibootInfo.FLAGS));
        assertEquals(640, g.u32(MultibootInfo.MEM_LOWER));
        assertEquals(127 * 1024, g.u32(MultibootInfo.MEM_UPPER));
        assertEquals("/x/kernel.flat -v arg", g.string(g.u32(MultibootInfo.CMDLINE)));
        assertEquals("panavirt", g.string(g.u32(MultibootInfo.BOOT_LOADER_NAME)));
        assertEquals(0, g.u32(MultibootInfo.MODS_COUNT));
        assertEquals(0, g.u32(MultibootInfo.MODS_ADDR));
        assertEquals(2 * MultibootInfo.MMAP_ENTRY_SIZE, g.u32(MultibootInfo.MMAP_LENGTH));
        long mmap = Integer.toUnsignedLong(g.u32(MultibootInfo.MMAP_ADDR));
        assertEquals(20, g.at(mmap, 0));
        assertEquals(0, g.u64At(mmap, 4));
        assertEquals(0xa0000, g.u64At(mmap, 12));
        assertEquals(1, g.at(mmap, 20));
        assertEquals(20, g.at(mmap, 24));
        assertEquals(MIB, g.u64At(mmap, 28));
        assertEquals(127 * MIB, g.u64At(mmap, 36));
        assertEquals(1, g.at(mmap, 44));
        assertEquals(List.of(), g.layout.moduleStarts());
        assertEquals(1, g.layout.blobs().size());
    }

    @Test
    void modulesArePageAlignedAfterTheKernel() {
        byte[] env = "NR_CPUS=2\nMEMSIZE=128\n".getBytes(StandardCharsets.US_ASCII);
        byte[] second = new byte[5000];
        Guest g = new Guest(MultibootInfo.plan(kernelAt(0x400000, 0x12345), 128 * MIB, "k",
                List.of(new Multiboot.Module(env, "env.txt"), new Multiboot.Module(second, "two args"))));
        assertEquals(List.of(0x413000L, 0x414000L), g.layout.moduleStarts());
        assertEquals(2, g.u32(MultibootInfo.MODS_COUNT));
        long mods = Integer.toUnsignedLong(g.u32(MultibootInfo.MODS_ADDR));
        assertEquals(0x413000, g.at(mods, 0));
        assertEquals(0x413000 + env.length, g.at(mods, 4));
        assertEquals("env.txt", g.string(g.at(mods, 8)));
        assertEquals(0x414000, g.at(mods, 16));
        assertEquals(0x414000 + 5000, g.at(mods, 20));
        assertEquals("two args", g.string(g.at(mods, 24)));
        MultibootInfo.Blob first = g.layout.blobs().get(0);
        assertEquals(0x413000, first.address());
        assertArrayEquals(env, first.bytes());
    }

    @Test
    void modulesOfALowKernelStillGoAboveOneMiB() {
        MultibootInfo.Layout l = MultibootInfo.plan(kernelAt(0x20000, 0x1000), 16 * MIB, "k",
                List.of(new Multiboot.Module(new byte[1], "m")));
        assertEquals(List.of(MIB), l.moduleStarts());
        assertEquals(MultibootInfo.INFO_BASE, l.infoAddress());
    }

    @Test
    void aKernelOverTheUsualPlacesMovesTheInformationAndTheStack() {
        MultibootInfo.Layout l = MultibootInfo.plan(kernelAt(0x8000, 0x10000), 16 * MIB, "k",
                List.of(new Multiboot.Module(new byte[10], "m")));
        assertEquals(MIB + 0x1000, l.infoAddress(), "after the module");
        assertEquals(0, l.stackTop());
    }

    @Test
    void aLongCommandLineMovesTheInformationOutOfLowMemory() {
        String cmd = "k " + "x".repeat(700_000);
        Guest g = new Guest(MultibootInfo.plan(kernelAt(0x100000, 0x1000), 16 * MIB, cmd, List.of()));
        assertEquals(0x101000, g.layout.infoAddress());
        assertEquals(cmd, g.string(g.u32(MultibootInfo.CMDLINE)));
    }

    @Test
    void whatDoesNotFitIsReported() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MultibootInfo.plan(kernelAt(0x100000, 2 * MIB), 2 * MIB, "k", List.of()));
        assertTrue(e.getMessage().contains("beyond the end of RAM"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MultibootInfo.plan(kernelAt(0x100000, 0x1000),
                2 * MIB, "k", List.of(new Multiboot.Module(new byte[(int) MIB], "big"))));
        assertTrue(e.getMessage().contains("modules"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MultibootInfo.plan(kernelAt(0x100000, 0x1000), 4L << 30, "k", List.of()));
        assertTrue(e.getMessage().contains("3072 MiB"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MultibootInfo.plan(kernelAt(0x100000, 0x1000), 16 * MIB, "k\0x", List.of()));
        assertTrue(e.getMessage().contains("NUL"), e.getMessage());
    }
}
