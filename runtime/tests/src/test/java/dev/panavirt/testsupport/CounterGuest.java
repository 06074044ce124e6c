package dev.panavirt.testsupport;

import dev.panavirt.machine.GuestImage;

/** A gcc-built guest that counts through the UART for a while, for the snapshot tests of the machine and the CLI. */
public final class CounterGuest {
    private CounterGuest() {
    }

    /** The status a run of {@link #IMAGE} ends with: debug exit 0x21, so (0x21 << 1) | 1. */
    public static final int STATUS = 67;

    /**
     * 150 lines, each after stirring a 512 KiB table and waiting 10 million TSC cycles (2.5 ms at 4 GHz): at least
     * 375 ms on any host, so a snapshot at 200 ms falls mid-run (about 1.5 s on the paravirtual KVM, whose guest
     * is slower at the table). Each line shows the running hash, so lost or repeated work shows.
     */
    public static final GuestImage IMAGE = Guests.c("""
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
}
