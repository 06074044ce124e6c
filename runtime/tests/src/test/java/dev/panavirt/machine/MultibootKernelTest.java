package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.machine.testkernels.TestKernels;
import dev.panavirt.testsupport.KvmTest;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Multiboot kernels of our own, built with gcc, booted on the real /dev/kvm the way QEMU's {@code -kernel} boots
 * kvm-unit-tests: each kernel checks one convention and reports through the UART and the debug-exit port.
 */
@KvmTest
class MultibootKernelTest {
    private static final long MEM = 64L << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** One boot: how it ended, the console text, where the loader put things, the UART's final divisor. */
    record Run(Machine.Result result, String console, MultibootInfo.Layout layout, int divisor) {
        String why() {
            return result + "\n--- console ---\n" + console;
        }
    }

    static Run boot(String source, int vcpus, long mem, String cmdline, List<Multiboot.Module> modules,
            Duration timeout) throws Exception {
        Multiboot.Kernel kernel = Multiboot.parse(TestKernels.bytes(source));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Machine m = new Machine(new Machine.Config(mem, vcpus, true, timeout), out)) {
            MultibootInfo.Layout layout = m.bootMultiboot(kernel, cmdline, modules);
            Machine.Result r = m.run();
            return new Run(r, out.toString(StandardCharsets.UTF_8), layout, m.serial().divisor());
        }
    }

    static Run boot(String source) throws Exception {
        return boot(source, 1, MEM, "kernel.elf", List.of(), TIMEOUT);
    }

    private static String field(Run run, String name) {
        Matcher m = Pattern.compile("(?m)\\b" + Pattern.quote(name) + "=(\\S*)").matcher(run.console());
        assertTrue(m.find(), "no " + name + "= in the console\n" + run.why());
        return m.group(1);
    }

    static final String INFO_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                printk("magic=%x eflags=%x cr0=%x esp=%x info=%x\\n", magic, entry_eflags, read_cr0(), entry_esp,
                       (u32) mbi);
                printk("flags=%x mem_lower=%u mem_upper=%u mods=%u\\n", mbi->flags, mbi->mem_lower,
                       mbi->mem_upper, mbi->mods_count);
                printk("cmdline=[%s]\\n", (const char *) mbi->cmdline);
                printk("loader=%s\\n", (const char *) mbi->boot_loader_name);
                for (u32 off = 0; off < mbi->mmap_length;) {
                    struct mb_mmap *m = (struct mb_mmap *) (mbi->mmap_addr + off);
                    printk("mmap base=%llx length=%llx type=%u\\n", m->base, m->length, m->type);
                    off += m->size + 4;
                }
                return magic == MB_BOOTLOADER_MAGIC ? 0 : 1;
            }
            """;

    @Test
    void entersInFlatProtectedModeWithTheInformationStructure() throws Exception {
        Run run = boot(INFO_KERNEL, 1, MEM, "/tests/info.flat -v --count=3", List.of(), TIMEOUT);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("2badb002", field(run, "magic"), run.why());
        long eflags = Long.parseLong(field(run, "eflags"), 16);
        assertEquals(0, eflags & 0x200, "interrupts off at entry\n" + run.why());
        long cr0 = Long.parseLong(field(run, "cr0"), 16);
        assertEquals(1, cr0 & 1, "protected mode\n" + run.why());
        assertEquals(0, cr0 >>> 31, "paging off\n" + run.why());
        assertEquals(Long.toHexString(run.layout().infoAddress()), field(run, "info"));
        assertEquals("24d", field(run, "flags"), "memory, cmdline, modules, mmap, loader name");
        assertEquals("640", field(run, "mem_lower"));
        assertEquals(Long.toString((MEM >> 10) - 1024), field(run, "mem_upper"));
        assertEquals("0", field(run, "mods"));
        assertTrue(run.console().contains("cmdline=[/tests/info.flat -v --count=3]\n"), run.why());
        assertEquals("panavirt", field(run, "loader"));
        assertTrue(run.console().contains("mmap base=0 length=a0000 type=1\n"), run.why());
        assertTrue(run.console().contains("mmap base=100000 length=" + Long.toHexString(MEM - (1 << 20))
                + " type=1\n"), run.why());
    }

    static final String ENV_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                printk("mods=%u\\n", mbi->mods_count);
                if (mbi->mods_count != 1)
                    return 2;
                struct mb_module *m = (struct mb_module *) mbi->mods_addr;
                printk("module=%s start=%x size=%u\\n", (const char *) m->cmdline, m->start, m->end - m->start);
                const char *p = (const char *) m->start, *end = (const char *) m->end;
                while (p < end) {
                    const char *line = p;
                    while (p < end && *p != '\\n')
                        p++;
                    if (p > line) {
                        printk("env ");
                        for (const char *c = line; c < p; c++)
                            printk("%c", *c);
                        printk("\\n");
                    }
                    p++;
                }
                return 0;
            }
            """;

    @Test
    void aModuleCarriesTheEnvironment() throws Exception {
        byte[] env = "NR_CPUS=1\nMEMSIZE=64\nTESTNAME=env check\n".getBytes(StandardCharsets.US_ASCII);
        Run run = boot(ENV_KERNEL, 1, MEM, "env.flat", List.of(new Multiboot.Module(env, "/tmp/env.txt")), TIMEOUT);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("1", field(run, "mods"));
        assertEquals("/tmp/env.txt", field(run, "module"));
        long start = Long.parseLong(field(run, "start"), 16);
        assertEquals(run.layout().moduleStarts().getFirst(), start);
        assertEquals(0, start & 0xfff, "page-aligned");
        assertEquals(Integer.toString(env.length), field(run, "size"));
        assertTrue(run.console().contains("env NR_CPUS=1\nenv MEMSIZE=64\nenv TESTNAME=env check\n"), run.why());
    }

    static final String FWCFG_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                u32 sig = fwcfg_read(0x00, 4);
                printk("signature=%c%c%c%c id=%x\\n", sig & 0xff, (sig >> 8) & 0xff, (sig >> 16) & 0xff, sig >> 24,
                       (u32) fwcfg_read(0x01, 4));
                printk("ram=%llx cpus=%u max_cpus=%u\\n", fwcfg_read(0x03, 8), (u32) fwcfg_read(0x05, 2),
                       (u32) fwcfg_read(0x0f, 2));
                printk("cpus_as_u32=%x unknown=%x\\n", (u32) fwcfg_read(0x05, 4), (u32) fwcfg_read(0x1234, 4));
                return 0;
            }
            """;

    @Test
    void fwCfgGivesSignatureCpuCountAndRamSize() throws Exception {
        Run run = boot(FWCFG_KERNEL, 3, 96L << 20, "fwcfg.flat", List.of(), TIMEOUT);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("QEMU", field(run, "signature"));
        assertEquals("1", field(run, "id"));
        assertEquals(Long.toHexString(96L << 20), field(run, "ram"));
        assertEquals("3", field(run, "cpus"));
        assertEquals("3", field(run, "max_cpus"));
        assertEquals("3", field(run, "cpus_as_u32"), "bytes past the end of an item read as 0");
        assertEquals("0", field(run, "unknown"));
    }

    static final String EXIT_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                const char *s = (const char *) mbi->cmdline, *last = s;
                for (; *s; s++)
                    if (*s == ' ')
                        last = s + 1;
                u32 code = 0;
                for (; *last >= '0' && *last <= '9'; last++)
                    code = code * 10 + (*last - '0');
                if (code == 3)
                    outb(0xf4, 3);          /* a byte-wide write works too */
                return code;                /* entry.S writes it to port 0xf4 with outl */
            }
            """;

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3, 5, 127})
    void debugExitGivesTheQemuStatus(int code) throws Exception {
        Run run = boot(EXIT_KERNEL, 1, MEM, "exit.flat " + code, List.of(), TIMEOUT);
        assertEquals(Machine.Outcome.DEBUG_EXIT, run.result().outcome(), run.why());
        assertEquals((code << 1) | 1, run.result().exitStatus(), run.why());
    }

    static final String SERIAL_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                outb(COM1 + 3, 0x80);
                u32 divisor = inb(COM1 + 0) | inb(COM1 + 1) << 8;
                outb(COM1 + 3, 0x03);
                outb(COM1 + 7, 0x5a);
                printk("lcr=%x mcr=%x ier=%x lsr=%x iir=%x scratch=%x divisor=%u\\n", inb(COM1 + 3), inb(COM1 + 4),
                       inb(COM1 + 1), inb(COM1 + 5), inb(COM1 + 2), inb(COM1 + 7), divisor);
                printk("hello from a multiboot kernel\\n");
                return 0;
            }
            """;

    @Test
    void theUartTakesADriversInitialisation() throws Exception {
        Run run = boot(SERIAL_KERNEL);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("3", field(run, "lcr"));
        assertEquals("3", field(run, "mcr"));
        assertEquals("0", field(run, "ier"));
        assertEquals("60", field(run, "lsr"), "THR empty and transmitter empty");
        assertEquals("c1", field(run, "iir"), "FIFOs on, no interrupt pending");
        assertEquals("5a", field(run, "scratch"));
        assertEquals("1", field(run, "divisor"));
        assertEquals(1, run.divisor());
        assertTrue(run.console().contains("hello from a multiboot kernel\n"), run.why());
    }

    static final String SMP_KERNEL = """
            #include "mbkernel.h"
            static volatile u32 started, ids, cpuid_mismatch;
            static u32 cpuid_apic_id(void)
            {
                u32 a = 1, b, c = 0, d;
                asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
                return b >> 24;
            }
            void ap_main(void)
            {
                u32 id = apic_id();
                if (cpuid_apic_id() != id)
                    __atomic_fetch_or(&cpuid_mismatch, 1u << id, __ATOMIC_SEQ_CST);
                __atomic_fetch_or(&ids, 1u << id, __ATOMIC_SEQ_CST);
                __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
                for (;;)
                    asm volatile("cli; hlt");
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                mask_pic();
                lapic_enable();
                u32 cpus = fwcfg_read(0x05, 2);
                printk("bsp=%u cpus=%u\\n", apic_id(), cpus);
                start_aps(0);
                while (started != cpus - 1)
                    pause();
                printk("started=%u ids=%x cpuid_mismatch=%x\\n", started, ids, cpuid_mismatch);
                return started == cpus - 1 && ids == ((1u << cpus) - 2) && !cpuid_mismatch && cpuid_apic_id() == 0
                        ? 0 : 1;
            }
            """;

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void apsStartThroughInitAndSipi(int vcpus) throws Exception {
        Run run = boot(SMP_KERNEL, vcpus, MEM, "smp.flat", List.of(), TIMEOUT);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("0", field(run, "bsp"));
        assertEquals(Integer.toString(vcpus), field(run, "cpus"));
        assertEquals(Integer.toString(vcpus - 1), field(run, "started"));
        assertEquals(Integer.toHexString((1 << vcpus) - 2), field(run, "ids"));
    }

    @Test
    void apsWaitForInitAndSipi() throws Exception {
        Multiboot.Kernel kernel = Multiboot.parse(TestKernels.bytes(SMP_KERNEL));
        try (Machine m = new Machine(new Machine.Config(MEM, 2, true, TIMEOUT), new ByteArrayOutputStream())) {
            m.bootMultiboot(kernel, "smp.flat", List.of());
            assertEquals(kvm_h.KVM_MP_STATE_RUNNABLE(), m.vcpus().get(0).getMpState());
            assertEquals(kvm_h.KVM_MP_STATE_UNINITIALIZED(), m.vcpus().get(1).getMpState());
        }
    }

    /*
     * The handler ends the run instead of returning: on hosts where KVM emulates ring-0 code (this one has no VT-x
     * underneath), IRET in protected mode is an instruction KVM's emulator does not implement, so returning would
     * stop the run with an internal error (see guestStopsKvmCannotEmulateAreReported).
     */
    static final String TIMER_KERNEL = """
            #include "mbkernel.h"
            static volatile u32 halts;
            void timer_interrupt(void)      /* reached only through IDT vector 0x40, the timer's */
            {
                u32 count = lapic_read(APIC_TIMER_CUR);
                lapic_write(APIC_EOI, 0);
                printk("timer fired: halts=%u count=%u\\n", halts, count);
                debug_exit(0x11);
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                mask_pic();
                idt_init();
                set_gate(0x40, isr_timer);
                lapic_enable();
                lapic_write(APIC_TIMER_DIV, 0xb);               /* divide by 1 */
                lapic_write(APIC_LVT_TIMER, 0x40);              /* one-shot, vector 0x40 */
                lapic_write(APIC_TIMER_INIT, 2000000);
                printk("timer armed\\n");
                for (;;) {
                    halts++;
                    asm volatile("sti; hlt; cli");
                }
            }
            """;

    @Test
    void theLocalApicTimerInterrupts() throws Exception {
        Run run = boot(TIMER_KERNEL);
        assertEquals(Machine.Outcome.DEBUG_EXIT, run.result().outcome(), run.why());
        assertEquals((0x11 << 1) | 1, run.result().exitStatus(), run.why());
        assertTrue(run.console().contains("timer armed\n"), run.why());
        assertEquals("0", field(run, "count"), "the one-shot count ran down\n" + run.why());
        assertTrue(Integer.parseInt(field(run, "halts")) >= 1, "the interrupt woke a halted vCPU\n" + run.why());
    }

    /* The PIT, through the IOAPIC (pin 2, as on a PC and under QEMU) to the local APIC. */
    static final String PIT_KERNEL = """
            #include "mbkernel.h"
            #define IOAPIC ((volatile u32 *) 0xfec00000u)
            static u32 ioapic_read(u32 reg) { IOAPIC[0] = reg; return IOAPIC[4]; }
            static void ioapic_write(u32 reg, u32 v) { IOAPIC[0] = reg; IOAPIC[4] = v; }
            void timer_interrupt(void)      /* IDT vector 0x50: only the IOAPIC entry below sends it */
            {
                lapic_write(APIC_EOI, 0);
                printk("pit interrupt through ioapic pin=2 vector=0x50\\n");
                debug_exit(0x13);
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                mask_pic();
                idt_init();
                set_gate(0x50, isr_timer);
                lapic_enable();
                u32 version = ioapic_read(0x01);
                printk("ioapic_id=%u pins=%u irq0_override=%u\\n", ioapic_read(0x00) >> 24,
                       ((version >> 16) & 0xff) + 1, (u32) fwcfg_read(0x8002, 4));
                ioapic_write(0x10 + 2 * 2 + 1, 0);          /* pin 2: to APIC ID 0 */
                ioapic_write(0x10 + 2 * 2, 0x50);           /* fixed, edge, active high, unmasked */
                outb(0x43, 0x34);                           /* PIT channel 0, rate generator */
                outb(0x40, 11932 & 0xff);                   /* about 100 Hz */
                outb(0x40, 11932 >> 8);
                for (;;)
                    asm volatile("sti; hlt; cli");
            }
            """;

    @Test
    void thePitInterruptsThroughTheIoapic() throws Exception {
        Run run = boot(PIT_KERNEL);
        assertEquals((0x13 << 1) | 1, run.result().exitStatus(), run.why());
        assertEquals("24", field(run, "pins"));
        assertEquals("1", field(run, "irq0_override"));
        assertTrue(run.console().contains("pit interrupt through ioapic pin=2 vector=0x50\n"), run.why());
    }

    static final String INT_KERNEL = """
            #include "mbkernel.h"
            extern void just_iret(void);
            asm(".globl just_iret\\n just_iret: iret");
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                idt_init();
                set_gate(0x40, just_iret);
                printk("int 0x40\\n");
                asm volatile("int $0x40");
                printk("returned\\n");
                return 0;
            }
            """;

    /**
     * A guest stop is reported with its cause and the instruction bytes at RIP. Software interrupts and IRET in
     * protected mode run natively on VT-x/SVM hosts; where KVM emulates them (this host) they stop the run.
     */
    @Test
    void guestStopsKvmCannotEmulateAreReported() throws Exception {
        Run run = boot(INT_KERNEL);
        if (run.result().outcome() == Machine.Outcome.DEBUG_EXIT) {
            assertEquals(1, run.result().exitStatus(), run.why());
            assertTrue(run.console().contains("returned\n"), run.why());
        } else {
            assertEquals(Machine.Outcome.INTERNAL_ERROR, run.result().outcome(), run.why());
            assertEquals(Machine.EXIT_KVM_ERROR, run.result().exitStatus());
            assertTrue(run.result().message().contains("KVM_EXIT_INTERNAL_ERROR, suberror 1, emulation failure"),
                    run.why());
            assertTrue(run.result().message().matches(".*at rip 0x[0-9a-f]+, instruction bytes: (cd 40|cf) .*"),
                    run.why());
        }
    }

    /*
     * Like a kvm-unit-tests .flat file: 64-bit code behind a 32-bit entry, shipped as ELF32 by objcopy; it enters
     * long mode itself, puts the AP trampoline at address 0 and starts the APs through x2APIC ICR writes.
     */
    static final String LONG_MODE_KERNEL = """
            #include "mbkernel.h"
            #define MSR_EFER 0xc0000080
            #define MSR_APIC_BASE 0x1b
            #define MSR_X2APIC_ID 0x802
            #define MSR_X2APIC_ICR 0x830
            static volatile u32 started, ids;
            static void x2apic_enable(void) { wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | 0xc00); }
            void ap_main(void)
            {
                x2apic_enable();
                __atomic_fetch_or(&ids, 1u << (u32) rdmsr(MSR_X2APIC_ID), __ATOMIC_SEQ_CST);
                __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
                for (;;)
                    asm volatile("cli; hlt");
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                mask_pic();
                x2apic_enable();
                u32 cpus = fwcfg_read(0x05, 2);
                printk("magic=%x efer=%llx paging=%u x2apic_id=%u cmdline=[%s]\\n", magic, rdmsr(MSR_EFER),
                       (u32) (read_cr0() >> 31), (u32) rdmsr(MSR_X2APIC_ID), (const char *) (unsigned long) mbi->cmdline);
                memset((void *) 0, 0xcc, 4096);
                memcpy((void *) 0, ap_trampoline, ap_trampoline_end - ap_trampoline);
                wrmsr(MSR_X2APIC_ICR, 0xc4500);     /* all but self, INIT, assert */
                wrmsr(MSR_X2APIC_ICR, 0xc4600);     /* all but self, STARTUP, vector 0 */
                while (started != cpus - 1)
                    pause();
                printk("started=%u ids=%x\\n", started, ids);
                return started == cpus - 1 && ids == (1u << cpus) - 2 ? 0 : 1;
            }
            """;

    @Test
    void aKvmUnitTestsStyleLongModeKernel() throws Exception {
        byte[] flat = java.nio.file.Files.readAllBytes(TestKernels.build64(LONG_MODE_KERNEL));
        assertEquals(1, flat[4], "objcopy made an ELF32");
        Multiboot.Kernel kernel = Multiboot.parse(flat);
        assertEquals(0x400000, kernel.lowest());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Machine m = new Machine(new Machine.Config(MEM, 2, true, TIMEOUT), out)) {
            m.bootMultiboot(kernel, "x86/long.flat -smp 2", List.of());
            Machine.Result r = m.run();
            Run run = new Run(r, out.toString(StandardCharsets.UTF_8), null, 0);
            assertEquals(1, r.exitStatus(), run.why());
            assertEquals("2badb002", field(run, "magic"));
            assertEquals(0x500, Long.parseLong(field(run, "efer"), 16) & 0x500, "LME and LMA\n" + run.why());
            assertEquals("1", field(run, "paging"));
            assertEquals("0", field(run, "x2apic_id"));
            assertTrue(run.console().contains("cmdline=[x86/long.flat -smp 2]"), run.why());
            assertEquals("1", field(run, "started"));
            assertEquals("2", field(run, "ids"));
        }
    }

    static final String HALT_KERNEL = """
            #include "mbkernel.h"
            static volatile u32 started;
            void ap_main(void)
            {
                __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
                for (;;)
                    asm volatile("cli; hlt");
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                mask_pic();
                lapic_enable();
                u32 cpus = fwcfg_read(0x05, 2);
            #ifdef NO_APS
                cpus = 1;
            #endif
                if (cpus > 1) {
                    start_aps(0);
                    while (started != cpus - 1)
                        pause();
                }
                printk("halting %u cpus\\n", cpus);
            #ifdef STI
                asm volatile("sti");
            #endif
                for (;;)
                    asm volatile("hlt");
            }
            """;

    @Test
    void apsNeverStartedCountAsStopped() throws Exception {
        Multiboot.Kernel kernel = Multiboot.parse(TestKernels.bytes(HALT_KERNEL, "-DNO_APS"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Machine m = new Machine(new Machine.Config(MEM, 3, true, TIMEOUT), out)) {
            m.bootMultiboot(kernel, "halt.flat", List.of());
            Machine.Result r = m.run();
            assertEquals(Machine.Outcome.HALTED, r.outcome(), r + "\n" + out);
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("halting 1 cpus"), out.toString());
            assertEquals(kvm_h.KVM_MP_STATE_UNINITIALIZED(), m.vcpus().get(2).getMpState());
        }
    }

    @Test
    void haltedWithInterruptsOnWaitsForTheTimeLimit() throws Exception {
        Multiboot.Kernel kernel = Multiboot.parse(TestKernels.bytes(HALT_KERNEL, "-DSTI"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // 5 s: the kernel must have printed before the limit, also under emulation on a busy machine.
        try (Machine m = new Machine(new Machine.Config(MEM, 1, true, Duration.ofSeconds(5)), out)) {
            m.bootMultiboot(kernel, "halt.flat", List.of());
            Machine.Result r = m.run();
            assertEquals(Machine.Outcome.TIMEOUT, r.outcome(), r + "\n" + out);
            assertEquals(Machine.EXIT_TIMEOUT, r.exitStatus());
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("halting 1 cpus"), out.toString());
        }
    }

    static final String CHATTY_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                printk("no newline yet");
                for (;;)
                    pause();
            }
            """;

    /** Text without a newline reaches the console stream while the guest still runs (the 25 ms flush). */
    @Test
    void consoleOutputArrivesWhileTheGuestRuns() throws Exception {
        Multiboot.Kernel kernel = Multiboot.parse(TestKernels.bytes(CHATTY_KERNEL));
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        java.io.BufferedOutputStream buffered = new java.io.BufferedOutputStream(sink, 1 << 16);
        try (Machine m = new Machine(new Machine.Config(MEM, 1, true, Duration.ofSeconds(20)), buffered)) {
            m.bootMultiboot(kernel, "chatty.flat", List.of());
            Thread runner = Thread.ofPlatform().start(() -> {
                try {
                    m.run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!sink.toString(StandardCharsets.UTF_8).contains("no newline yet") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            String seen = sink.toString(StandardCharsets.UTF_8);
            boolean stillRunning = runner.isAlive();
            m.finish(Machine.Outcome.DONE, 0, "test over");
            runner.join();
            assertEquals("no newline yet", seen);
            assertTrue(stillRunning, "the text arrived before the run ended");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void allVcpusHaltedWithInterruptsOffEndsTheRun(int vcpus) throws Exception {
        Run run = boot(HALT_KERNEL, vcpus, MEM, "halt.flat", List.of(), TIMEOUT);
        assertEquals(Machine.Outcome.HALTED, run.result().outcome(), run.why());
        assertEquals(0, run.result().exitStatus());
        assertTrue(run.console().contains("halting " + vcpus + " cpus"), run.why());
        assertTrue(run.result().elapsed().toMillis() < 5000, run.why());
    }
}
