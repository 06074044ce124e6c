package dev.panavirt.machine;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_dtable;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_segment;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.X86Vcpu;
import java.lang.foreign.MemorySegment;

/**
 * Puts an x86 vCPU into a state a flat guest can start in: 16-bit real mode, 32-bit flat protected
 * mode (multiboot), or 64-bit long mode with identity-mapped page tables and a GDT in guest memory.
 */
public final class X86Boot {
    private X86Boot() {}

    /**
     * Where the machine and the test kit put the boot tables: above the real-mode interrupt table and BIOS
     * data, below the 1 MiB where images are usually loaded ({@code 0x8000 + LONG_MODE_TABLES_SIZE}).
     */
    public static final long TABLES_BASE = 0x8000;
    /** Stack bytes per vCPU, carved from the top of RAM by the machine and the test kit alike. */
    public static final long STACK_SIZE = 0x10000;
    /** Bytes of guest memory {@link #longMode} uses at its {@code tablesBase}: GDT, TSS and page tables. */
    public static final long LONG_MODE_TABLES_SIZE = 0x8000;
    /** How much is identity-mapped in long mode: the first 4 GiB, in 2 MiB pages. */
    public static final long IDENTITY_MAPPED = 4L << 30;

    /** GDT selectors used by {@link #longMode} and {@link #protectedMode}. */
    public static final int CODE64_SELECTOR = 0x08, DATA_SELECTOR = 0x10, TSS_SELECTOR = 0x18, CODE32_SELECTOR = 0x28;
    /** GDT selectors of {@link #linux64}: Linux's {@code __BOOT_CS} and {@code __BOOT_DS} (arch/x86/include/asm/segment.h), and a TSS. */
    public static final int LINUX_BOOT_CS = 0x10, LINUX_BOOT_DS = 0x18, LINUX_TSS = 0x20;

    private static final long CR0_PE = 1, CR0_MP = 1 << 1, CR0_ET = 1 << 4, CR0_NE = 1 << 5, CR0_WP = 1 << 16,
            CR0_PG = 1L << 31;
    private static final long CR4_PAE = 1 << 5, CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10;
    private static final long EFER_LME = 1 << 8, EFER_LMA = 1 << 10;
    private static final long PTE_PRESENT = 1, PTE_WRITE = 2, PTE_LARGE = 1 << 7;

    /** Starts the vCPU in real mode at {@code segment:offset} with interrupts off. */
    public static void realMode(Vcpu vcpu, int segment, int offset) throws ErrnoException {
        MemorySegment s = X86Vcpu.of(vcpu).getSregs();
        MemorySegment cs = kvm_sregs.cs(s);
        kvm_segment.selector(cs, (short) segment);
        kvm_segment.base(cs, (long) segment << 4);
        X86Vcpu.of(vcpu).setSregs(s);
        MemorySegment r = X86Vcpu.of(vcpu).getRegs();
        r.fill((byte) 0);
        kvm_regs.rip(r, offset);
        kvm_regs.rflags(r, 2);
        X86Vcpu.of(vcpu).setRegs(r);
    }

    /**
     * Starts the vCPU in 32-bit flat protected mode, paging off (the multiboot entry state), writing a GDT
     * at {@code tablesBase}.
     */
    public static void protectedMode(Vcpu vcpu, GuestMemory memory, long tablesBase, long entry, long stack)
            throws ErrnoException {
        writeGdt(memory, tablesBase);
        MemorySegment s = X86Vcpu.of(vcpu).getSregs();
        setSegment(kvm_sregs.cs(s), CODE32_SELECTOR, 0xb, false, true);
        for (MemorySegment seg : dataSegments(s)) {
            setSegment(seg, DATA_SELECTOR, 0x3, false, true);
        }
        setTss(kvm_sregs.tr(s), tablesBase);
        setGdt(s, tablesBase);
        kvm_sregs.cr0(s, CR0_PE | CR0_ET | CR0_NE);
        kvm_sregs.cr4(s, 0);
        kvm_sregs.efer(s, 0);
        X86Vcpu.of(vcpu).setSregs(s);
        setEntry(vcpu, entry, stack);
    }

