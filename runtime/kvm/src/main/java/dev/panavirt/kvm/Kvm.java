package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_cpuid2;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_msr_list;
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
 */
public final class Kvm implements AutoCloseable {
    /** The device node. */
    public static final Path DEVICE = Path.of("/dev/kvm");
    /** Largest CPUID/MSR list this class asks the kernel for. */
    static final int MAX_LIST_ENTRIES = 4096;
    private static final long CHECK_EXTENSION = kvm_h.KVM_CHECK_EXTENSION();

    private final Fd fd;
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
     * @throws ErrnoException ENOENT when the host has no KVM, EACCES when the user may not use it
     */
    public static Kvm open() throws ErrnoException {
        return open(DEVICE);
    }

    /** Opens a KVM device node at {@code path}. */
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

    /** Wraps {@code KVM_GET_API_VERSION}: always 12 on any kernel panavirt accepts. */
    public int apiVersion() throws ErrnoException {
        return Ioctl.call(fd, "KVM_GET_API_VERSION", kvm_h.KVM_GET_API_VERSION());
    }

    /**
     * Wraps {@code KVM_CHECK_EXTENSION} on the system fd: 0 when absent, otherwise 1 or a
     * capability-specific value (for example the dirty ring's maximum size in bytes).
     */
    public int checkExtension(Cap cap) throws ErrnoException {
        return checkExtension(cap.number());
    }

    /** {@code KVM_CHECK_EXTENSION} with a raw {@code KVM_CAP_*} number. */
    public int checkExtension(int cap) throws ErrnoException {
        int rc = Ioctl.raw(Scratch.capture(), fd, CHECK_EXTENSION, cap);
        if (rc < 0) {
            throw Ioctl.failure(fd, "KVM_CHECK_EXTENSION", -rc, CHECK_EXTENSION, "capability " + cap);
        }
        return rc;
    }

    /** Wraps {@code KVM_GET_VCPU_MMAP_SIZE}: bytes to map from each vCPU fd ({@code kvm_run} and friends). */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** Wraps {@code KVM_GET_SUPPORTED_CPUID}: the CPUID leaves KVM can expose to a guest. */
    public Cpuid supportedCpuid() throws ErrnoException {
        return cpuidList("KVM_GET_SUPPORTED_CPUID", kvm_h.KVM_GET_SUPPORTED_CPUID());
    }

    /** Wraps {@code KVM_GET_EMULATED_CPUID}: CPUID features KVM emulates in software. */
    public Cpuid emulatedCpuid() throws ErrnoException {
        return cpuidList("KVM_GET_EMULATED_CPUID", kvm_h.KVM_GET_EMULATED_CPUID());
    }

    private Cpuid cpuidList(String name, long request) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = kvm_cpuid2.allocate(MAX_LIST_ENTRIES, arena);
            kvm_cpuid2.nent(c, MAX_LIST_ENTRIES);
            Ioctl.call(fd, name, request, c, "room for " + MAX_LIST_ENTRIES + " entries");
            return Cpuid.fromKvmCpuid2(c);
        }
    }

    /** Wraps {@code KVM_GET_MSR_INDEX_LIST}: the MSRs {@code KVM_GET/SET_MSRS} accept. */
    public int[] msrIndexList() throws ErrnoException {
        return msrList("KVM_GET_MSR_INDEX_LIST", kvm_h.KVM_GET_MSR_INDEX_LIST());
    }

    /** Wraps {@code KVM_GET_MSR_FEATURE_INDEX_LIST}: the feature MSRs readable on the system fd. */
    public int[] msrFeatureIndexList() throws ErrnoException {
        return msrList("KVM_GET_MSR_FEATURE_INDEX_LIST", kvm_h.KVM_GET_MSR_FEATURE_INDEX_LIST());
    }

    private int[] msrList(String name, long request) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = kvm_msr_list.allocate(MAX_LIST_ENTRIES, arena);
            kvm_msr_list.nmsrs(l, MAX_LIST_ENTRIES);
            Ioctl.call(fd, name, request, l, "room for " + MAX_LIST_ENTRIES + " indices");
            int n = kvm_msr_list.nmsrs(l);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = kvm_msr_list.indices(l, i);
            }
            return out;
        }
    }

    /** Wraps {@code KVM_CREATE_VM} with the default machine type 0. */
    public Vm createVm() throws ErrnoException {
        return createVm(0);
    }

    /**
     * Wraps {@code KVM_CREATE_VM}.
     *
     * @param type machine type (x86: 0 default; see {@code KVM_X86_*_VM} and {@link Cap#VM_TYPES})
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
