package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The KVM system: an open {@code /dev/kvm}. The way in to everything else:
 * {@code Kvm.open()} → {@link #createVm()} → {@link Vm#createVcpu(int)}.
 *
 * {@snippet :
 * try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
 *     System.out.println("KVM API " + kvm.apiVersion() + ", max vCPUs " + kvm.checkExtension(Cap.MAX_VCPUS));
 * }
 * }
 *
 * <p>The errnos each method lists are the ones the kernel can return for that ioctl, from the upstream
 * sources cited; {@code EFAULT} is left out throughout, as this class only hands the kernel buffers it
 * allocated itself. After {@link #close} every ioctl-issuing method throws {@link IllegalStateException}
 * before reaching the kernel.
 */
public final class Kvm implements AutoCloseable {
    /** The device node. */
    public static final Path DEVICE = Path.of("/dev/kvm");
    /** Largest CPUID/MSR list this class asks the kernel for. */
    static final int MAX_LIST_ENTRIES = 4096;
    private static final long CHECK_EXTENSION = kvm_h.KVM_CHECK_EXTENSION();

    private final Fd fd;
    /** The x86 view, made on first use (see {@link X86Kvm#of}). */
    X86Kvm x86;
    private final int vcpuMmapSize;

    /** Takes {@code fd}; closes it when a check fails, so a failed open leaves no descriptor behind. */
    private Kvm(Fd fd) throws ErrnoException {
        this.fd = fd;
        try {
            int version = Ioctl.call(fd, "KVM_GET_API_VERSION", kvm_h.KVM_GET_API_VERSION());
            if (version != kvm_h.KVM_API_VERSION()) {
                throw new ErrnoException("KVM_GET_API_VERSION", Errno.EINVAL,
                        "kernel reports API " + version + ", panavirt needs " + kvm_h.KVM_API_VERSION());
            }
            this.vcpuMmapSize = Ioctl.call(fd, "KVM_GET_VCPU_MMAP_SIZE", kvm_h.KVM_GET_VCPU_MMAP_SIZE());
        } catch (ErrnoException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * Opens {@code /dev/kvm}.
     *
     * @throws ErrnoException ENOENT when the host has no KVM, EACCES when the user may not use it, EMFILE when
     *         the process has no free descriptor (all from open(2)); EINVAL, raised by this class and not by
     *         the kernel, when {@code KVM_GET_API_VERSION} reports a version other than 12
     */
    public static Kvm open() throws ErrnoException {
        return open(DEVICE);
    }

    /**
     * Opens a KVM device node at {@code path}.
     *
     * @throws ErrnoException as {@link #open()}, for the node at {@code path}
     */
    public static Kvm open(Path path) throws ErrnoException {
        return new Kvm(Fd.open(path.toString(), Libc.O_RDWR));
    }

    /** Whether {@code /dev/kvm} exists and this user can open it read-write. */
    public static boolean available() {
        return Files.isReadable(DEVICE) && Files.isWritable(DEVICE);
    }

    /**
     * The descriptor number, for callers that issue ioctls panavirt does not wrap; valid until {@link #close}.
     *
     * @throws IllegalStateException after {@link #close}
     */
    public int rawFd() {
        return fd.raw();
    }

    /** The descriptor, for this package's other views of the system. */
    Fd fd() {
        return fd;
    }

    /**
     * Wraps {@code KVM_GET_API_VERSION}: always 12 on any kernel panavirt accepts.
     *
     * @throws ErrnoException not in practice: with a zero argument the kernel has no failure path
     *         (virt/kvm/kvm_main.c, {@code kvm_dev_ioctl})
     * @throws IllegalStateException after {@link #close}
     */
    public int apiVersion() throws ErrnoException {
        return Ioctl.call(fd, "KVM_GET_API_VERSION", kvm_h.KVM_GET_API_VERSION());
    }

    /**
     * Wraps {@code KVM_CHECK_EXTENSION} on the system fd: 0 when absent, otherwise 1 or a
     * capability-specific value (for example the dirty ring's maximum size in bytes).
     *
     * @throws ErrnoException not in practice: a capability the kernel does not know answers 0 instead of
     *         failing (virt/kvm/kvm_main.c, {@code kvm_vm_ioctl_check_extension_generic}; arch/x86/kvm/x86.c,
     *         {@code kvm_vm_ioctl_check_extension})
     * @throws IllegalStateException after {@link #close}
     */
    public int checkExtension(Cap cap) throws ErrnoException {
        return checkExtension(cap.number());
    }

    /**
     * {@code KVM_CHECK_EXTENSION} with a raw {@code KVM_CAP_*} number.
     *
     * @throws ErrnoException not in practice, as {@link #checkExtension(Cap)}: unknown numbers answer 0
     * @throws IllegalStateException after {@link #close}
     */
    public int checkExtension(int cap) throws ErrnoException {
        int rc = Ioctl.raw(Scratch.capture(), fd, CHECK_EXTENSION, cap);   // not rawCritical: see its javadoc
        if (rc < 0) {
            throw Ioctl.failure(fd, "KVM_CHECK_EXTENSION", -rc, CHECK_EXTENSION, "capability " + cap);
        }
        return rc;
    }

    /**
     * Wraps {@code KVM_GET_VCPU_MMAP_SIZE}: bytes to map from each vCPU fd ({@code kvm_run} and friends). The
     * value is read once when the system is opened, so this issues no ioctl and cannot fail.
     */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /**
     * Wraps {@code KVM_CREATE_VM} with the default machine type 0.
     *
     * @throws ErrnoException as {@link #createVm(int)}
     * @throws IllegalStateException after {@link #close}
     */
    public Vm createVm() throws ErrnoException {
        return createVm(0);
    }

    /**
     * Wraps {@code KVM_CREATE_VM}.
     *
     * @param type machine type (x86: 0 default; see {@code KVM_X86_*_VM} and {@link Cap#VM_TYPES})
     * @throws ErrnoException EINVAL for a machine type this host does not support (arch/x86/kvm/x86.c,
     *         {@code kvm_arch_init_vm}); EMFILE when the process has no free descriptor; ENOMEM
     *         (virt/kvm/kvm_main.c, {@code kvm_dev_ioctl_create_vm}, {@code kvm_create_vm}); where KVM enables
     *         hardware virtualization per VM rather than at module load, EBUSY while the host is shutting down
     *         or rebooting and EIO when a CPU cannot enter virtualization mode
     *         ({@code kvm_enable_virtualization}, {@code kvm_enable_virtualization_cpu})
     * @throws IllegalStateException after {@link #close}
     */
    public Vm createVm(int type) throws ErrnoException {
        int vmfd = Ioctl.call(fd, "KVM_CREATE_VM", kvm_h.KVM_CREATE_VM(), type, "type " + type);
        return new Vm(this, Fd.adopt(vmfd, "kvm-vm"));
    }

    /** Closes {@code /dev/kvm}; VMs created from it stay valid (the kernel counts references). */
    @Override
    public void close() {
        fd.close();
    }
}
