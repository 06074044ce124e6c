/*
 * panavirt guest support: freestanding helpers for small x86-64 guests built with gcc and run by
 * dev.panavirt.testkit.TestGuest. Port I/O, MMIO, and "ucall" guest-to-host calls (print, assert,
 * sync, done) over one PIO port. No libc.
 */
#ifndef PANAVIRT_GUEST_H
#define PANAVIRT_GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define PV_UCALL_PORT 0xe0
enum { PV_UCALL_PRINT = 1, PV_UCALL_ASSERT = 2, PV_UCALL_SYNC = 3, PV_UCALL_DONE = 4 };

/* Layout read by the host (dev.panavirt.machine.Ucall): keep in step with it. */
struct pv_ucall {
    u32 cmd;
    u32 line;
    u64 value;
    char file[64];
    char msg[256];
};

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline void mmio_write8(u64 a, u8 v) { *(volatile u8 *)a = v; }
static inline void mmio_write16(u64 a, u16 v) { *(volatile u16 *)a = v; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline void mmio_write64(u64 a, u64 v) { *(volatile u64 *)a = v; }
static inline u8 mmio_read8(u64 a) { return *(volatile u8 *)a; }
static inline u16 mmio_read16(u64 a) { return *(volatile u16 *)a; }
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline u64 mmio_read64(u64 a) { return *(volatile u64 *)a; }

static inline void cpu_relax(void) { __asm__ volatile("pause"); }
static inline void hlt(void) { __asm__ volatile("hlt"); }
static inline void sti(void) { __asm__ volatile("sti"); }
static inline void cli(void) { __asm__ volatile("cli"); }

static inline u32 pv_strlen(const char *s) { u32 n = 0; while (s[n]) n++; return n; }

static inline void pv_copy(char *dst, const char *src, u32 max) {
    u32 i = 0;
    if (src) for (; i + 1 < max && src[i]; i++) dst[i] = src[i];
    dst[i] = 0;
}

static inline void pv_ucall(u32 cmd, const char *file, u32 line, u64 value, const char *msg) {
    struct pv_ucall uc;
    uc.cmd = cmd;
    uc.line = line;
    uc.value = value;
    pv_copy(uc.file, file, sizeof uc.file);
    pv_copy(uc.msg, msg, sizeof uc.msg);
    outl(PV_UCALL_PORT, (u32)(u64)&uc);
    __asm__ volatile("" : : : "memory");
}

/* Formats an unsigned value in hex into buf (at least 19 bytes). */
static inline char *pv_hex(char *buf, u64 v) {
    static const char digits[] = "0123456789abcdef";
    int i = 0, shift;
    buf[i++] = '0'; buf[i++] = 'x';
    for (shift = 60; shift > 0 && ((v >> shift) & 0xf) == 0; shift -= 4) {}
    for (; shift >= 0; shift -= 4) buf[i++] = digits[(v >> shift) & 0xf];
    buf[i] = 0;
    return buf;
}

#define GUEST_PRINT(msg) pv_ucall(PV_UCALL_PRINT, __FILE__, __LINE__, 0, (msg))
#define GUEST_SYNC(v) pv_ucall(PV_UCALL_SYNC, __FILE__, __LINE__, (u64)(v), 0)
#define GUEST_DONE(v) pv_ucall(PV_UCALL_DONE, __FILE__, __LINE__, (u64)(v), 0)
#define GUEST_ASSERT(cond) do { if (!(cond)) pv_ucall(PV_UCALL_ASSERT, __FILE__, __LINE__, 0, "assertion failed: " #cond); } while (0)
#define GUEST_ASSERT_EQ(a, b) do { u64 _a = (u64)(a), _b = (u64)(b); if (_a != _b) { \
        char _m[256], _h[24]; u32 _n = 0; const char *_p = #a " == " #b ", left "; \
        while (*_p && _n < 200) _m[_n++] = *_p++; pv_hex(_h, _a); for (_p = _h; *_p; ) _m[_n++] = *_p++; \
        _p = " right "; while (*_p) _m[_n++] = *_p++; pv_hex(_h, _b); for (_p = _h; *_p; ) _m[_n++] = *_p++; \
        _m[_n] = 0; pv_ucall(PV_UCALL_ASSERT, __FILE__, __LINE__, _a, _m); } } while (0)

/*
 * A guest defines either int main(void), or int guest_main(u64 cpu) to learn which vCPU runs it (the
 * host passes the vCPU index in RDI). The return value is reported with GUEST_DONE.
 */
int main(void) __attribute__((weak));
int guest_main(u64 cpu) __attribute__((weak));

/* Entry point: placed first in the image by the linker script, called with a valid stack. */
__attribute__((section(".text.start"), noreturn, used)) void _start(u64 cpu) {
    int rc = guest_main ? guest_main(cpu) : main();
    GUEST_DONE(rc);
    for (;;) hlt();
}

/*
 * Interrupts, for guests that take them. pv_irq_setup(vector) points IDT entry `vector` at a handler that
 * counts into pv_irq_count and EOIs the local APIC, loads the IDT, masks both 8259s (KVM wires the BSP's
 * LINT0 to them) and turns the local APIC on, accepting every priority. pv_ioapic_route sends an IOAPIC pin
 * to a vector on APIC 0 (edge, or level with level != 0); pv_wait_irqs halts with interrupts enabled until
 * pv_irq_count reaches n (an assertion fails after a million wake-ups without it).
 */
#define PV_APIC 0xfee00000ull
#define PV_IOAPIC 0xfec00000ull
struct pv_gate { u16 lo; u16 sel; u8 ist; u8 type; u16 mid; u32 hi; u32 zero; } __attribute__((packed));
static struct pv_gate pv_idt[256] __attribute__((aligned(16)));
volatile u32 pv_irq_count;
void pv_isr(void);
__asm__(".global pv_isr\n"
        "pv_isr:\n"
        "  push %rax\n"
        "  lock incl pv_irq_count(%rip)\n"
        "  mov $0xfee000b0, %eax\n"     /* local APIC EOI */
        "  movl $0, (%rax)\n"
        "  pop %rax\n"
        "  iretq\n");

static inline void pv_irq_setup(u8 vector) {
    u64 h = (u64)pv_isr;
    pv_idt[vector].lo = h; pv_idt[vector].sel = 0x08; pv_idt[vector].type = 0x8e;
    pv_idt[vector].mid = h >> 16; pv_idt[vector].hi = h >> 32;
    struct { u16 limit; u64 base; } __attribute__((packed)) d = { sizeof pv_idt - 1, (u64)pv_idt };
    __asm__ volatile("lidt %0" : : "m"(d));
    outb(0x21, 0xff); outb(0xa1, 0xff);
    mmio_write32(PV_APIC + 0xf0, 0x1ff);  /* enabled, spurious vector 0xff */
    mmio_write32(PV_APIC + 0x80, 0);      /* TPR: accept all */
}

static inline void pv_ioapic_write(u32 reg, u32 v) { mmio_write32(PV_IOAPIC, reg); mmio_write32(PV_IOAPIC + 0x10, v); }

static inline void pv_ioapic_route(u32 pin, u8 vector, int level) {
    pv_ioapic_write(0x10 + 2 * pin + 1, 0);
    pv_ioapic_write(0x10 + 2 * pin, vector | (level ? 0x8000 : 0));
}

static inline void pv_wait_irqs(u32 n) {
    for (u64 wakeups = 0; pv_irq_count < n; wakeups++) {
        GUEST_ASSERT(wakeups < 1000000);
        __asm__ volatile("sti; hlt; cli");
    }
}

#endif
