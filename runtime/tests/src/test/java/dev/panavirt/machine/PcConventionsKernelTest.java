package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.machine.testkernels.TestKernels;
import dev.panavirt.testsupport.KvmHwTest;
import dev.panavirt.testsupport.KvmTest;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The QEMU test-machine conventions kvm-unit-tests' x86 kernels assume, each exercised by a kernel of our own the
 * way the upstream test does: XSETBV/XGETBV (x86/xsave.c), KVM's CPUID leaves and kvmclock (x86/kvmclock_test.c),
 * port 0x92 (x86/init.c), pc-testdev's IRQ lines and IORAM (x86/ioapic.c, x86/emulator.c) and pci-testdev behind
 * the host bridge (lib/pci-testdev.c). Each kernel prints NAME=VALUE fields and returns 0 when all is as expected.
 */
@KvmTest
class PcConventionsKernelTest {
    private static final long MEM = 64L << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    record Run(Machine.Result result, String console, Machine machine) {
        String why() {
            return result + "\n--- console ---\n" + console;
        }

        String field(String name) {
            Matcher m = Pattern.compile("(?m)\\b" + Pattern.quote(name) + "=(\\S*)").matcher(console);
            assertTrue(m.find(), "no " + name + "= in the console\n" + why());
            return m.group(1);
        }
    }

