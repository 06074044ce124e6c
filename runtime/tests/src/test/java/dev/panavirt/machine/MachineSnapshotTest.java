package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.kvm.state.UnsavedStateException;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vmm.BusDevice;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A gcc-built guest that counts through the UART is snapshotted mid-run in this JVM and restored in a second JVM
 * process: the two runs' console output together, and the second's exit status, equal an uninterrupted run's.
 */
@KvmTest
class MachineSnapshotTest {
    static final long MEM = 16L << 20;
    static final Duration LIMIT = Duration.ofSeconds(60);
    /** The status the guest leaves with: debug exit 0x21, so (0x21 << 1) | 1. */
    static final int GUEST_STATUS = 67;

    /**
     * 150 lines, each after stirring a 512 KiB table and waiting 10 million TSC cycles (2.5 ms at 4 GHz): at least
     * 375 ms on any host, so a snapshot at 200 ms falls mid-run (about 1.5 s on the paravirtual KVM, whose guest
     * is slower at the table). Each line shows the running hash, so lost or repeated work shows.
     */
    static final GuestImage COUNTER = Guests.c("""
            static u64 table[1 << 16];
            static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
            static void say(const char *s) { while (*s) outb(0x3f8, *s++); }
            int main(void) {
                u64 h = 7;
                char buf[24];
                for (u32 i = 0; i < 150; i++) {
                    for (u32 j = 0; j < 256; j++) {
                        u64 *p = &table[(h >> 7) & ((1 << 16) - 1)];
                        *p += h;
                        h = h * 6364136223846793005ull + 1442695040888963407ull + *p;
                    }
                    say("line "); say(pv_hex(buf, i)); say(" hash "); say(pv_hex(buf, h)); say("\\n");
                    u64 t = rdtsc();
                    while (rdtsc() - t < 10000000ull) cpu_relax();
                }
                outl(0xf4, 0x21);
                return 0;
            }
            """);

    @TempDir
    Path dir;

    static Machine machine(boolean irqchip, OutputStream console) throws Exception {
        Machine m = new Machine(new Machine.Config(MEM, 1, irqchip, LIMIT), console);
        m.load(COUNTER, Machine.Mode.LONG);
        return m;
    }