    /**
     * Starts the vCPU in 64-bit long mode at {@code entry} with {@code rsp = stack}: identity page tables
     * for the first 4 GiB, a GDT and a TSS are written at {@code tablesBase} ({@link #LONG_MODE_TABLES_SIZE}
     * bytes, page-aligned, inside guest memory), SSE enabled (compiled C uses it), interrupts off.
     */
    public static void longMode(Vcpu vcpu, GuestMemory memory, long tablesBase, long entry, long stack)
            throws ErrnoException {
        if ((tablesBase & 0xfff) != 0) {
            throw new IllegalArgumentException("tablesBase must be page-aligned");
        }
        writeGdt(memory, tablesBase);
        long pml4 = writeIdentityMap(memory, tablesBase);
        MemorySegment s = X86Vcpu.of(vcpu).getSregs();
        setLongMode(s, tablesBase, pml4, CODE64_SELECTOR, DATA_SELECTOR, TSS_SELECTOR, CODE32_SELECTOR);
        X86Vcpu.of(vcpu).setSregs(s);
        setEntry(vcpu, entry, stack);
    }

    /**
     * Starts the vCPU at a Linux kernel's 64-bit entry point the way Documentation/arch/x86/boot.rst's "64-bit Boot
     * Protocol" asks: long mode with paging, the first 4 GiB identity-mapped (covering the kernel, the zero page and
     * the command line), a GDT with 4 GiB flat descriptors {@code __BOOT_CS} ({@value #LINUX_BOOT_CS}, execute/read)
     * and {@code __BOOT_DS} ({@value #LINUX_BOOT_DS}, read/write) loaded in CS and in DS, ES, SS (and FS, GS),
     * interrupts off, RSI = the zero page. The tables take {@link #LONG_MODE_TABLES_SIZE} bytes at {@code tablesBase};
     * the stack starts just below the zero page (the kernel sets up its own before it uses much).
     */
    public static void linux64(Vcpu vcpu, GuestMemory memory, long tablesBase, long entry, long zeroPage)
            throws ErrnoException {
        if ((tablesBase & 0xfff) != 0) {
            throw new IllegalArgumentException("tablesBase must be page-aligned");
        }
        writeGdt(memory, tablesBase, LINUX_BOOT_CS, LINUX_BOOT_DS, LINUX_TSS, 0);
        long pml4 = writeIdentityMap(memory, tablesBase);
        MemorySegment s = X86Vcpu.of(vcpu).getSregs();
        setLongMode(s, tablesBase, pml4, LINUX_BOOT_CS, LINUX_BOOT_DS, LINUX_TSS, LINUX_TSS + 8);
        X86Vcpu.of(vcpu).setSregs(s);
        setEntry(vcpu, entry, zeroPage);
        MemorySegment r = X86Vcpu.of(vcpu).getRegs();
        kvm_regs.rsi(r, zeroPage);
        X86Vcpu.of(vcpu).setRegs(r);
    }

    /** Writes the identity map of the first 4 GiB at tablesBase + 0x2000 and returns the PML4's address. */
    private static long writeIdentityMap(GuestMemory memory, long tablesBase) {
        long pml4 = tablesBase + 0x2000;
        long pdpt = pml4 + 0x1000;
        long pd = pdpt + 0x1000;
        memory.slice(pml4, 0x6000).fill((byte) 0);
        memory.writeLong(pml4, pdpt | PTE_PRESENT | PTE_WRITE);
        for (int i = 0; i < 4; i++) {
            long table = pd + i * 0x1000L;
            memory.writeLong(pdpt + i * 8L, table | PTE_PRESENT | PTE_WRITE);
            for (int j = 0; j < 512; j++) {
                long phys = ((long) i << 30) + ((long) j << 21);
                memory.writeLong(table + j * 8L, phys | PTE_PRESENT | PTE_WRITE | PTE_LARGE);
            }
        }
        return pml4;
    }

    /** Long mode with paging through pml4, flat segments with these selectors, the GDT at tablesBase of gdtEnd bytes. */
    private static void setLongMode(MemorySegment s, long tablesBase, long pml4, int code, int data, int tss, int gdtEnd) {
        setSegment(kvm_sregs.cs(s), code, 0xb, true, false);
        for (MemorySegment seg : dataSegments(s)) {
            setSegment(seg, data, 0x3, false, true);
        }
        setTss(kvm_sregs.tr(s), tablesBase, tss);
        MemorySegment gdt = kvm_sregs.gdt(s);
        kvm_dtable.base(gdt, tablesBase);
        kvm_dtable.limit(gdt, (short) (gdtEnd + 7));
        kvm_sregs.cr3(s, pml4);
        kvm_sregs.cr4(s, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT);
        kvm_sregs.cr0(s, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG);
        kvm_sregs.efer(s, EFER_LME | EFER_LMA);
    }

