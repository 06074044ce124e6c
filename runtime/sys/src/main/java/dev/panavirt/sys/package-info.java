/**
 * The system-call layer: C library downcalls with errno capture, owned file descriptors, ioctl request
 * encodings, memory mappings and eventfds. The KVM objects are built on it; its
 * {@link dev.panavirt.base.ErrnoException} and {@link dev.panavirt.sys.EventFd} appear in their API, and
 * {@link dev.panavirt.sys.Fd} with {@link dev.panavirt.sys.Ioctl} let callers issue ioctls panavirt does
 * not wrap, with the same error reporting.
 */
package dev.panavirt.sys;
