package dev.panavirt.machine;

import dev.panavirt.kvm.GuestMemory;

/**
 * A guest-to-host call made by a guest built with {@code panavirt_guest.h}: the guest writes the
 * guest-physical address of a {@code struct pv_ucall} to {@link #PORT} with a 32-bit {@code out}.
 *
 * @param command PRINT, ASSERT, SYNC or DONE
 * @param file    the guest source file (ASSERT)
 * @param line    the guest source line
 * @param value   SYNC stage, DONE value, or the left operand of a failed ASSERT_EQ
 * @param message PRINT text or ASSERT message
 */
public record Ucall(Command command, String file, int line, long value, String message) {
    /** The PIO port ucalls use. */
    public static final int PORT = 0xe0;

    /** Size of {@code struct pv_ucall} and its field offsets (see panavirt_guest.h). */
    static final int SIZE = 4 + 4 + 8 + 64 + 256, OFF_LINE = 4, OFF_VALUE = 8, OFF_FILE = 16, OFF_MSG = 80;

    /** The ucall commands. */
    public enum Command {
        PRINT, ASSERT, SYNC, DONE;

        static Command of(int code) {
            return switch (code) {
                case 1 -> PRINT;
                case 2 -> ASSERT;
                case 3 -> SYNC;
                case 4 -> DONE;
                default -> null;
            };
        }
    }

    /**
     * Reads the ucall at guest-physical {@code gpa}; a guest that passes a bad address or command gets
     * {@link IllegalArgumentException}, never a host fault.
     */
    public static Ucall read(GuestMemory memory, long gpa) {
        if (!memory.isMapped(gpa, SIZE)) {
            throw new IllegalArgumentException("ucall block at 0x" + Long.toHexString(gpa) + " is not in guest RAM");
        }
        int code = memory.readInt(gpa);
        Command c = Command.of(code);
        if (c == null) {
            throw new IllegalArgumentException("unknown ucall command " + code + " at 0x" + Long.toHexString(gpa));
        }
        return new Ucall(c, memory.readCString(gpa + OFF_FILE, 64), memory.readInt(gpa + OFF_LINE),
                memory.readLong(gpa + OFF_VALUE), memory.readCString(gpa + OFF_MSG, 256));
    }

    /** "file:line: message", as a failed guest assertion is reported. */
    public String where() {
        return file + ":" + line + ": " + message;
    }
}