    private static MemorySegment[] dataSegments(MemorySegment s) {
        return new MemorySegment[] {kvm_sregs.ds(s), kvm_sregs.es(s), kvm_sregs.fs(s), kvm_sregs.gs(s),
                kvm_sregs.ss(s)};
    }

    private static void setEntry(Vcpu vcpu, long entry, long stack) throws ErrnoException {
        MemorySegment r = X86Vcpu.of(vcpu).getRegs();
        r.fill((byte) 0);
        kvm_regs.rip(r, entry);
        kvm_regs.rsp(r, stack);
        kvm_regs.rflags(r, 2);
        X86Vcpu.of(vcpu).setRegs(r);
    }

    /** GDT at tablesBase: null, 64-bit code, data, a 16-byte TSS descriptor, 32-bit code; TSS at +0x1000. */
    private static void writeGdt(GuestMemory memory, long tablesBase) {
        writeGdt(memory, tablesBase, CODE64_SELECTOR, DATA_SELECTOR, TSS_SELECTOR, CODE32_SELECTOR);
    }

    /** A GDT with the given selectors (code32 0: none) and a TSS at tablesBase + 0x1000. */
    private static void writeGdt(GuestMemory memory, long tablesBase, int code64, int data, int tssSelector, int code32) {
        long tss = tablesBase + 0x1000;
        memory.slice(tablesBase, 0x2000).fill((byte) 0);
        memory.writeLong(tablesBase + code64, 0x00af_9b00_0000_ffffL);
        memory.writeLong(tablesBase + data, 0x00cf_9300_0000_ffffL);
        long limit = 0x67;
        long low = limit | (tss & 0xffffff) << 16 | 0x8bL << 40 | (tss >>> 24 & 0xff) << 56;
        memory.writeLong(tablesBase + tssSelector, low);
        memory.writeLong(tablesBase + tssSelector + 8, tss >>> 32);
        if (code32 != 0) {
            memory.writeLong(tablesBase + code32, 0x00cf_9b00_0000_ffffL);
        }
    }

    private static void setGdt(MemorySegment sregs, long tablesBase) {
        MemorySegment gdt = kvm_sregs.gdt(sregs);
        kvm_dtable.base(gdt, tablesBase);
        kvm_dtable.limit(gdt, (short) (CODE32_SELECTOR + 7));
    }

    private static void setTss(MemorySegment tr, long tablesBase) {
        setTss(tr, tablesBase, TSS_SELECTOR);
    }

    private static void setTss(MemorySegment tr, long tablesBase, int selector) {
        kvm_segment.selector(tr, (short) selector);
        kvm_segment.base(tr, tablesBase + 0x1000);
        kvm_segment.limit(tr, 0x67);
        kvm_segment.type(tr, (byte) 0xb);
        kvm_segment.present(tr, (byte) 1);
        kvm_segment.dpl(tr, (byte) 0);
        kvm_segment.db(tr, (byte) 0);
        kvm_segment.s(tr, (byte) 0);
        kvm_segment.l(tr, (byte) 0);
        kvm_segment.g(tr, (byte) 0);
        kvm_segment.unusable(tr, (byte) 0);
    }

    private static void setSegment(MemorySegment seg, int selector, int type, boolean longMode, boolean big) {
        kvm_segment.selector(seg, (short) selector);
        kvm_segment.base(seg, 0);
        kvm_segment.limit(seg, 0xffff_ffff);
        kvm_segment.type(seg, (byte) type);
        kvm_segment.present(seg, (byte) 1);
        kvm_segment.dpl(seg, (byte) 0);
        kvm_segment.db(seg, (byte) (big ? 1 : 0));
        kvm_segment.s(seg, (byte) 1);
        kvm_segment.l(seg, (byte) (longMode ? 1 : 0));
        kvm_segment.g(seg, (byte) 1);
        kvm_segment.unusable(seg, (byte) 0);
    }
}
