package dev.panavirt.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A guest that keeps writing every page of its RAM and checks at the end that no write was lost: the guest of
 * {@code panavirt migrate}, and of tests that move a {@link Machine} while it runs. 64-bit code, assembled by
 * hand below, entered in long mode at {@link #LOAD} ({@link Machine#load(GuestImage, Machine.Mode)}); no
 * in-kernel irqchip needed.
 *
 * <p>In each of {@code rounds} rounds it adds one to word 0 and stores the round number in word 1 of every page
 * from {@link #DATA} up to the stack, writes the UART's scratch register (one exit per round, which paces the guest
 * by the host's exit cost: under emulation guest code runs fast and the migration slowly, and an unpaced guest ended
 * before a move could reach it), and prints a dot on COM1 every so many rounds (64 dots in all, or fewer).
 * Then it checks every page: word 0 must equal the rounds and word 1 the last round. A page that a migration
 * left stale on the destination misses the increments made before its last copy, and so fails the check. The
 * guest then prints {@code "migrate demo: LOST WRITES: the page at 0x..."} and writes 1 to the debug-exit port
 * (status 3); otherwise it prints the pages and rounds it counted and halts (status 0). Its output and status
 * depend on nothing but its parameters, so a moved run and an unmoved run print the same. Only vCPU 0 works; the
 * others halt at once with interrupts off (idle for good with the in-kernel irqchip; without it a halted vCPU
 * leaves its run, and such a machine cannot be saved or moved).
 */
public final class MigrationDemoGuest {
    /** Load and entry address. */
    public static final long LOAD = 0x100000;
    /** The first page the guest writes: above the code, its parameters and the long-mode tables. */
    public static final long DATA = 0x400000;
    /** Where the parameters are (u64 each): data base, page count, rounds, dot mask. */
    static final int PARAMETERS = 0x200;
    /** The number of dots the guest prints at most. */
    public static final int DOTS = 64;

    private MigrationDemoGuest() {
    }

    private static final int[] CODE = {
        // start:
        0x48, 0x85, 0xff,                                 // 000: test %rdi,%rdi
        0x0f, 0x85, 0xd7, 0x00, 0x00, 0x00,               // 003: jne e0 <park>
        0x48, 0x8b, 0x3c, 0x25, 0x00, 0x02, 0x10, 0x00,   // 009: mov 0x100200,%rdi
        0x48, 0x8b, 0x0c, 0x25, 0x08, 0x02, 0x10, 0x00,   // 011: mov 0x100208,%rcx
        0x4c, 0x8b, 0x04, 0x25, 0x10, 0x02, 0x10, 0x00,   // 019: mov 0x100210,%r8
        0x4c, 0x8b, 0x14, 0x25, 0x18, 0x02, 0x10, 0x00,   // 021: mov 0x100218,%r10
        0x4d, 0x31, 0xc9,                                 // 029: xor %r9,%r9
        // round:
        0x48, 0x31, 0xf6,                                 // 02c: xor %rsi,%rsi
        0x48, 0x89, 0xf8,                                 // 02f: mov %rdi,%rax
        // page:
        0x48, 0xff, 0x00,                                 // 032: incq (%rax)
        0x4c, 0x89, 0x48, 0x08,                           // 035: mov %r9,0x8(%rax)
        0x48, 0x05, 0x00, 0x10, 0x00, 0x00,               // 039: add $0x1000,%rax
        0x48, 0xff, 0xc6,                                 // 03f: inc %rsi
        0x48, 0x39, 0xce,                                 // 042: cmp %rcx,%rsi
        0x72, 0xeb,                                       // 045: jb 32 <page>
        0x49, 0xff, 0xc1,                                 // 047: inc %r9
        0x66, 0xba, 0xff, 0x03,                           // 04a: mov $0x3ff,%dx
        0xee,                                             // 04e: out %al,(%dx)
        0x4d, 0x85, 0xd1,                                 // 04f: test %r10,%r9
        0x75, 0x07,                                       // 052: jne 5b <nodot>
        0x66, 0xba, 0xf8, 0x03,                           // 054: mov $0x3f8,%dx
        0xb0, 0x2e,                                       // 058: mov $0x2e,%al
        0xee,                                             // 05a: out %al,(%dx)
        // nodot:
        0x4d, 0x39, 0xc1,                                 // 05b: cmp %r8,%r9
        0x72, 0xcc,                                       // 05e: jb 2c <round>
        0x66, 0xba, 0xf8, 0x03,                           // 060: mov $0x3f8,%dx
        0xb0, 0x0a,                                       // 064: mov $0xa,%al
        0xee,                                             // 066: out %al,(%dx)
        0x48, 0x89, 0xf8,                                 // 067: mov %rdi,%rax
        0x48, 0x31, 0xf6,                                 // 06a: xor %rsi,%rsi
        0x4d, 0x8d, 0x58, 0xff,                           // 06d: lea -0x1(%r8),%r11
        // check:
        0x4c, 0x3b, 0x00,                                 // 071: cmp (%rax),%r8
        0x75, 0x44,                                       // 074: jne ba <bad>
        0x4c, 0x3b, 0x58, 0x08,                           // 076: cmp 0x8(%rax),%r11
        0x75, 0x3e,                                       // 07a: jne ba <bad>
        0x48, 0x05, 0x00, 0x10, 0x00, 0x00,               // 07c: add $0x1000,%rax
        0x48, 0xff, 0xc6,                                 // 082: inc %rsi
        0x48, 0x39, 0xce,                                 // 085: cmp %rcx,%rsi
        0x72, 0xe7,                                       // 088: jb 71 <check>
        0x48, 0x8d, 0x1d, 0x9b, 0x00, 0x00, 0x00,         // 08a: lea 0x9b(%rip),%rbx
        0xe8, 0x4e, 0x00, 0x00, 0x00,                     // 091: call e4 <puts>
        0x48, 0x89, 0xc8,                                 // 096: mov %rcx,%rax
        0xe8, 0x57, 0x00, 0x00, 0x00,                     // 099: call f5 <hex>
        0x48, 0x8d, 0x1d, 0xbc, 0x00, 0x00, 0x00,         // 09e: lea 0xbc(%rip),%rbx
        0xe8, 0x3a, 0x00, 0x00, 0x00,                     // 0a5: call e4 <puts>
        0x4c, 0x89, 0xc0,                                 // 0aa: mov %r8,%rax
        0xe8, 0x43, 0x00, 0x00, 0x00,                     // 0ad: call f5 <hex>
        0xb0, 0x0a,                                       // 0b2: mov $0xa,%al
        0x66, 0xba, 0xf8, 0x03,                           // 0b4: mov $0x3f8,%dx
        0xee,                                             // 0b8: out %al,(%dx)
        0xf4,                                             // 0b9: hlt
        // bad:
        0x49, 0x89, 0xc4,                                 // 0ba: mov %rax,%r12
        0x48, 0x8d, 0x1d, 0xa7, 0x00, 0x00, 0x00,         // 0bd: lea 0xa7(%rip),%rbx
        0xe8, 0x1b, 0x00, 0x00, 0x00,                     // 0c4: call e4 <puts>
        0x4c, 0x89, 0xe0,                                 // 0c9: mov %r12,%rax
        0xe8, 0x24, 0x00, 0x00, 0x00,                     // 0cc: call f5 <hex>
        0xb0, 0x0a,                                       // 0d1: mov $0xa,%al
        0x66, 0xba, 0xf8, 0x03,                           // 0d3: mov $0x3f8,%dx
        0xee,                                             // 0d7: out %al,(%dx)
        0xb0, 0x01,                                       // 0d8: mov $0x1,%al
        0x66, 0xba, 0xf4, 0x00,                           // 0da: mov $0xf4,%dx
        0xee,                                             // 0de: out %al,(%dx)
        0xf4,                                             // 0df: hlt
        // park:
        0xfa,                                             // 0e0: cli
        0xf4,                                             // 0e1: hlt
        0xeb, 0xfc,                                       // 0e2: jmp e0 <park>
        // puts:
        0x66, 0xba, 0xf8, 0x03,                           // 0e4: mov $0x3f8,%dx
        0x8a, 0x03,                                       // 0e8: mov (%rbx),%al
        0x84, 0xc0,                                       // 0ea: test %al,%al
        0x74, 0x06,                                       // 0ec: je f4 <puts+0x10>
        0xee,                                             // 0ee: out %al,(%dx)
        0x48, 0xff, 0xc3,                                 // 0ef: inc %rbx
        0xeb, 0xf4,                                       // 0f2: jmp e8 <puts+0x4>
        0xc3,                                             // 0f4: ret
        // hex:
        0x49, 0x89, 0xc5,                                 // 0f5: mov %rax,%r13
        0x66, 0xba, 0xf8, 0x03,                           // 0f8: mov $0x3f8,%dx
        0xb0, 0x30,                                       // 0fc: mov $0x30,%al
        0xee,                                             // 0fe: out %al,(%dx)
        0xb0, 0x78,                                       // 0ff: mov $0x78,%al
        0xee,                                             // 101: out %al,(%dx)
        0xb1, 0x3c,                                       // 102: mov $0x3c,%cl
        0x4d, 0x31, 0xf6,                                 // 104: xor %r14,%r14
        0x4c, 0x89, 0xe8,                                 // 107: mov %r13,%rax
        0x48, 0xd3, 0xe8,                                 // 10a: shr %cl,%rax
        0x24, 0x0f,                                       // 10d: and $0xf,%al
        0x75, 0x09,                                       // 10f: jne 11a <hex+0x25>
        0x4d, 0x85, 0xf6,                                 // 111: test %r14,%r14
        0x75, 0x04,                                       // 114: jne 11a <hex+0x25>
        0x84, 0xc9,                                       // 116: test %cl,%cl
        0x75, 0x0c,                                       // 118: jne 126 <hex+0x31>
        0x41, 0xb6, 0x01,                                 // 11a: mov $0x1,%r14b
        0x04, 0x30,                                       // 11d: add $0x30,%al
        0x3c, 0x39,                                       // 11f: cmp $0x39,%al
        0x76, 0x02,                                       // 121: jbe 125 <hex+0x30>
        0x04, 0x27,                                       // 123: add $0x27,%al
        0xee,                                             // 125: out %al,(%dx)
        0x80, 0xe9, 0x04,                                 // 126: sub $0x4,%cl
        0x79, 0xdc,                                       // 129: jns 107 <hex+0x12>
        0xc3,                                             // 12b: ret
    };

    /** The strings the code addresses RIP-relative, in order from the end of {@link #CODE}. */
    private static final String[] STRINGS = {"migrate demo: every page counted every round: pages ", ", rounds ",
        "migrate demo: LOST WRITES: the page at "};

    /**
     * The guest for a machine of {@code memorySize} bytes: it writes every page from {@link #DATA} to below the
     * vCPU's stack ({@link X86Boot#STACK_SIZE} at the top of RAM), {@code rounds} times.
     *
     * @throws IllegalArgumentException when the RAM leaves no page to write or {@code rounds} is not positive
     */
    public static GuestImage image(long memorySize, long rounds) {
        long pages = pages(memorySize);
        if (pages < 1 || rounds < 1) {
            throw new IllegalArgumentException("the migration demo needs RAM above " + (DATA >> 20) + " MiB and "
                    + "at least one round: " + memorySize + " bytes, " + rounds + " rounds");
        }
        ByteBuffer b = ByteBuffer.allocate(PARAMETERS + 32).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : CODE) {
            b.put((byte) x);
        }
        for (String s : STRINGS) {
            b.put(s.getBytes(StandardCharsets.US_ASCII)).put((byte) 0);
        }
        if (b.position() > PARAMETERS) {
            throw new IllegalStateException("the demo's code runs into its parameters");
        }
        long perDot = Math.max(1, Long.highestOneBit(Math.max(1, rounds / DOTS)));
        b.position(PARAMETERS);
        b.putLong(DATA).putLong(pages).putLong(rounds).putLong(perDot - 1);
        return new GuestImage(b.array(), LOAD, LOAD);
    }

    /** The pages the guest writes in a machine of {@code memorySize} bytes. */
    public static long pages(long memorySize) {
        return Math.max(0, (memorySize - X86Boot.STACK_SIZE - DATA) / 4096);
    }

    /** Everything the guest prints when no write was lost. */
    public static String expectedOutput(long memorySize, long rounds) {
        long perDot = Math.max(1, Long.highestOneBit(Math.max(1, rounds / DOTS)));
        return ".".repeat((int) (rounds / perDot)) + "\n" + STRINGS[0] + "0x" + Long.toHexString(pages(memorySize))
                + STRINGS[1] + "0x" + Long.toHexString(rounds) + "\n";
    }
}
