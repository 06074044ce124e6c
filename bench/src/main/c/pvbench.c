/*
 * The C baseline of panavirt's benchmarks: tight loops over the same system calls the Java paths make,
 * on the same file descriptors and buffers (the Java side sets the VM up and passes them in).
 *
 * Each loop is called once per JMH invocation through one FFM downcall and runs n calls, so the
 * downcall's own cost is divided by n (n >= 100) and the JMH score is the C cost per call. Request
 * numbers come from the Java side (panavirt's generated kvm_h constants), so both sides issue exactly
 * the same ioctls; the calls go through glibc's ioctl()/write(), as a C VMM's would.
 *
 * Every loop checks every result, as a real caller would, and returns a negative value on the first
 * failure: -errno for a failed call, or -(1000 + exit_reason) for an unexpected KVM exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ioctl(fd, request, arg) n times; arg is an integer or a pointer passed as its address.
 * Returns the sum of the results, or -errno. */
long pv_ioctl_loop(int fd, unsigned long request, unsigned long arg, long n) {
    long sum = 0;
    for (long i = 0; i < n; i++) {
        int rc = ioctl(fd, request, arg);
        if (rc < 0) {
            return -errno;
        }
        sum += rc;
    }
    return sum;
}

/* KVM_RUN n times on a vCPU whose guest leaves with the same exit every time; exit_reason points at
 * kvm_run.exit_reason in the vCPU's mapped kvm_run area. Returns n, or a negative value (see above). */
long pv_run_loop(int fd, unsigned long request, const volatile uint32_t *exit_reason, uint32_t expected,
                 long n) {
    for (long i = 0; i < n; i++) {
        if (ioctl(fd, request, 0UL) < 0) {
            return -errno;
        }
        uint32_t reason = *exit_reason;
        if (reason != expected) {
            return -(1000L + (long) reason);
        }
    }
    return n;
}

/* write(fd, buf, len) n times (an eventfd takes 8 bytes). Returns the bytes written, or -errno. */
long pv_write_loop(int fd, const void *buf, unsigned long len, long n) {
    long total = 0;
    for (long i = 0; i < n; i++) {
        ssize_t rc = write(fd, buf, len);
        if (rc < 0) {
            return -errno;
        }
        total += rc;
    }
    return total;
}

/* VFIO_IOMMU_MAP_DMA then VFIO_IOMMU_UNMAP_DMA n times on a type1 container: map_arg is a filled
 * struct vfio_iommu_type1_dma_map, unmap_arg a struct vfio_iommu_type1_dma_unmap of the same range (the kernel
 * writes the unmapped size back into it, the same size every time). Returns the bytes unmapped, or -errno. */
long pv_map_unmap_loop(int fd, unsigned long map_request, void *map_arg, unsigned long unmap_request,
                       struct vfio_iommu_type1_dma_unmap *unmap_arg, long n) {
    long total = 0;
    for (long i = 0; i < n; i++) {
        if (ioctl(fd, map_request, map_arg) < 0) {
            return -errno;
        }
        if (ioctl(fd, unmap_request, unmap_arg) < 0) {
            return -errno;
        }
        total += (long) unmap_arg->size;
    }
    return total;
}

/* The shared library's own test: returns 42 so the Java side can tell it loaded the right file. */
int pv_hello(void) {
    return 42;
}

/* open(path, flags) then close(fd), n times. Returns n, or -errno. */
long pv_open_close_loop(const char *path, int flags, long n) {
    for (long i = 0; i < n; i++) {
        int fd = open(path, flags);
        if (fd < 0) {
            return -errno;
        }
        if (close(fd) < 0) {
            return -errno;
        }
    }
    return n;
}

/* Returns 0 at once, with ioctl's arguments and no system call: a downcall of it costs only the Java-to-C
 * transition, which is what Linker.Option.critical changes (the CriticalDowncall benchmark). */
int pv_nop(int fd, unsigned long request, unsigned long arg) {
    (void) fd;
    (void) request;
    (void) arg;
    return 0;
}
