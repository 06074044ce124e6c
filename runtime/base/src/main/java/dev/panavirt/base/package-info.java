/**
 * The plain-Java vocabulary the kernel-object layer and the software models share, so that a model can stand in
 * for a kernel device behind the same interface without depending on FFM or the syscall layer: {@link
 * dev.panavirt.base.Errno} and {@link dev.panavirt.base.ErrnoException} (the kernel's error numbers), {@link
 * dev.panavirt.base.DeviceAttributes} ({@code KVM_*_DEVICE_ATTR}), {@link dev.panavirt.base.GuestRam} (guest
 * memory as a device sees it) and {@link dev.panavirt.base.RegisterDevice} (a guest-visible register window).
 */
package dev.panavirt.base;