    @ParameterizedTest(name = "irqchip {0}")
    @ValueSource(booleans = {false, true})
    void aSnapshotTakenMidRunResumesInANewProcess(boolean irqchip) throws Exception {
        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        Machine.Result uninterrupted;
        try (Machine m = machine(irqchip, whole)) {
            uninterrupted = m.run();
        }
        assertEquals(GUEST_STATUS, uninterrupted.exitStatus(), uninterrupted.message());
        String expected = whole.toString(StandardCharsets.UTF_8);
        assertEquals(150, expected.lines().count());

        Path file = dir.resolve("counter.snap");
        ByteArrayOutputStream before = new ByteArrayOutputStream();
        try (Machine m = machine(irqchip, before)) {
            m.snapshotAfter(Duration.ofMillis(200), file);
            Machine.Result r = m.run();
            assertEquals(Machine.Outcome.SNAPSHOT, r.outcome(), r.message());
            assertEquals(Machine.EXIT_SNAPSHOT, r.exitStatus());
        }
        String first = before.toString(StandardCharsets.UTF_8);
        assertFalse(first.isEmpty(), "the snapshot came after some output");
        assertTrue(first.length() < expected.length(), "the snapshot came before the end");
        assertTrue(Files.size(file) >= MEM, "the file holds all of RAM's address range");

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", classPath(),
                SnapshotResume.class.getName(), file.toString()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] rest = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(GUEST_STATUS, p.exitValue(), "the restored run's status");
        assertEquals(expected, first + new String(rest, StandardCharsets.UTF_8));
    }

    /**
     * The second JVM's class path: where this JVM loaded the runtime's modules and this test from (a launcher such
     * as the lane's console launcher names them in an option, not in {@code java.class.path}), then the rest.
     */
    static String classPath() {
        java.util.LinkedHashSet<String> entries = new java.util.LinkedHashSet<>();
        for (Class<?> c : List.of(SnapshotResume.class, Machine.class, dev.panavirt.kvm.Kvm.class,
                dev.panavirt.sys.Ioctl.class, dev.panavirt.base.Errno.class, dev.panavirt.bindings.kvm.kvm_h.class,
                dev.panavirt.vhost.VdpaDevice.class, dev.panavirt.vfio.VfioDevice.class,
                dev.panavirt.models.vdpa.VdpaSim.class)) {
            try {
                entries.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
            } catch (java.net.URISyntaxException e) {
                throw new AssertionError(e);
            }
        }
        entries.addAll(List.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)));
        return String.join(java.io.File.pathSeparator, entries);
    }

    @Test
    void aDeviceWithoutStateRefusesTheSnapshotByName() throws Exception {
        try (Machine m = machine(false, OutputStream.nullOutputStream())) {
            m.mmio().insert(new BusDevice() {
                @Override
                public void read(long base, long offset, MemorySegment data) {
                }

                @Override
                public void write(long base, long offset, MemorySegment data) {
                }
            }, 0xd100_0000L, 0x1000);
            UnsavedStateException e = assertThrows(UnsavedStateException.class,
                    () -> m.snapshotAfter(Duration.ofSeconds(1), dir.resolve("x")));
            assertTrue(e.getMessage().contains("mmio device at 0xd1000000"), e.getMessage());
            assertFalse(Files.exists(dir.resolve("x")));
        }
    }

    @Test
    void aVirtioDeviceRefusesTheSnapshotByName() throws Exception {
        try (Machine m = new Machine(new Machine.Config(MEM, 1, true, LIMIT), OutputStream.nullOutputStream())) {
            m.addVirtioMmio(dev.panavirt.vhost.ModelVdpa.net(new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56}));
            List<String> refused = m.snapshotRefusals();
            assertEquals(1, refused.size(), refused.toString());
            assertTrue(refused.getFirst().startsWith("virtio-mmio device 0 at 0xd0000000"), refused.getFirst());
            assertThrows(UnsavedStateException.class, () -> m.snapshotAfter(Duration.ofSeconds(1), dir.resolve("y")));
        }
    }

    @Test
    void aDamagedFileIsRefusedBeforeAnythingRuns() throws Exception {
        Path file = dir.resolve("good.snap");
        try (Machine m = machine(true, OutputStream.nullOutputStream())) {
            MachineSnapshot.save(m, file, Duration.ZERO);
        }
        byte[] header = new byte[MachineSnapshot.HEADER];
        try (FileChannel ch = FileChannel.open(file)) {
            ch.read(ByteBuffer.wrap(header), 0);
        }
        // Wrong magic, another version, a description longer than the file, RAM past the end.
        assertRefused(file, 0, (byte) 'Q', "magic");
        assertRefused(file, 8, (byte) 2, "version");
        assertRefusedLong(file, 24, 1L << 40, "do not fit");
        assertRefusedLong(file, 40, MEM * 4, "do not fit");
        // Cut short: inside the header, inside the description, inside RAM.
        for (long n : new long[] {10, MachineSnapshot.HEADER + 20, MEM / 2}) {
            Path cut = dir.resolve("cut" + n);
            Files.copy(file, cut);
            try (FileChannel ch = FileChannel.open(cut, StandardOpenOption.WRITE)) {
                ch.truncate(n);
            }
            assertThrows(MachineSnapshot.FormatException.class,
                    () -> MachineSnapshot.restore(cut, OutputStream.nullOutputStream()), "cut at " + n);
        }
        // The good file restores.
        MachineSnapshot.restore(file, OutputStream.nullOutputStream()).machine().close();
    }

    private void assertRefused(Path good, int at, byte value, String part) throws Exception {
        Path bad = dir.resolve("bad-" + at);
        Files.copy(good, bad);
        try (FileChannel ch = FileChannel.open(bad, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {value}), at);
        }
        var e = assertThrows(MachineSnapshot.FormatException.class,
                () -> MachineSnapshot.restore(bad, OutputStream.nullOutputStream()));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    private void assertRefusedLong(Path good, int at, long value, String part) throws Exception {
        Path bad = dir.resolve("bad-" + at);
        Files.copy(good, bad);
        try (FileChannel ch = FileChannel.open(bad, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value), at);
        }
        var e = assertThrows(MachineSnapshot.FormatException.class,
                () -> MachineSnapshot.restore(bad, OutputStream.nullOutputStream()));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }
}