    private static Run boot(String source, boolean hypervisorCpuid) throws Exception {
        Multiboot.Kernel kernel = Multiboot.parse(TestKernels.bytes(source));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Machine m = new Machine(new Machine.Config(MEM, 1, true, TIMEOUT, hypervisorCpuid), out)) {
            m.bootMultiboot(kernel, "conventions.flat", List.of());
            Machine.Result r = m.run();
            return new Run(r, out.toString(StandardCharsets.UTF_8), m);
        }
    }

    private static final String CPUID = """
            static void cpuid2(u32 leaf, u32 sub, u32 *r)
            { asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub)); }
            """;

    static final String XSAVE_KERNEL = "#include \"mbkernel.h\"\n" + CPUID + """
            static u64 xgetbv(u32 i) { u32 lo, hi; asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(i)); return (u64) hi << 32 | lo; }
            static void xsetbv(u32 i, u64 v) { asm volatile("xsetbv" : : "c"(i), "a"((u32) v), "d"((u32) (v >> 32))); }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                idt_init();                     /* a #GP or #UD ends the run with 0x7e and names the vector */
                u32 r[4];
                cpuid2(1, 0, r);
                printk("xsave=%u\\n", (r[2] >> 26) & 1);
                if (!((r[2] >> 26) & 1))
                    return 2;
                cpuid2(0xd, 0, r);
                u64 supported = r[0] | (u64) r[3] << 32;
                printk("supported_xcr0=%llx\\n", supported);
                unsigned long cr4;
                asm volatile("mov %%cr4, %0" : "=r"(cr4));
                asm volatile("mov %0, %%cr4" : : "r"(cr4 | (1 << 18)));     /* OSXSAVE */
                cpuid2(1, 0, r);
                printk("osxsave=%u initial=%llx\\n", (r[2] >> 27) & 1, xgetbv(0));
                xsetbv(0, 3);
                u64 x3 = xgetbv(0);
                printk("xcr0_fp_sse=%llx\\n", x3);
                u64 x7 = 7;
                if (supported & 4) {
                    xsetbv(0, 7);
                    x7 = xgetbv(0);
                    printk("xcr0_fp_sse_ymm=%llx\\n", x7);
                }
                xsetbv(0, 1);
                return x3 == 3 && x7 == 7 && xgetbv(0) == 1 ? 0 : 1;
            }
            """;

    /** The paravirtual KVM's emulator cannot run XGETBV/XSETBV (an emulation failure there): hardware only. */
    @Test
    @KvmHwTest
    void xsetbvTakesFpSseAndYmm() throws Exception {
        Run run = boot(XSAVE_KERNEL, true);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("3", run.field("xcr0_fp_sse"), run.why());
        long supported = Long.parseLong(run.field("supported_xcr0"), 16);
        assertEquals(3, supported & 3, run.why());
    }

    static final String KVM_CPUID_KERNEL = "#include \"mbkernel.h\"\n" + CPUID + """
            #define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
            struct pvclock { u32 version, pad0; u64 tsc_timestamp, system_time; u32 mul; signed char shift; u8 flags, pad[2]; };
            static volatile struct pvclock clock __attribute__((aligned(64)));
            static inline u64 rdtsc(void) { u32 lo, hi; asm volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64) hi << 32 | lo; }
            static u64 scale(u64 delta, u32 mul, int shift)
            {
                if (shift < 0) delta >>= -shift; else delta <<= shift;
                u64 lo = (u64) (u32) delta * mul, hi = (delta >> 32) * mul;
                return (lo >> 32) + hi;
            }
            static u64 kvmclock_ns(void)
            {
                u32 v;
                u64 t;
                do {
                    v = clock.version;
                    asm volatile("" ::: "memory");
                    t = clock.system_time + scale(rdtsc() - clock.tsc_timestamp, clock.mul, clock.shift);
                    asm volatile("" ::: "memory");
                } while ((v & 1) || v != clock.version);
                return t;
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                u32 r[4];
                cpuid2(1, 0, r);
                u32 hv = r[2] >> 31;
                cpuid2(0x40000000, 0, r);
                char sig[13];
                memcpy(sig, &r[1], 4); memcpy(sig + 4, &r[2], 4); memcpy(sig + 8, &r[3], 4); sig[12] = 0;
                for (int i = 0; i < 12; i++) if (sig[i] < 0x20 || sig[i] > 0x7e) sig[i] = '.';
                u32 max = r[0];
                cpuid2(0x40000001, 0, r);
                printk("hypervisor=%u signature=%s max_leaf=%x clocksource2=%u\\n", hv, sig, max, (r[0] >> 3) & 1);
                if (!hv || strcmp(sig, "KVMKVMKVM...") || !((r[0] >> 3) & 1))
                    return 2;
                wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u32) &clock | 1);
                u64 t0 = kvmclock_ns();
                for (volatile int i = 0; i < 2000000; i++)
                    ;
                u64 t1 = kvmclock_ns();
                printk("version=%u t0=%llx t1=%llx ticked=%u\\n", clock.version, t0, t1, t1 > t0);
                wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
                return t1 > t0 && clock.version && !(clock.version & 1) ? 0 : 1;
            }
            """;

    /**
     * Hardware only: on the paravirtual KVM this 32-bit guest hung once in four runs after printing its CPUID line,
     * spinning in the kvmclock read (the run hit its time limit with no further exit); under kvm_amd it has not.
     */
    @Test
    @KvmHwTest
    void kvmSignatureAndKvmclockTick() throws Exception {
        Run run = boot(KVM_CPUID_KERNEL, true);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("1", run.field("hypervisor"));
        assertEquals("KVMKVMKVM...", run.field("signature"));
        assertEquals("40000001", run.field("max_leaf"));
        assertEquals("1", run.field("ticked"));
    }

    @Test
    void theHypervisorLeavesCanBeHidden() throws Exception {
        Run run = boot(KVM_CPUID_KERNEL, false);
        assertEquals(5, run.result().exitStatus(), "the kernel finds no hypervisor\n" + run.why());
        assertEquals("0", run.field("hypervisor"));
        assertTrue(!run.field("signature").equals("KVMKVMKVM..."), run.why());
    }

    static final String PORT92_KERNEL = """
            #include "mbkernel.h"
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                u8 v = inb(0x92);
                printk("port92=%x\\n", v);
                outb(0x92, v & ~1);
                outb(0x92, inb(0x92) | 1);      /* x86/init.c's reset: bit 0 from 0 to 1 */
                printk("still running\\n");
                return 3;
            }
            """;

    @Test
    void port92ResetsTheMachine() throws Exception {
        Run run = boot(PORT92_KERNEL, true);
        assertEquals(Machine.Outcome.RESET, run.result().outcome(), run.why());
        assertEquals(0, run.result().exitStatus(), run.why());
        assertEquals("2", run.field("port92"), "A20 on, reset bit clear");
        assertTrue(!run.console().contains("still running"), "the reset stopped the vCPU at once\n" + run.why());
        assertEquals(3, run.machine().port92().value(), "the guest's last write");
        run.machine().port92().reset();
        assertEquals(2, run.machine().port92().value(), "a reset clears bit 0, as x86/init.c expects");
    }

    static final String IOAPIC_KERNEL = """
            #include "mbkernel.h"
            static inline u32 inl_(u16 p) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
            #define IOAPIC ((volatile u32 *) 0xfec00000u)
            static u32 ioapic_read(u32 reg) { IOAPIC[0] = reg; return IOAPIC[4]; }
            static void ioapic_write(u32 reg, u32 v) { IOAPIC[0] = reg; IOAPIC[4] = v; }
            static volatile u32 taken, level_mode;
            void timer_interrupt(void)          /* IDT vector 0x76 (through isr_timer) */
            {
                taken++;
                if (level_mode)
                    outb(0x2000 + 14, 0);       /* lower the line before the EOI, as x86/ioapic.c does */
                lapic_write(APIC_EOI, 0);
            }
            static void window(void) { asm volatile("sti; nop; nop; cli" ::: "memory"); }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                mask_pic();
                idt_init();
                set_gate(0x76, isr_timer);
                lapic_enable();
                ioapic_write(0x10 + 2 * 14 + 1, 0);
                ioapic_write(0x10 + 2 * 14, 0x76);              /* pin 14: edge, fixed, unmasked */
                outb(0x2000 + 14, 1);
                window();
                u32 edge = taken;
                window();                                       /* still high: an edge fires once */
                u32 edge_again = taken - edge;
                outb(0x2000 + 14, 0);
                level_mode = 1;
                taken = 0;
                ioapic_write(0x10 + 2 * 14, 0x76 | 1 << 15);    /* level-triggered */
                outb(0x2000 + 14, 1);
                window();
                u32 level = taken;
                u32 remote_irr = (ioapic_read(0x10 + 2 * 14) >> 14) & 1;
                /* IORAM: instructions on MMIO memory, emulated by KVM (x86/emulator.c's target) */
                volatile u32 *ioram = (volatile u32 *) 0xff000000u;
                ioram[0] = 0x12345678;
                u32 x = 0x11111111;
                asm volatile("xchg %0, %1" : "+r"(x), "+m"(ioram[1]));
                asm volatile("addl $5, %0" : "+m"(ioram[0]));
                char buf[8];
                asm volatile("cld; rep movsb" : : "S"((void *) 0xff000000u), "D"(buf), "c"(8) : "memory");
                u32 b0, b1;
                memcpy(&b0, buf, 4); memcpy(&b1, buf + 4, 4);
                outl(0xe0, 0xaabbccdd);
                u32 port_byte = inb(0xe9);
                outb(0xea, 0x11);
                u32 port_word = inl_(0xe0);
                outl(0xe4, 0x200000);                            /* flush a RAM page: it must stay intact */
                printk("edge=%u edge_again=%u level=%u remote_irr=%u ioram=%x,%x xchg_old=%x port_byte=%x port=%x\\n",
                       edge, edge_again, level, remote_irr, b0, b1, x, port_byte, port_word);
                return edge == 1 && edge_again == 0 && level == 1 && remote_irr == 0 && b0 == 0x1234567d
                        && b1 == 0x11111111 && port_byte == 0xcc && port_word == 0xaa11ccdd ? 0 : 1;
            }
            """;

    /**
     * Hardware only: on the paravirtual KVM the interrupt is not injected inside the short {@code sti} window, and
     * the 32-bit handler's IRET ends in an emulation failure (its emulator cannot run it).
     */
    @Test
    @KvmHwTest
    void pcTestdevRaisesIoapicLinesAndBacksIoram() throws Exception {
        Run run = boot(IOAPIC_KERNEL, true);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertEquals("1", run.field("edge"));
        assertEquals("0", run.field("edge_again"));
        assertEquals("1", run.field("level"));
        assertEquals("0", run.field("remote_irr"), "EOI with the line low clears Remote IRR");
        assertEquals("1234567d,11111111", run.field("ioram"));
        assertEquals("aa11ccdd", run.field("port"));
    }

    static final String PCI_KERNEL = """
            #include "mbkernel.h"
            static inline u32 inl_(u16 p) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
            static u32 cfg_read(u32 devfn, u32 reg) { outl(0xcf8, 0x80000000u | devfn << 8 | reg); return inl_(0xcfc); }
            static void cfg_write(u32 devfn, u32 reg, u32 v) { outl(0xcf8, 0x80000000u | devfn << 8 | reg); outl(0xcfc, v); }
            static u32 bar_size(u32 devfn, u32 bar)
            {
                u32 reg = 0x10 + 4 * bar, old = cfg_read(devfn, reg);
                cfg_write(devfn, reg, ~0u);
                u32 mask = cfg_read(devfn, reg) & (old & 1 ? ~3u : ~15u);
                cfg_write(devfn, reg, old);
                return ~mask + 1;
            }
            /* lib/pci-testdev.c's pci_testdev_one, on memory (io=0) or ports (io=1); returns whether it counted 16 */
            static int one(int io, unsigned long base, int nr)
            {
                #define WB(off, v) (io ? outb(base + (off), v) : (void) (*(volatile u8 *) (base + (off)) = (v)))
                #define RB(off) (io ? inb(base + (off)) : *(volatile u8 *) (base + (off)))
                #define RL(off) (io ? inl_(base + (off)) : *(volatile u32 *) (base + (off)))
                WB(0, nr);
                if (RL(12) != 0)
                    return 0;
                u8 width = RB(1);
                u32 data = RL(8), off = RL(4);
                if (width != 1)
                    return 0;
                for (int i = 0; i < 16; i++)
                    WB(off, data);
                char name[32];
                int i = 0;
                for (; i < 31 && (name[i] = RB(16 + i)); i++)
                    ;
                name[i] = 0;
                printk("test %s count=%u\\n", name, RL(12));
                return RL(12) == 16;
            }
            u32 kmain(u32 magic, struct mb_info *mbi)
            {
                serial_init();
                int found = -1;
                for (u32 devfn = 0; devfn < 256; devfn++) {
                    u32 id = cfg_read(devfn, 0);
                    if (id == 0xffffffffu)
                        continue;
                    printk("pci 00:%x.%u id=%x class=%x\\n", devfn >> 3, devfn & 7, id, cfg_read(devfn, 8) >> 8);
                    if (id == 0x00051b36)
                        found = devfn;
                }
                if (found < 0)
                    return 2;
                u32 bar0 = cfg_read(found, 0x10), bar1 = cfg_read(found, 0x14);
                printk("bar0=%x size0=%x bar1=%x size1=%x command=%x\\n", bar0, bar_size(found, 0), bar1,
                       bar_size(found, 1), cfg_read(found, 4) & 0xffff);
                int passed = 0;
                for (int t = 0; t < 3; t++)
                    passed += one(0, bar0 & ~15u, t);
                for (int t = 0; t < 3; t++)
                    passed += one(1, bar1 & ~3u, t);
                /* move BAR 0 as a guest may, and use it there */
                cfg_write(found, 0x10, 0xfe100000u);
                passed += one(0, 0xfe100000u, 0);
                printk("passed=%u\\n", passed);
                return passed == 7 ? 0 : 1;
            }
            """;

    @Test
    void pciTestdevIsFoundByScanningAndWorksThroughItsBars() throws Exception {
        Run run = boot(PCI_KERNEL, true);
        assertEquals(1, run.result().exitStatus(), run.why());
        assertTrue(run.console().contains("pci 00:0.0 id=12378086 class=60000"), run.why());
        assertTrue(run.console().contains("pci 00:1.0 id=51b36 class=ff00"), run.why());
        assertEquals("fe000000", run.field("bar0"));
        assertEquals("1000", run.field("size0"));
        assertEquals("c001", run.field("bar1"));
        assertEquals("100", run.field("size1"));
        assertTrue(run.console().contains("test mmio-datamatch-eventfd count=16"), run.why());
        assertTrue(run.console().contains("test portio-wildcard-eventfd count=16"), run.why());
        assertEquals("7", run.field("passed"));
    }
}
