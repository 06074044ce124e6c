/*
 * panavirt's multiboot test kernels: everything a one-file kernel needs, 32-bit, freestanding.
 *
 * A kernel defines   u32 kmain(u32 magic, struct mb_info *mbi)   and may define   void ap_main(void)
 * (run by each AP the kernel starts with start_aps()). kmain's result goes to the debug-exit port.
 * Include this header from exactly one C file. 32-bit kernels (entry.S) run in protected mode without
 * paging; 64-bit ones (entry64.S) in long mode with the first 4 GiB identity-mapped, with the same kmain.
 */
#ifndef MBKERNEL_H
#define MBKERNEL_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef __builtin_va_list va_list;
#define va_start __builtin_va_start
#define va_arg __builtin_va_arg
#define va_end __builtin_va_end

#define MB_BOOTLOADER_MAGIC 0x2BADB002

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));

struct mb_module { u32 start, end, cmdline, reserved; } __attribute__((packed));
struct mb_mmap { u32 size; u64 base, length; u32 type; } __attribute__((packed));

extern u32 entry_esp, entry_eflags;

/* ---- memory and strings (gcc may call these itself) ---- */

void *memcpy(void *d, const void *s, unsigned n) { u8 *a = d; const u8 *b = s; while (n--) *a++ = *b++; return d; }
void *memset(void *d, int c, unsigned n) { u8 *a = d; while (n--) *a++ = (u8) c; return d; }
int memcmp(const void *x, const void *y, unsigned n)
{
    const u8 *a = x, *b = y;
    for (; n; n--, a++, b++)
        if (*a != *b)
            return *a - *b;
    return 0;
}
unsigned strlen(const char *s) { unsigned n = 0; while (s[n]) n++; return n; }
int strcmp(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return (u8) *a - (u8) *b; }

/* ---- port I/O ---- */

static inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline unsigned long read_cr0(void) { unsigned long v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 rdmsr(u32 index)
{
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
    return (u64) hi << 32 | lo;
}
static inline void wrmsr(u32 index, u64 v) { asm volatile("wrmsr" : : "a"((u32) v), "d"((u32) (v >> 32)), "c"(index)); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }

/* ---- the console: COM1 programmed as a driver does ---- */

#define COM1 0x3f8

static void serial_init(void)
{
    outb(COM1 + 1, 0x00);   /* IER: no interrupts */
    outb(COM1 + 3, 0x80);   /* LCR: DLAB on */
    outb(COM1 + 0, 0x01);   /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* LCR: 8N1, DLAB off */
    outb(COM1 + 2, 0xc7);   /* FCR: FIFOs on and cleared, 14-byte trigger */
    outb(COM1 + 4, 0x03);   /* MCR: DTR, RTS */
}

static volatile int console_lock;

static void putc_raw(char c)
{
    while (!(inb(COM1 + 5) & 0x20))   /* LSR: wait for THR empty */
        ;
    outb(COM1, c);
}

static void put_udec(u32 v) { char b[12]; int i = 0; do b[i++] = '0' + v % 10; while (v /= 10); while (i) putc_raw(b[--i]); }
static void put_hex(u32 v, int width)
{
    char b[8];
    int i = 0;
    do b[i++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) || i < width);
    while (i) putc_raw(b[--i]);
}

/* %s %c %u %d %x %08x-style widths for x, and %llx for 64-bit hex. One line at a time per CPU. */
static void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
        pause();
    for (; *fmt; fmt++) {
        if (*fmt != '%') { putc_raw(*fmt); continue; }
        int width = 0, longlong = 0;
        fmt++;
        if (*fmt == '0') fmt++;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        if (fmt[0] == 'l' && fmt[1] == 'l') { longlong = 1; fmt += 2; }
        switch (*fmt) {
        case 's': { const char *s = va_arg(ap, const char *); while (*s) putc_raw(*s++); break; }
        case 'c': putc_raw((char) va_arg(ap, int)); break;
        case 'u': put_udec(va_arg(ap, u32)); break;
        case 'd': { int v = va_arg(ap, int); if (v < 0) { putc_raw('-'); v = -v; } put_udec(v); break; }
        case 'x':
            if (longlong) {
                u64 v = va_arg(ap, u64);
                if (v >> 32) { put_hex(v >> 32, 0); put_hex((u32) v, 8); } else put_hex((u32) v, width);
            } else put_hex(va_arg(ap, u32), width);
            break;
        default: putc_raw('%'); putc_raw(*fmt); break;
        }
    }
    __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
    va_end(ap);
}

