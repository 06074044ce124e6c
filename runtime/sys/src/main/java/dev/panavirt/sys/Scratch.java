package dev.panavirt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Per-thread native scratch: an errno capture segment and a small argument buffer, so that
 * system calls made off the vCPU hot path need no allocation and never share a capture segment
 * between threads.
 */
public final class Scratch {
    /** Size of {@link #buffer()}: fits the small fixed-size ioctl arguments. */
    public static final int BUFFER_SIZE = 256;

    private static final ThreadLocal<Scratch> CURRENT = ThreadLocal.withInitial(Scratch::new);

    private final MemorySegment capture;
    private final MemorySegment buffer;

    private Scratch() {
        Arena arena = Arena.ofAuto();
        this.capture = Libc.newCapture(arena);
        this.buffer = arena.allocate(BUFFER_SIZE, 16);
    }

    /** The calling thread's scratch. */
    public static Scratch current() {
        return CURRENT.get();
    }

    /** The calling thread's errno capture segment. */
    public static MemorySegment capture() {
        return CURRENT.get().capture;
    }

    /** This thread's errno capture segment. */
    public MemorySegment captureSegment() {
        return capture;
    }

    /** This thread's argument buffer ({@link #BUFFER_SIZE} bytes, 16-aligned); contents are not cleared. */
    public MemorySegment buffer() {
        return buffer;
    }
}
