package dev.panavirt.testsupport;

import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.GuestCompiler;
import dev.panavirt.testkit.TestGuest;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Compiles test guests once per JVM (gcc takes a fraction of a second per guest). */
public final class Guests {
    private Guests() {}

    private static final Map<String, GuestImage> CACHE = new ConcurrentHashMap<>();

    /** The C body compiled after {@code #include "panavirt_guest.h"}, linked at {@link TestGuest#IMAGE_BASE}. */
    public static GuestImage c(String body) {
        return CACHE.computeIfAbsent(body, b -> {
            try {
                return new GuestCompiler().compile("#include \"panavirt_guest.h\"\n" + b, TestGuest.IMAGE_BASE);
            } catch (GuestCompiler.GuestBuildException e) {
                throw new AssertionError("test guest does not build: " + e.getMessage(), e);
            }
        });
    }
}
