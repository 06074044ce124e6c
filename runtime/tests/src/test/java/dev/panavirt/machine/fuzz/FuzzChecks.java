package dev.panavirt.machine.fuzz;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** What the fuzz targets require of an exception that reports bad input. */
final class FuzzChecks {
    private FuzzChecks() {}

    /** The exception says what is wrong: a message, not empty, one line. */
    static void message(Exception e) {
        assertNotNull(e.getMessage(), () -> e.getClass().getName() + " without a message");
        assertFalse(e.getMessage().isBlank(), "blank message");
        assertFalse(e.getMessage().contains("\n"), () -> "a message of several lines: " + e.getMessage());
    }
}
