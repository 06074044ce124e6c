/**
 * The system-call layer: C library downcalls with errno capture, owned file descriptors, ioctl request
 * encodings and memory mappings. Exported only to the kernel-object layer ({@code dev.panavirt.kvm}), which
 * builds the public API on it; what callers see of it is {@link dev.panavirt.base.ErrnoException} and
 * {@link dev.panavirt.fd.EventFd}.
 */
package dev.panavirt.sys;
