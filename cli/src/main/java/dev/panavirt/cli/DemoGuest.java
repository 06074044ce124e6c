package dev.panavirt.cli;

import dev.panavirt.machine.GuestImage;
import java.nio.charset.StandardCharsets;

/**
 * The guest {@code panavirt run} starts when given no file: 64-bit code, assembled by hand below, that
 * prints a greeting on COM1 one {@code out} at a time, reads the UART's line status register with
 * {@code in}, stores that value to an MMIO device and reads one back, then halts.
 */
final class DemoGuest {
    private DemoGuest() {}

    /** Where the demo's MMIO device sits. */
    static final long DEVICE = 0xd000_0000L;
    /** Load and entry address. */
    static final long LOAD = 0x100000;
    static final String GREETING = "Hello from a panavirt guest: 64-bit code on real KVM, talking through "
            + "port I/O and MMIO exits.\n";

    private static final int[] CODE = {
        0x48, 0x8d, 0x35, 0x21, 0x00, 0x00, 0x00,       // lea rsi, [rip + 0x21]  ; the greeting at 0x28
        0x66, 0xba, 0xf8, 0x03,                         // mov dx, 0x3f8          ; COM1 data register
        0xac,                                           // lodsb
        0x84, 0xc0,                                     // test al, al
        0x74, 0x03,                                     // jz +3                  ; end of string
        0xee,                                           // out dx, al             ; PIO write exit
        0xeb, 0xf8,                                     // jmp -8                 ; next byte
        0x66, 0xba, 0xfd, 0x03,                         // mov dx, 0x3fd          ; line status register
        0xec,                                           // in al, dx              ; PIO read exit
        0x48, 0xbf, 0x00, 0x00, 0x00, 0xd0, 0, 0, 0, 0, // mov rdi, 0xd0000000
        0x89, 0x07,                                     // mov [rdi], eax         ; MMIO write exit
        0x8b, 0x47, 0x04,                               // mov eax, [rdi + 4]     ; MMIO read exit
        0xf4,                                           // hlt                    ; KVM_EXIT_HLT ends the run
    };

    static GuestImage image() {
        byte[] text = GREETING.getBytes(StandardCharsets.US_ASCII);
        int[] all = new int[CODE.length + text.length + 1];
        System.arraycopy(CODE, 0, all, 0, CODE.length);
        for (int i = 0; i < text.length; i++) {
            all[CODE.length + i] = text[i];
        }
        return GuestImage.ofBytes(LOAD, all);
    }
}
