package dev.panavirt.sys;

import dev.panavirt.base.ErrnoException;
import java.lang.foreign.MemorySegment;

/**
 * ioctl calls with errno capture, and the {@code _IO/_IOR/_IOW/_IOWR} request encodings.
 *
 * <p>Request numbers are 32-bit in Linux but C types them {@code unsigned long} (the {@code sizeof} in
 * {@code _IOR} makes them so), so the generated constants and these methods carry them as non-negative
 * {@code long}s. The {@code call} methods throw {@link ErrnoException};
 * the {@code raw} methods return {@code -errno} and allocate nothing, for hot paths.
 */
public final class Ioctl {
    private Ioctl() {}

    /** Direction bits of the request encoding (asm-generic/ioctl.h, used by x86, arm64, riscv, loongarch). */
    public static final int DIR_NONE = 0, DIR_WRITE = 1, DIR_READ = 2;
    private static final int NR_SHIFT = 0, TYPE_SHIFT = 8, SIZE_SHIFT = 16, DIR_SHIFT = 30;
    private static final int SIZE_MASK = (1 << 14) - 1;

    /** {@code _IOC(dir, type, nr, size)}. */
    public static long ioc(int dir, int type, int nr, long size) {
        if (size < 0 || size > SIZE_MASK) {
            throw new IllegalArgumentException("ioctl argument size out of range: " + size);
        }
        if ((type & ~0xff) != 0 || (nr & ~0xff) != 0 || (dir & ~3) != 0) {
            throw new IllegalArgumentException("ioctl type/nr/dir out of range");
        }
        return Integer.toUnsignedLong(dir << DIR_SHIFT | (int) size << SIZE_SHIFT | type << TYPE_SHIFT | nr << NR_SHIFT);
    }

    /** {@code _IO(type, nr)}. */
    public static long io(int type, int nr) {
        return ioc(DIR_NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes {@code size} bytes to the argument. */
    public static long ior(int type, int nr, long size) {
        return ioc(DIR_READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads {@code size} bytes from the argument. */
    public static long iow(int type, int nr, long size) {
        return ioc(DIR_WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, size)}. */
    public static long iowr(int type, int nr, long size) {
        return ioc(DIR_READ | DIR_WRITE, type, nr, size);
    }

    /** The direction bits of a request. */
    public static int dir(long request) {
        return (int) (request >>> DIR_SHIFT & 3);
    }

    /** The type byte of a request. */
    public static int type(long request) {
        return (int) (request >>> TYPE_SHIFT & 0xff);
    }

    /** The number byte of a request. */
    public static int nr(long request) {
        return (int) (request >>> NR_SHIFT & 0xff);
    }

    /** The argument size encoded in a request. */
    public static int size(long request) {
        return (int) (request >>> SIZE_SHIFT & SIZE_MASK);
    }

    /** ioctl with an integer argument; returns the result or {@code -errno}. Allocation-free. */
    public static int raw(MemorySegment capture, Fd fd, long request, long arg) {
        return Libc.ioctl(capture, fd.raw(), request, arg);
    }

    /**
     * ioctl with an integer argument through a critical downcall ({@link Libc#ioctlCritical}); returns the
     * result or {@code -errno}.
     *
     * <p>A critical downcall keeps the thread in the Java state, so a safepoint (and with it every other
     * thread that reaches one, such as a collection) waits for the call to return. It is therefore used only
     * for requests whose kernel handler is a short computation that takes no sleeping lock, waits for nothing
     * and allocates nothing, on whatever fd or argument a caller passes. One request qualifies; panavirt's own
     * {@code Kvm.checkExtension} and {@code Vm.checkExtension} nevertheless use the ordinary {@link #raw}: late in
     * the full test suite the critical call allocated 40 bytes per call for 30 s on end (IoctlAllocationTest, CI of
     * 2026-12-05), which the plain downcall never did, and the option saves only about 1 ns:
     * <ul>
     *   <li>{@code KVM_CHECK_EXTENSION} on the system fd and on a VM fd: virt/kvm/kvm_main.c, {@code kvm_dev_ioctl} and {@code kvm_vm_ioctl}
     *       call {@code kvm_vm_ioctl_check_extension_generic}, a switch over the capability number that falls
     *       back to the architecture's {@code kvm_vm_ioctl_check_extension} (arch/x86/kvm/x86.c), another
     *       switch over constants, module parameters and fields of the VM. What the option saves is the
     *       downcall's thread-state transitions, about 1 ns (the bench module's {@code CriticalDowncall}), small
     *       next to the system call itself (bench/README.md, "Critical downcalls").</li>
     * </ul>
     * Not this way, because their handlers sleep or may run long: {@code KVM_RUN} (the guest runs);
     * every vCPU ioctl (virt/kvm/kvm_main.c, {@code kvm_vcpu_ioctl} takes the vCPU's mutex, held by a
     * running vCPU); memory slots, dirty logs, irqfd and ioeventfd registration, device creation
     * ({@code kvm->slots_lock} and other mutexes, allocations); VFIO and vhost ioctls (mutexes, page pinning).
     */
    public static int rawCritical(MemorySegment capture, Fd fd, long request, long arg) {
        return Libc.ioctlCritical(capture, fd.raw(), request, arg);
    }

    /** ioctl with a pointer argument; returns the result or {@code -errno}. Allocation-free. */
    public static int raw(MemorySegment capture, Fd fd, long request, MemorySegment arg) {
        return Libc.ioctl(capture, fd.raw(), request, arg);
    }

    /** ioctl without an argument. @throws ErrnoException naming {@code name} */
    public static int call(Fd fd, String name, long request) throws ErrnoException {
        return call(fd, name, request, 0L, null);
    }

    /** ioctl with an integer argument. @throws ErrnoException naming {@code name} and the argument */
    public static int call(Fd fd, String name, long request, long arg) throws ErrnoException {
        return call(fd, name, request, arg, null);
    }

    /** ioctl with an integer argument; {@code detail} says what was asked. */
    public static int call(Fd fd, String name, long request, long arg, String detail) throws ErrnoException {
        int rc = raw(Scratch.capture(), fd, request, arg);
        if (rc < 0) {
            throw failure(fd, name, -rc, request, detail != null ? detail : "arg " + arg);
        }
        return rc;
    }

    /** ioctl with a pointer argument. @throws ErrnoException naming {@code name} */
    public static int call(Fd fd, String name, long request, MemorySegment arg) throws ErrnoException {
        return call(fd, name, request, arg, null);
    }

    /** ioctl with a pointer argument; {@code detail} says what was asked. */
    public static int call(Fd fd, String name, long request, MemorySegment arg, String detail)
            throws ErrnoException {
        int rc = raw(Scratch.capture(), fd, request, arg);
        if (rc < 0) {
            throw failure(fd, name, -rc, request, detail);
        }
        return rc;
    }

    /** The exception for a failed ioctl on {@code fd}. */
    public static ErrnoException failure(Fd fd, String name, int errno, long request, String detail) {
        String on = "on " + fd.description();
        return new ErrnoException(name, errno, request,
                detail == null || detail.isEmpty() ? on : detail + " " + on);
    }
}
