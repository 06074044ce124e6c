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
 * from {@link #DATA} up to the stack, printing a dot on COM1 every so many rounds (64 dots in all, or fewer).
 * Then it checks every page: word 0 must equal the rounds and word 1 the last round. A page that a migration
 * left stale on the destination misses the increments made before its last copy, and so fails the check. The
 * guest then prints {@code "migrate demo: LOST WRITES: the page at 0x..."} and writes 1 to the debug-exit port
 * (status 3); otherwise it prints the pages and rounds it counted and halts (status 0). Its output and status
 * depend on nothing but its parameters, so a moved run and an unmoved run print the same.
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
        0x48, 0x8b, 0x3c, 0x25, 0x00, 0x02, 0x10, 0x00,   // 000: mov 0x100200,%rdi
        0x48, 0x8b, 0x0c, 0x25, 0x08, 0x02, 0x10, 0x00,   // 008: mov 0x100208,%rcx
        0x4c, 0x8b, 0x04, 0x25, 0x10, 0x02, 0x10, 0x00,   // 010: mov 0x100210,%r8
        0x4c, 0x8b, 0x14, 0x25, 0x18, 0x02, 0x10, 0x00,   // 018: mov 0x100218,%r10
        0x4d, 0x31, 0xc9,                                 // 020: xor %r9,%r9
        // round:
        0x48, 0x31, 0xf6,                                 // 023: xor %rsi,%rsi
        0x48, 0x89, 0xf8,                                 // 026: mov %rdi,%rax
        // page:
        0x48, 0xff, 0x00,                                 // 029: incq (%rax)
        0x4c, 0x89, 0x48, 0x08,                           // 02c: mov %r9,0x8(%rax)
        0x48, 0x05, 0x00, 0x10, 0x00, 0x00,               // 030: add $0x1000,%rax
        0x48, 0xff, 0xc6,                                 // 036: inc %rsi
        0x48, 0x39, 0xce,                                 // 039: cmp %rcx,%rsi
        0x72, 0xeb,                                       // 03c: jb 29 <page>
        0x49, 0xff, 0xc1,                                 // 03e: inc %r9
        0x4d, 0x85, 0xd1,                                 // 041: test %r10,%r9
        0x75, 0x07,                                       // 044: jne 4d <nodot>
        0x66, 0xba, 0xf8, 0x03,                           // 046: mov $0x3f8,%dx
        0xb0, 0x2e,                                       // 04a: mov $0x2e,%al
        0xee,                                             // 04c: out %al,(%dx)
        // nodot:
        0x4d, 0x39, 0xc1,                                 // 04d: cmp %r8,%r9
        0x72, 0xd1,                                       // 050: jb 23 <round>
        0x66, 0xba, 0xf8, 0x03,                           // 052: mov $0x3f8,%dx
        0xb0, 0x0a,                                       // 056: mov $0xa,%al
        0xee,                                             // 058: out %al,(%dx)
        0x48, 0x89, 0xf8,                                 // 059: mov %rdi,%rax
        0x48, 0x31, 0xf6,                                 // 05c: xor %rsi,%rsi
        0x4d, 0x8d, 0x58, 0xff,                           // 05f: lea -0x1(%r8),%r11
        // check:
        0x4c, 0x3b, 0x00,                                 // 063: cmp (%rax),%r8
        0x75, 0x44,                                       // 066: jne ac <bad>
        0x4c, 0x3b, 0x58, 0x08,                           // 068: cmp 0x8(%rax),%r11
        0x75, 0x3e,                                       // 06c: jne ac <bad>
        0x48, 0x05, 0x00, 0x10, 0x00, 0x00,               // 06e: add $0x1000,%rax
        0x48, 0xff, 0xc6,                                 // 074: inc %rsi
        0x48, 0x39, 0xce,                                 // 077: cmp %rcx,%rsi
        0x72, 0xe7,                                       // 07a: jb 63 <check>
        0x48, 0x8d, 0x1d, 0x97, 0x00, 0x00, 0x00,         // 07c: lea 0x97(%rip),%rbx
        0xe8, 0x4a, 0x00, 0x00, 0x00,                     // 083: call d2 <puts>
        0x48, 0x89, 0xc8,                                 // 088: mov %rcx,%rax
        0xe8, 0x53, 0x00, 0x00, 0x00,                     // 08b: call e3 <hex>
        0x48, 0x8d, 0x1d, 0xb8, 0x00, 0x00, 0x00,         // 090: lea 0xb8(%rip),%rbx
        0xe8, 0x36, 0x00, 0x00, 0x00,                     // 097: call d2 <puts>
        0x4c, 0x89, 0xc0,                                 // 09c: mov %r8,%rax
        0xe8, 0x3f, 0x00, 0x00, 0x00,                     // 09f: call e3 <hex>
        0xb0, 0x0a,                                       // 0a4: mov $0xa,%al
        0x66, 0xba, 0xf8, 0x03,                           // 0a6: mov $0x3f8,%dx
        0xee,                                             // 0aa: out %al,(%dx)
        0xf4,                                             // 0ab: hlt
        // bad:
        0x49, 0x89, 0xc4,                                 // 0ac: mov %rax,%r12
        0x48, 0x8d, 0x1d, 0xa3, 0x00, 0x00, 0x00,         // 0af: lea 0xa3(%rip),%rbx
        0xe8, 0x17, 0x00, 0x00, 0x00,                     // 0b6: call d2 <puts>
        0x4c, 0x89, 0xe0,                                 // 0bb: mov %r12,%rax
        0xe8, 0x20, 0x00, 0x00, 0x00,                     // 0be: call e3 <hex>
        0xb0, 0x0a,                                       // 0c3: mov $0xa,%al
        0x66, 0xba, 0xf8, 0x03,                           // 0c5: mov $0x3f8,%dx
        0xee,                                             // 0c9: out %al,(%dx)
        0xb0, 0x01,                                       // 0ca: mov $0x1,%al
        0x66, 0xba, 0xf4, 0x00,                           // 0cc: mov $0xf4,%dx
        0xee,                                             // 0d0: out %al,(%dx)
        0xf4,                                             // 0d1: hlt
        // puts:
        0x66, 0xba, 0xf8, 0x03,                           // 0d2: mov $0x3f8,%dx
        0x8a, 0x03,                                       // 0d6: mov (%rbx),%al
        0x84, 0xc0,                                       // 0d8: test %al,%al
        0x74, 0x06,                                       // 0da: je e2 <puts+0x10>
        0xee,                                             // 0dc: out %al,(%dx)
        0x48, 0xff, 0xc3,                                 // 0dd: inc %rbx
        0xeb, 0xf4,                                       // 0e0: jmp d6 <puts+0x4>
        0xc3,                                             // 0e2: ret
        // hex:
        0x49, 0x89, 0xc5,                                 // 0e3: mov %rax,%r13
        0x66, 0xba, 0xf8, 0x03,                           // 0e6: mov $0x3f8,%dx
        0xb0, 0x30,                                       // 0ea: mov $0x30,%al
        0xee,                                             // 0ec: out %al,(%dx)
        0xb0, 0x78,                                       // 0ed: mov $0x78,%al
        0xee,                                             // 0ef: out %al,(%dx)
        0xb1, 0x3c,                                       // 0f0: mov $0x3c,%cl
        0x4d, 0x31, 0xf6,                                 // 0f2: xor %r14,%r14
        0x4c, 0x89, 0xe8,                                 // 0f5: mov %r13,%rax
        0x48, 0xd3, 0xe8,                                 // 0f8: shr %cl,%rax
        0x24, 0x0f,                                       // 0fb: and $0xf,%al
        0x75, 0x09,                                       // 0fd: jne 108 <hex+0x25>
        0x4d, 0x85, 0xf6,                                 // 0ff: test %r14,%r14
        0x75, 0x04,                                       // 102: jne 108 <hex+0x25>
        0x84, 0xc9,                                       // 104: test %cl,%cl
        0x75, 0x0c,                                       // 106: jne 114 <hex+0x31>
        0x41, 0xb6, 0x01,                                 // 108: mov $0x1,%r14b
        0x04, 0x30,                                       // 10b: add $0x30,%al
        0x3c, 0x39,                                       // 10d: cmp $0x39,%al
        0x76, 0x02,                                       // 10f: jbe 113 <hex+0x30>
        0x04, 0x27,                                       // 111: add $0x27,%al
        0xee,                                             // 113: out %al,(%dx)
        0x80, 0xe9, 0x04,                                 // 114: sub $0x4,%cl
        0x79, 0xdc,                                       // 117: jns f5 <hex+0x12>
        0xc3,                                             // 119: ret
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