/* ---- QEMU devices ---- */

static inline void debug_exit(u32 code) { outl(0xf4, code); }

static void fwcfg_select(u16 key) { outw(0x510, key); }
static u64 fwcfg_read(u16 key, int bytes)
{
    u64 v = 0;
    fwcfg_select(key);
    for (int i = 0; i < bytes; i++)
        v |= (u64) inb(0x511) << (i * 8);
    return v;
}

static void mask_pic(void) { outb(0x21, 0xff); outb(0xa1, 0xff); }

/* ---- local APIC (xAPIC MMIO) ---- */

#define LAPIC_BASE 0xfee00000u
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0

static inline u32 lapic_read(u32 reg) { return *(volatile u32 *) (unsigned long) (LAPIC_BASE + reg); }
static inline void lapic_write(u32 reg, u32 v) { *(volatile u32 *) (unsigned long) (LAPIC_BASE + reg) = v; }
static inline u32 apic_id(void) { return lapic_read(APIC_ID) >> 24; }
static void lapic_enable(void) { lapic_write(APIC_SVR, 0x100 | 0xff); }

#ifndef __x86_64__
/* ---- interrupts: a 32-bit IDT with exception stubs (entry.S) reporting through the console ---- */

struct gate { u16 off_lo, sel; u8 zero, type; u16 off_hi; } __attribute__((packed));
static struct gate idt[256] __attribute__((aligned(8)));

static void set_gate(int vec, void (*handler)(void))
{
    u32 a = (u32) handler;
    idt[vec] = (struct gate) { (u16) a, 0x08, 0, 0x8e, (u16) (a >> 16) };
}

extern char exc0[], exc1[], exc2[], exc3[], exc4[], exc5[], exc6[], exc7[], exc8[], exc9[], exc10[], exc11[],
    exc12[], exc13[], exc14[], exc15[], exc16[], exc17[], exc18[], exc19[], exc20[], exc21[], exc22[], exc23[],
    exc24[], exc25[], exc26[], exc27[], exc28[], exc29[], exc30[], exc31[];
extern void isr_timer(void), isr_spurious(void);

static void idt_init(void)
{
    static char *const stubs[32] = { exc0, exc1, exc2, exc3, exc4, exc5, exc6, exc7, exc8, exc9, exc10, exc11,
        exc12, exc13, exc14, exc15, exc16, exc17, exc18, exc19, exc20, exc21, exc22, exc23, exc24, exc25, exc26,
        exc27, exc28, exc29, exc30, exc31 };
    for (int i = 0; i < 32; i++)
        set_gate(i, (void (*)(void)) stubs[i]);
    set_gate(0xff, isr_spurious);
    struct { u16 limit; u32 base; } __attribute__((packed)) d = { sizeof(idt) - 1, (u32) idt };
    asm volatile("lidt %0" : : "m"(d));
}

/* Called by the exception stubs with {vector, error code, eip, cs, eflags}: report and fail the run. */
void exception(u32 *frame)
{
    printk("unexpected exception %u (error code %x) at eip %x\n", frame[0], frame[1], frame[2]);
    debug_exit(0x7e);
}

#endif

/* The handler behind isr_timer; a kernel using the timer defines it (defaults.c has a weak one). */
void timer_interrupt(void);

/* ---- SMP: INIT/SIPI through the local APIC ---- */

extern char ap_trampoline[], ap_trampoline_end[];
void ap_main(void);   /* run by each AP; defaults.c has a weak one that halts with interrupts off */

/* Copies the AP trampoline to page `page` (below 1 MiB) and sends INIT, then STARTUP, to all other CPUs. */
static void start_aps(u32 page)
{
    memcpy((void *) (unsigned long) (page << 12), ap_trampoline, ap_trampoline_end - ap_trampoline);
    lapic_write(APIC_ICR_HI, 0);
    lapic_write(APIC_ICR_LO, 0xc4500);          /* all but self, INIT, assert */
    lapic_write(APIC_ICR_LO, 0xc4600 | page);   /* all but self, STARTUP, vector = page */
}

#endif
