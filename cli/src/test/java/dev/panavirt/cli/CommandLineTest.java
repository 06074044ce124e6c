package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.kvm.KvmFlavour;
import dev.panavirt.machine.Machine;
import dev.panavirt.machine.testkernels.TestKernels;
import dev.panavirt.testsupport.KvmTest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line end to end on the real /dev/kvm: outputs and exit statuses. */
@KvmTest
class CommandLineTest {
    @TempDir
    Path dir;

    record Outcome(int status, String out, String err) {}

    private static synchronized Outcome run(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.commandLine();
            cl.setOut(new PrintWriter(out));
            cl.setErr(new PrintWriter(err));
            int status = cl.execute(args);
            System.out.flush();
            return new Outcome(status, console.toString(StandardCharsets.UTF_8) + out, err.toString());
        } finally {
            System.setOut(oldOut);
        }
    }

    private Path flat(int... code) throws Exception {
        byte[] b = new byte[code.length];
        for (int i = 0; i < code.length; i++) {
            b[i] = (byte) code[i];
        }
        Path p = Files.createTempFile(dir, "guest", ".bin");
        Files.write(p, b);
        return p;
    }

    @Test
    void snapshotThenRestoreGivesTheUninterruptedOutputAndStatus() throws Exception {
        Path guest = dir.resolve("counter.bin");
        Files.write(guest, dev.panavirt.testsupport.CounterGuest.IMAGE.bytes());
        Outcome whole = run("run", guest.toString(), "--irqchip", "--timeout", "60");
        assertEquals(67, whole.status(), whole.err());
        Path snap = dir.resolve("counter.snap");
        Outcome first = run("run", guest.toString(), "--irqchip", "--timeout", "60", "--snapshot", snap.toString(),
                "--snapshot-after", "200ms");
        assertEquals(Machine.EXIT_SNAPSHOT, first.status(), first.err());
        assertTrue(first.err().contains("saved a snapshot to " + snap), first.err());
        Outcome rest = run("run", "--restore", snap.toString());
        assertEquals(67, rest.status(), rest.err());
        assertEquals(whole.out(), first.out() + rest.out());
        Files.write(snap, new byte[] {'n', 'o', 'p', 'e'});
        Outcome bad = run("run", "--restore", snap.toString());
        assertEquals(Main.EXIT_BAD_INPUT, bad.status(), bad.err());
        assertTrue(bad.err().contains("shorter than the 64-byte header"), bad.err());
    }

    @Test
    void migrateMovesTheRunningGuestIntoASecondProcessThatEndsItAsAnUnmovedRun() {
        // rounds that outlast a move on either KVM (MachineMigrationTest.ROUNDS gives the measurements): ~3.4 s on
        // the paravirtual KVM, ~14 s in the nested host, where the JVM under emulation copies slowly
        long rounds = KvmFlavour.detect() == KvmFlavour.PARAVIRTUAL ? 200 : 15_000;
        String expected = dev.panavirt.machine.MigrationDemoGuest.expectedOutput(16L << 20, rounds);
        Outcome stays = run("migrate", "--mem", "16M", "--rounds", String.valueOf(rounds), "--after", "60m",
                "--timeout", "120");
        assertEquals(0, stays.status(), stays.err());
        assertEquals(expected, stays.out());
        assertTrue(stays.err().contains("before the migration could move it"), stays.err());

        Outcome moved = run("migrate", "--mem", "16M", "--rounds", String.valueOf(rounds), "--after", "300ms",
                "--timeout", "120");
        assertEquals(0, moved.status(), moved.err());
        assertEquals(expected, moved.out(), "the console across both processes");
        assertTrue(moved.err().contains("migrate: round 1: sent 4096 pages"), moved.err());
        assertTrue(moved.err().contains("destination: received"), moved.err());
        assertTrue(moved.err().contains("destination: all vCPUs halted (exit status 0)"), moved.err());

        Outcome refused = run("migrate", "--snapshot", "x.snap");
        assertEquals(Main.EXIT_USAGE, refused.status());
        assertTrue(refused.err().contains("--snapshot does not go with migrate"), refused.err());
    }

    @Test
    void demoGuestPrintsItsGreetingAndExitsZero() {
        Outcome o = run("run");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().contains(DemoGuest.GREETING), o.out());
        assertTrue(o.err().contains("received 0x60"), o.err());
    }

    @Test
    void debugExitPortGivesQemuStatus() throws Exception {
        // mov eax, 5; out 0xf4, eax; hlt
        Outcome o = run("run", flat(0xb8, 5, 0, 0, 0, 0xe7, 0xf4, 0xf4).toString());
        assertEquals((5 << 1) | 1, o.status(), o.err());
    }

    @Test
    void realModeFlatBinary() throws Exception {
        // mov al, 'R'; mov dx, 0x3f8; out dx, al; hlt
        Outcome o = run("run", "--mode", "real", flat(0xb0, 'R', 0xba, 0xf8, 0x03, 0xee, 0xf4).toString());
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().startsWith("R"), o.out());
    }

    @Test
    void aGuestThatSpinsHitsTheTimeLimit() throws Exception {
        Outcome o = run("run", "--timeout", "1", flat(0xeb, 0xfe).toString());   // jmp $
        assertEquals(Machine.EXIT_TIMEOUT, o.status());
        assertTrue(o.err().contains("time limit"), o.err());
    }

    @Test
    void tripleFaultIsReportedWithItsStatus() throws Exception {
        // ud2 with the IDT KVM starts with (none set up by the guest): #UD cannot be delivered.
        Outcome o = run("run", flat(0x0f, 0x0b).toString());
        assertEquals(Machine.EXIT_TRIPLE_FAULT, o.status(), o.err());
        assertTrue(o.err().contains("KVM_EXIT_SHUTDOWN"), o.err());
    }

    @Test
    void badFilesAreReportedNotThrown() throws Exception {
        assertEquals(Main.EXIT_BAD_INPUT, run("run", dir.resolve("missing.bin").toString()).status());
        Path elf = Files.write(dir.resolve("bad.elf"), new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        Outcome o = run("run", elf.toString());
        assertEquals(Main.EXIT_BAD_INPUT, o.status());
        assertTrue(o.err().contains("ELF header cut short: 8 of 64 bytes"), o.err());
        Path empty = Files.write(dir.resolve("empty.bin"), new byte[0]);
        assertEquals(Main.EXIT_BAD_INPUT, run("run", empty.toString()).status());
    }

    /** A multiboot kernel whose first argument says what to do; it echoes its command line and module. */
    static final String KERNEL = """
            #include "mbkernel.h"
            static volatile u32 started;
            void ap_main(void)
            {
                __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
                for (;;)
                    asm volatile("cli; hlt");
            }
            static const char *word(const char *s, int n)
            {
                for (; n > 0; n--) {
                    while (*s && *s != ' ')
                        s++;
                    while (*s == ' ')
                        s++;
                }
                return s;
            }
            static int is(const char *w, const char *what)
            {
                while (*what && *w == *what)
                    w++, what++;
                return !*what && (!*w || *w == ' ');
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                const char *cmd = (const char *) mbi->cmdline;
                printk("cmdline=[%s]\\n", cmd);
                if (mbi->mods_count == 1) {
                    struct mb_module *m = (struct mb_module *) mbi->mods_addr;
                    printk("module=[%s]\\n", (const char *) m->cmdline);
                    for (const char *p = (const char *) m->start; p < (const char *) m->end; p++)
                        printk("%c", *p);
                }
                const char *action = word(cmd, 1);
                if (is(action, "exit")) {
                    u32 code = 0;
                    for (const char *p = word(cmd, 2); *p >= '0' && *p <= '9'; p++)
                        code = code * 10 + (*p - '0');
                    return code;
                }
                if (is(action, "smp")) {
                    mask_pic();
                    lapic_enable();
                    u32 cpus = fwcfg_read(0x05, 2);
                    start_aps(0);
                    while (started != cpus - 1)
                        pause();
                    printk("cpus=%u started=%u\\n", cpus, started);
                    return 0;
                }
                if (is(action, "halt"))
                    for (;;)
                        asm volatile("cli; hlt");
                if (is(action, "spin")) {
                    printk("spinning");
                    for (;;)
                        pause();
                }
                if (is(action, "fault")) {
                    struct { u16 limit; u32 base; } __attribute__((packed)) none = { 0, 0 };
                    asm volatile("lidt %0; ud2" : : "m"(none));
                }
                return 0x55;
            }
            """;

    private static String kernel() {
        return TestKernels.build(KERNEL).toString();
    }

    @Test
    void bootsAMultibootKernelWithArgumentsAndAnEnvironment() throws Exception {
        Path env = Files.writeString(dir.resolve("env.txt"), "NR_CPUS=1\nTESTNAME=cli\n");
        Outcome o = run("run", "--kernel", kernel(), "--append", "exit 21", "--initrd", env.toString());
        assertEquals((21 << 1) | 1, o.status(), o.err());
        assertTrue(o.out().contains("cmdline=[" + kernel() + " exit 21]\n"), o.out());
        assertTrue(o.out().contains("module=[" + env + "]\nNR_CPUS=1\nTESTNAME=cli\n"), o.out());
        assertTrue(o.err().contains("debug-exit"), o.err());
    }

    @Test
    void aKernelWithoutArgumentsGetsItsFileNameAsCommandLine() {
        Outcome o = run("run", "--kernel", kernel());
        assertEquals((0x55 << 1) | 1, o.status(), o.err());
        assertTrue(o.out().contains("cmdline=[" + kernel() + "]\n"), o.out());
    }

    @Test
    void kernelSmpThroughInitAndSipi() {
        Outcome o = run("run", "--kernel", kernel(), "--append", "smp", "--vcpus", "2");
        assertEquals(1, o.status(), o.err() + o.out());
        assertTrue(o.out().contains("cpus=2 started=1\n"), o.out());
    }

    @Test
    void kernelHaltedWithInterruptsOffExitsZero() {
        Outcome o = run("run", "--kernel", kernel(), "--append", "halt", "--vcpus", "2");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.err().contains("all vCPUs halted with interrupts disabled"), o.err());
    }

    @Test
    void kernelTimeoutAndTripleFaultHaveTheirStatuses() {
        // 5 s, not 1: the kernel must print before the limit, and under emulation (the nested host on
        // a busy machine) its boot alone has taken more than a second.
        Outcome spin = run("run", "--kernel", kernel(), "--append", "spin", "--timeout", "5");
        assertEquals(Machine.EXIT_TIMEOUT, spin.status(), spin.err());
        assertTrue(spin.out().contains("spinning"), "output without a newline still arrives: " + spin.out());
        assertTrue(spin.err().contains("time limit of 5 s"), spin.err());
        Outcome fault = run("run", "--kernel", kernel(), "--append", "fault");
        assertEquals(Machine.EXIT_TRIPLE_FAULT, fault.status(), fault.err());
        // kvm_amd re-initialises the vCPU before reporting the shutdown (svm.c, shutdown_interception): the
        // registers are the reset state then, and the report says so instead of showing them.
        String where = KvmFlavour.detect() == KvmFlavour.SVM
                ? "triple-faulted (KVM_EXIT_SHUTDOWN); the faulting state is lost"
                : "triple-faulted (KVM_EXIT_SHUTDOWN) at rip 0x";
        assertTrue(fault.err().contains(where), fault.err());
    }

    @Test
    void kernelOptionsAreChecked() throws Exception {
        Path bin = flat(0xf4);
        Outcome both = run("run", "--kernel", kernel(), bin.toString());
        assertEquals(Main.EXIT_USAGE, both.status());
        assertTrue(both.err().contains("either GUEST or --kernel"), both.err());
        Outcome append = run("run", "--append", "x", bin.toString());
        assertEquals(Main.EXIT_USAGE, append.status());
        assertTrue(append.err().contains("--append needs --kernel"), append.err());
        assertEquals(Main.EXIT_USAGE, run("run", "--initrd", bin.toString()).status());
        Outcome mode = run("run", "--kernel", kernel(), "--mode", "real");
        assertEquals(Main.EXIT_USAGE, mode.status());
        assertTrue(mode.err().contains("--mode applies to flat binaries"), mode.err());
        Outcome mem = run("run", "--kernel", kernel(), "--mem", "4G");
        assertEquals(Main.EXIT_USAGE, mem.status());
        assertTrue(mem.err().contains("at most 3072M"), mem.err());
    }

    @Test
    void badKernelsAreReportedNotThrown() throws Exception {
        Outcome flatFile = run("run", "--kernel", flat(0xf4).toString());
        assertEquals(Main.EXIT_BAD_INPUT, flatFile.status());
        assertTrue(flatFile.err().contains("no multiboot header"), flatFile.err());
        Outcome missing = run("run", "--kernel", dir.resolve("none.elf").toString());
        assertEquals(Main.EXIT_BAD_INPUT, missing.status());
        assertTrue(missing.err().contains("no such file"), missing.err());
        Outcome noInitrd = run("run", "--kernel", kernel(), "--initrd", dir.resolve("none.env").toString());
        assertEquals(Main.EXIT_BAD_INPUT, noInitrd.status());
        Outcome small = run("run", "--kernel", kernel(), "--mem", "1M");
        assertEquals(Main.EXIT_BAD_INPUT, small.status());
        assertTrue(small.err().contains("beyond the end of RAM"), small.err());
    }

    @Test
    void theConsoleStreamsEachByte() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        PrintStream buffered = new PrintStream(new java.io.BufferedOutputStream(sink, 1 << 16), false,
                StandardCharsets.UTF_8);
        RunCommand.StreamingOut out = new RunCommand.StreamingOut(buffered);
        out.write('o');
        out.write(new byte[] {'k', '?'}, 0, 1);
        assertEquals("ok", sink.toString(StandardCharsets.UTF_8));
    }

    @Test
    void probeReportsKvmAndBackends() {
        Outcome text = run("probe");
        assertEquals(0, text.status());
        assertTrue(text.out().contains("api_version: 12"), text.out());
        Outcome json = run("probe", "--json");
        assertEquals(0, json.status());
        assertTrue(json.out().contains("\"api_version\": 12"), json.out());
        assertTrue(json.out().contains("\"gicv3_its\": \"model\""), json.out());
        // The flavour and where KVM runs: the lane's guest is kvm_amd, marked nested.
        KvmFlavour flavour = KvmFlavour.detect();
        assertTrue(json.out().contains("\"vendor_module\": \"" + flavour.module() + "\""), json.out());
        boolean nested = "nested".equals(System.getProperty("panavirt.where"));
        assertTrue(text.out().contains("host: " + (nested ? "nested" : "local")), text.out());
        if (nested) {
            assertEquals(KvmFlavour.SVM, flavour, "the nested host's KVM is kvm_amd");
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"probe", "run", "replay", "bench"}) {
            Outcome o = run(cmd, "--help");
            assertEquals(0, o.status());
            assertTrue(o.out().contains("Usage: panavirt " + cmd), o.out());
        }
        String help = run("run", "--help").out();
        for (String option : new String[] {"--kernel=FILE", "--append=ARGS", "--initrd=FILE"}) {
            assertTrue(help.contains(option), help);
        }
        assertTrue(run("--help").out().contains("probe"));
    }
}
