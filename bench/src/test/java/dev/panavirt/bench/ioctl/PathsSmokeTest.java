package dev.panavirt.bench.ioctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panavirt.bench.support.CHarness;
import dev.panavirt.bench.support.Call;
import dev.panavirt.bench.support.Fixture;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.VcpuExit;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.openjdk.jmh.annotations.Param;

/**
 * Calls every path of every per-call benchmark, for every value of its {@code @Param} (read from the
 * annotation, so a new value is tested too), a few times outside JMH, so a broken path (a wrong request,
 * buffer or guest) fails the build in seconds instead of a benchmark run. Needs /dev/kvm: skipped without
 * it, failed without it when the build requires KVM ({@code -Dpanavirt.require=kvm}).
 */
@Tag("kvm")
class PathsSmokeTest {

    @BeforeAll
    static void needsKvm() {
        boolean required = System.getProperty("panavirt.require", "").contains("kvm");
        if (required) {
            assertEquals(true, Kvm.available(), "/dev/kvm is required (panavirt.require=kvm) but not usable");
        }
        assumeTrue(Kvm.available(), "/dev/kvm is not available");
    }

    /** The values of the benchmark class's {@code @Param} field. */
    private static Stream<String> params(Class<? extends PerCall> benchmark) {
        return Arrays.stream(benchmark.getFields()).filter(f -> f.isAnnotationPresent(Param.class))
                .flatMap(f -> Arrays.stream(f.getAnnotation(Param.class).value()));
    }

    static Stream<String> directions() {
        return params(Regs.class);
    }

    static Stream<String> exits() {
        return params(KvmRun.class);
    }

    static Stream<String> eventfds() {
        return params(EventfdWrite.class);
    }

    /** Runs {@code body} on {@code b} set up for every path, then tears it down. */
    private static <T extends PerCall> void onEveryPath(T b, Body<T> body) throws Exception {
        b.init("all");
        try {
            body.run(b);
        } finally {
            b.tearDown();
        }
    }

    private interface Body<T> {
        void run(T b) throws Exception;
    }

    @Test
    void cHarnessLoads() {
        assertEquals(42, CHarness.hello());
    }

    @Test
    void checkExtensionAgreesOnEveryPath() throws Exception {
        onEveryPath(new CheckExtension(), b -> {
            for (int i = 0; i < 3; i++) {
                int expected = b.panavirt();
                assertEquals(1, expected, "KVM_CAP_USER_MEMORY");
                assertEquals(expected, b.ffmErrno());
                assertEquals(expected, b.ffmCritical());
                assertEquals(expected, b.ffm());
                assertEquals(expected, b.jna());
                assertEquals(expected, b.jnr());
                assertEquals(expected, b.jnrPosix());
                assertEquals((long) expected * CheckExtension.N, b.c());
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("directions")
    void registerPathsSucceed(String direction) throws Exception {
        Regs regs = new Regs();
        regs.direction = direction;
        onEveryPath(regs, b -> {
            assertEquals(0, kvm_regs.rip(b.panavirt()), "real-mode entry 0x7c0:0");
            assertEquals(0, b.ffmErrno());
            assertEquals(0, b.ffm());
            assertEquals(0, b.jna());
            assertEquals(0, b.jnr());
            assertEquals(0, b.c());
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("exits")
    void guestExitsOnEveryRunOnEveryPath(String exit) throws Exception {
        KvmRun run = new KvmRun();
        run.exit = exit;
        int expected = exit.equals("pio") ? kvm_h.KVM_EXIT_IO() : kvm_h.KVM_EXIT_MMIO();
        onEveryPath(run, b -> {
            for (int i = 0; i < 3; i++) {
                VcpuExit e = b.panavirt();
                if (exit.equals("pio")) {
                    assertInstanceOf(VcpuExit.Io.class, e);
                } else {
                    VcpuExit.Mmio m = assertInstanceOf(VcpuExit.Mmio.class, e);
                    assertEquals(0xf000, m.address());
                    assertEquals(true, m.isWrite());
                }
                assertEquals(expected, b.ffmErrno());
                assertEquals(expected, b.ffm());
                assertEquals(expected, b.jna());
                assertEquals(expected, b.jnr());
                assertEquals(KvmRun.N, b.c());
            }
        });
    }

    @Test
    void dirtyLogOfTheGibibyteSlotIsCleanOnEveryPath() throws Exception {
        onEveryPath(new GetDirtyLog(), b -> {
            long[] bits = b.panavirt().toArray(ValueLayout.JAVA_LONG);
            assertEquals(GetDirtyLog.SLOT_SIZE / 4096 / 64, bits.length);
            assertEquals(0, Arrays.stream(bits).filter(w -> w != 0).count());
            assertEquals(0, b.ffmErrno());
            assertEquals(0, b.ffm());
            assertEquals(0, b.jna());
            assertEquals(0, b.jnr());
            assertEquals(0, b.c());
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("eventfds")
    void eventfdWritesTakeEightBytesOnEveryPath(String eventfd) throws Exception {
        EventfdWrite write = new EventfdWrite();
        write.eventfd = eventfd;
        onEveryPath(write, b -> {
            b.panavirt();
            assertEquals(8, b.ffmErrno());
            assertEquals(8, b.ffm());
            assertEquals(8, b.jna());
            assertEquals(8, b.jnr());
            assertEquals(8, b.jnrPosix());
            assertEquals(8L * EventfdWrite.N, b.c());
        });
    }

    @Test
    void criticalAndJnrPosixPathsReportTheErrnoOfAFailure() {
        Fixture f = new Fixture("all").target(Integer.MAX_VALUE, "KVM_CHECK_EXTENSION on a closed fd");
        IllegalStateException critical = assertThrows(IllegalStateException.class,
                () -> Call.ffmCritical(f, CheckExtension.REQUEST, CheckExtension.CAP_NUMBER));
        assertTrue(critical.getMessage().endsWith("errno 9"), critical.getMessage());
        IllegalStateException posix = assertThrows(IllegalStateException.class,
                () -> Call.jnrPosix(f, CheckExtension.REQUEST, CheckExtension.CAP_NUMBER));
        assertTrue(posix.getMessage().endsWith("errno 9"), posix.getMessage());
    }

    @Test
    void criticalDowncallBenchmarkAnswersOnBothHandles() throws Exception {
        CriticalDowncall b = new CriticalDowncall();
        b.setup();
        try {
            assertEquals(0, b.nopPlain());
            assertEquals(0, b.nopCritical());
            assertEquals(1, b.checkExtensionPlain());
            assertEquals(1, b.checkExtensionCritical());
        } finally {
            b.tearDown();
        }
    }

    @Test
    void openCloseGivesADescriptorOnEveryPathAndLeavesNoneOpen() throws Exception {
        long before = openDescriptors();
        onEveryPath(new OpenClose(), b -> {
            for (int i = 0; i < 3; i++) {
                assertTrue(b.panavirt() >= 0);
                assertTrue(b.ffmErrno() >= 0);
                assertTrue(b.ffm() >= 0);
                assertTrue(b.jna() >= 0);
                assertTrue(b.jnr() >= 0);
                assertTrue(b.jnrPosix() >= 0);
                assertEquals(OpenClose.N, b.c());
            }
        });
        assertEquals(before, openDescriptors(), "every path closes what it opens");
    }

    private static long openDescriptors() throws java.io.IOException {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
