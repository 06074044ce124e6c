package dev.panavirt.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The errno path end to end through real system calls; needs no KVM. */
class SyscallLayerTest {

    /** A descriptor number far above anything open gives EBADF through Fd, Ioctl and ErrnoException. */
    @Test
    void invalidDescriptorYieldsEbadfThroughIoctlCall() {
        Fd bogus = Fd.adopt(1_000_000, "bogus-fd");
        ErrnoException e = assertThrows(ErrnoException.class,
                () -> Ioctl.call(bogus, "KVM_GET_API_VERSION", Ioctl.io(0xAE, 0x00)));
        assertEquals(Errno.EBADF, e.errno());
        assertEquals("EBADF", e.errnoName());
        assertEquals("KVM_GET_API_VERSION", e.operation());
        assertEquals(0xAE00L, e.request());
        assertTrue(e.getMessage().contains("KVM_GET_API_VERSION failed: EBADF (errno 9)"), e.getMessage());
        assertTrue(e.getMessage().contains("request 0xae00"), e.getMessage());
        assertTrue(e.getMessage().contains("bogus-fd"), e.getMessage());
    }

    /** The critical handle captures errno as the ordinary one does: -EBADF, -ENOTTY, and a result otherwise. */
    @Test
    void criticalIoctlReturnsMinusErrnoLikeThePlainOne() throws Exception {
        MemorySegment capture = Scratch.capture();
        long checkExtension = Ioctl.io(0xAE, 0x03);
        assertEquals(-Errno.EBADF, Ioctl.rawCritical(capture, Fd.adopt(1_000_002, "bogus-fd"), checkExtension, 3));
        try (Fd fd = Fd.open("/dev/null", Libc.O_RDWR)) {
            assertEquals(-Errno.ENOTTY, Ioctl.rawCritical(capture, fd, checkExtension, 3));
            assertEquals(Ioctl.raw(capture, fd, checkExtension, 3), Ioctl.rawCritical(capture, fd, checkExtension, 3));
        }
    }

