package dev.panavirt.bench.support;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bench.Via;
import dev.panavirt.machine.GuestImage;
import dev.panavirt.sys.Libc;
import dev.panavirt.testkit.TestGuest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Deque;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * What one fork of a per-call benchmark calls: the file descriptor, the errno capture segment, and the
 * call's buffer as each path holds it (an FFM segment, a JNA pointer, a jnr-ffi pointer). It is built for
 * the one path the fork runs, so a C or FFM fork never loads JNA or jnr-ffi; the path {@code "all"} builds
 * everything (the smoke test). {@link Call} makes the calls; {@link #close()} closes what the fixture owns.
 *
 * <p>The FFM and C paths' memory is an automatic arena, whose segments cost no session acquire per
 * downcall (a shared arena's would, 13–20 ns per segment).
 */
public final class Fixture implements AutoCloseable {
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

    private final String path;
    private final Arena arena = Arena.ofAuto();
    private final Deque<AutoCloseable> owned = new ArrayDeque<>();
    final MemorySegment capture = Libc.newCapture(arena);
    int fd = -1;
    String what = "?";
    MemorySegment segment;
    com.sun.jna.Pointer jnaBuffer;
    jnr.ffi.Pointer jnrBuffer;
    java.nio.ByteBuffer posixBuffer;

    /** A fixture for the path named {@code path} (a {@link Via#method()}, or {@code "all"}). */
    public Fixture(String path) {
        this.path = path;
    }

    /** The path (benchmark method name) a JMH fork runs. */
    public static String path(BenchmarkParams params) {
        String b = params.getBenchmark();
        return b.substring(b.lastIndexOf('.') + 1);
    }

    /** Whether this fixture is for {@code via} (or for every path). */
    private boolean wants(Via via) {
        return path.equals(via.method()) || path.equals("all");
    }

    /** Closes {@code resource} with the fixture, after everything owned later (last in, first out). */
    public <T extends AutoCloseable> T own(T resource) {
        owned.push(resource);
        return resource;
    }

    /** A one-vCPU real-mode VM with {@link #RAM} bytes of RAM running {@code image}, owned by the fixture. */
    public TestGuest guest(GuestImage image) throws ErrnoException {
        return own(TestGuest.create(image, false, TestGuest.Options.defaults().withRam(RAM)));
    }

    /** Sets the file descriptor the calls go to, and the call's name for failure messages. */
    public Fixture target(int fd, String what) {
        this.fd = fd;
        this.what = what;
        return this;
    }

    /** Sets the buffer the calls pass (or, for {@code KVM_RUN}, read the exit from). */
    public Fixture buffer(Views views) {
        segment = views.ffm();
        jnaBuffer = views.jna();
        jnrBuffer = views.jnr();
        posixBuffer = views.posix();
        return this;
    }

    /** {@code bytes} of zeroed native memory in each view this fixture's path needs (the FFM one always). */
    public Views allocate(long bytes) {
        com.sun.jna.Memory j = null;
        if (wants(Via.JNA)) {
            j = new com.sun.jna.Memory(bytes);
            j.clear();
        }
        return new Views(arena.allocate(bytes, 64),
                j, wants(Via.JNR) ? jnr.ffi.Memory.allocateDirect(JnrLibc.RUNTIME, Math.toIntExact(bytes), true) : null,
                wants(Via.JNR_POSIX) ? java.nio.ByteBuffer.allocateDirect(Math.toIntExact(bytes)) : null);
    }

    /** Memory that exists already (a vCPU's {@code kvm_run} mapping) in each view this fixture's path needs. */
    public Views wrap(MemorySegment existing) {
        return new Views(existing, wants(Via.JNA) ? new com.sun.jna.Pointer(existing.address()) : null,
                wants(Via.JNR) ? jnr.ffi.Pointer.wrap(JnrLibc.RUNTIME, existing.address()) : null, null);
    }

    /** The call's file descriptor. */
    public int fd() {
        return fd;
    }

    /** The FFM and C paths' view of the buffer. */
    public MemorySegment segment() {
        return segment;
    }

    /** The JNA path's view of the buffer (null in other paths' forks). */
    public com.sun.jna.Pointer jna() {
        return jnaBuffer;
    }

    /** The jnr-posix path's view of the buffer, a direct {@code ByteBuffer} (null in other paths' forks). */
    public java.nio.ByteBuffer posix() {
        return posixBuffer;
    }

    /** The jnr-ffi path's view of the buffer (null in other paths' forks). */
    public jnr.ffi.Pointer jnr() {
        return jnrBuffer;
    }

    /** Closes what the fixture owns, newest first; all of it, even when one close fails. */
    @Override
    public void close() {
        IllegalStateException failure = null;
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("closing the fixture of " + what, e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * One native buffer as each path holds it: the FFM segment (also the C path's), and JNA {@code Memory},
     * jnr-ffi direct memory (or pointers into existing memory) or a direct {@code ByteBuffer} for jnr-posix, each
     * null unless the fixture's path needs it. jnr-posix's API takes buffers as {@code ByteBuffer}s and has no
     * way to map memory or to pass a pointer inside a struct, so it has no view of existing memory and
     * {@link #putAddress} leaves its buffer alone (no operation with such a struct has a jnr-posix path).
     *
     * @param ffm the FFM and C paths' segment
     * @param jna the JNA path's pointer, or null
     * @param jnr the jnr-ffi path's pointer, or null
     * @param posix the jnr-posix path's direct buffer, or null
     */
    public record Views(MemorySegment ffm, com.sun.jna.Pointer jna, jnr.ffi.Pointer jnr, java.nio.ByteBuffer posix) {
        /** Copies {@code contents} to {@code offset} of every view (a heap segment such as {@code ofArray(new int[] {…})}). */
        public Views copyFrom(long offset, MemorySegment contents) {
            MemorySegment.copy(contents, 0, ffm, offset, contents.byteSize());
            byte[] bytes = contents.toArray(ValueLayout.JAVA_BYTE);
            if (jna != null) {
                jna.write(offset, bytes, 0, bytes.length);
            }
            if (jnr != null) {
                jnr.put(offset, bytes, 0, bytes.length);
            }
            if (posix != null) {
                posix.put(Math.toIntExact(offset), bytes);
            }
            return this;
        }

        /** Writes the address of {@code target}'s view at {@code offset} of each view (a struct's pointer field). */
        public Views putAddress(long offset, Views target) {
            ffm.set(ValueLayout.ADDRESS, offset, target.ffm);
            if (jna != null) {
                jna.setPointer(offset, target.jna);
            }
            if (jnr != null) {
                jnr.putPointer(offset, target.jnr);
            }
            return this;
        }
    }
}
