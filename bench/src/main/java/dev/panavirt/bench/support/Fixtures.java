package dev.panavirt.bench.support;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.testkit.TestGuest;
import org.openjdk.jmh.infra.BenchmarkParams;

/** Guests and small helpers shared by the benchmarks. */
public final class Fixtures {
    private Fixtures() {}

    /** Guest RAM for the exit benchmarks: 32 KiB at 0, so 0xf000 is unbacked and a store there is MMIO. */
    public static final long RAM = 0x8000;

    /** Real mode at 0x7c00: {@code 1: out 0x80, al; jmp 1b} — one KVM_EXIT_IO per KVM_RUN. */
    public static final GuestImage PIO_LOOP = GuestImage.ofBytes(0x7c00,
            0xe6, 0x80,          // out 0x80, al
            0xeb, 0xfc);         // jmp -4

    /** Real mode at 0x7c00: {@code 1: mov [0xf000], al; jmp 1b} — one KVM_EXIT_MMIO (a 1-byte write) per KVM_RUN. */
    public static final GuestImage MMIO_LOOP = GuestImage.ofBytes(0x7c00,
            0xa2, 0x00, 0xf0,    // mov [0xf000], al  (ds base 0)
            0xeb, 0xfb);         // jmp -5

    /** A one-vCPU real-mode VM with {@link #RAM} bytes of RAM running {@code image}. */
    public static TestGuest realMode(GuestImage image) throws ErrnoException {
        return TestGuest.create(image, false, TestGuest.Options.defaults().withRam(RAM));
    }

    /** The path (benchmark method name) a JMH fork runs, so setup only loads what that path needs. */
    public static String path(BenchmarkParams params) {
        String b = params.getBenchmark();
        return b.substring(b.lastIndexOf('.') + 1);
    }

    /** Whether a fork running {@code path} needs what {@code forPath} uses ({@code "all"} needs everything). */
    public static boolean wants(String path, String forPath) {
        return path.equals(forPath) || path.equals("all");
    }

    /** Throws when a call that returns -1 or -errno failed. */
    public static int check(int rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed: "
                    + (rc == -1 ? "-1 (errno not captured)" : "errno " + -rc));
        }
        return rc;
    }

    /** Throws when a call that returns -1 or -errno failed. */
    public static long check(long rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed: "
                    + (rc == -1 ? "-1 (errno not captured)" : "errno " + -rc));
        }
        return rc;
    }

    /** Throws when jnr-ffi reported a failure, with the errno it saved. */
    public static int checkJnr(int rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed: errno " + JnrLibc.errno());
        }
        return rc;
    }

    /** Throws when jnr-ffi reported a failure, with the errno it saved. */
    public static long checkJnr(long rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed: errno " + JnrLibc.errno());
        }
        return rc;
    }

    /** Throws when a KVM exit was not the expected one. */
    public static int expectExit(int reason, int expected) {
        if (reason != expected) {
            throw new IllegalStateException("unexpected KVM exit reason " + reason + ", wanted " + expected);
        }
        return reason;
    }
}