    @Test
    void pointerIoctlOnBadFdAlsoYieldsEbadf() {
        Fd bogus = Fd.adopt(1_000_001, "bogus-fd");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment arg = arena.allocate(144);
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> Ioctl.call(bogus, "KVM_GET_REGS", Ioctl.ior(0xAE, 0x81, 144), arg, "vcpu 0"));
            assertEquals(Errno.EBADF, e.errno());
            assertEquals(0x8090ae81L, e.request());
            assertTrue(e.getMessage().contains("vcpu 0"));
        }
    }

    @Test
    void openOfMissingPathNamesPathAndEnoent() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> Fd.open("/nonexistent/panavirt", Libc.O_RDWR));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("open", e.operation());
        assertTrue(e.getMessage().contains("/nonexistent/panavirt"));
    }

    @Test
    void ioctlOnNonKvmFileIsEnotty() throws Exception {
        try (Fd fd = Fd.open("/dev/null", Libc.O_RDWR)) {
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> Ioctl.call(fd, "KVM_GET_API_VERSION", Ioctl.io(0xAE, 0x00)));
            assertEquals(Errno.ENOTTY, e.errno());
        }
    }

    @Test
    void closedFdIsRejectedBeforeTheKernelAndCloseIsIdempotent() throws Exception {
        Fd fd = Fd.open("/dev/null", Libc.O_RDONLY);
        assertTrue(fd.isOpen());
        fd.close();
        fd.close();
        assertFalse(fd.isOpen());
        assertThrows(IllegalStateException.class, fd::raw);
        assertThrows(IllegalStateException.class, () -> Ioctl.call(fd, "X", Ioctl.io(0xAE, 0)));
        assertTrue(fd.toString().contains("closed"));
    }

    @Test
    void ioctlEncodingsMatchTheKernelFormula() {
        assertEquals(0xAE01L, Ioctl.io(0xAE, 0x01));                 // KVM_CREATE_VM
        assertEquals(0x8090AE81L, Ioctl.ior(0xAE, 0x81, 144));       // KVM_GET_REGS
        assertEquals(0x4090AE82L, Ioctl.iow(0xAE, 0x82, 144));       // KVM_SET_REGS
        assertEquals(0xC004AE02L, Ioctl.iowr(0xAE, 0x02, 4));        // KVM_GET_MSR_INDEX_LIST
        long r = Ioctl.iowr(0xAF, 0x70, 4);
        assertEquals(Ioctl.DIR_READ | Ioctl.DIR_WRITE, Ioctl.dir(r));
        assertEquals(0xAF, Ioctl.type(r));
        assertEquals(0x70, Ioctl.nr(r));
        assertEquals(4, Ioctl.size(r));
        assertThrows(IllegalArgumentException.class, () -> Ioctl.ior(0xAE, 1, 1 << 14));
        assertThrows(IllegalArgumentException.class, () -> Ioctl.io(0x1AE, 1));
    }

    @Test
    void errnoNamesRoundTrip() {
        for (int e = 1; e <= 133; e++) {
            String name = Errno.name(e);
            if (!name.startsWith("errno ")) {
                assertEquals(e, Errno.byName(name), name);
            }
        }
        assertEquals("EINVAL", Errno.name(22));
        assertEquals("ENOTSUPP", Errno.name(524));
        assertEquals("errno 9999", Errno.name(9999));
        assertEquals(Errno.EAGAIN, Errno.byName("EWOULDBLOCK"));
    }

    @Test
    void eventfdSignalsAcrossThreadsAndTimesOut() throws Exception {
        try (EventFd e = EventFd.create(Libc.EFD_NONBLOCK)) {
            assertEquals(0, e.read());
            assertEquals(0, e.await(10));
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    e.signal(3);
                } catch (ErrnoException ex) {
                    throw new AssertionError(ex);
                }
            });
            assertEquals(3, e.await(5_000));
            t.join();
        }
    }

    @Test
    void errnoCaptureIsPerThread() throws Exception {
        // Two threads fail with different errnos at once; each must see its own.
        AtomicInteger wrong = new AtomicInteger();
        Runnable ebadf = () -> {
            for (int i = 0; i < 2000; i++) {
                if (Ioctl.raw(Scratch.capture(), Fd.adopt(1_000_002, "x"), Ioctl.io(0xAE, 0), 0) != -Errno.EBADF) {
                    wrong.incrementAndGet();
                }
            }
        };
        Runnable enotty = () -> {
            try (Fd fd = Fd.open("/dev/null", Libc.O_RDWR)) {
                for (int i = 0; i < 2000; i++) {
                    if (Ioctl.raw(Scratch.capture(), fd, Ioctl.io(0xAE, 0), 0) != -Errno.ENOTTY) {
                        wrong.incrementAndGet();
                    }
                }
            } catch (ErrnoException ex) {
                throw new AssertionError(ex);
            }
        };
        Thread a = Thread.ofPlatform().start(ebadf);
        Thread b = Thread.ofPlatform().start(enotty);
        a.join();
        b.join();
        assertEquals(0, wrong.get());
    }

    @Test
    void anonymousMappingIsUnmappedWithItsArena() throws Exception {
        MemorySegment seg;
        try (Arena arena = Arena.ofShared()) {
            seg = Mmap.map(arena, 8192, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE, null, 0, "test");
            seg.set(ValueLayout.JAVA_LONG, 8184, 42L);
            assertEquals(42L, seg.get(ValueLayout.JAVA_LONG, 8184));
            assertThrows(IndexOutOfBoundsException.class, () -> seg.get(ValueLayout.JAVA_LONG, 8188));
        }
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_LONG, 0));
        assertEquals(8192, Mmap.pageAlign(4097));
    }
}
