/**
 * Software models of in-kernel virtualization devices, for hosts whose KVM lacks them. A model follows
 * the kernel's register-level and ioctl-level behaviour exactly, errno included, and is reached through
 * the same interfaces as the kernel device: {@link dev.panavirt.kvm.DeviceAttributes} for device
 * attributes, {@link dev.panavirt.vmm.BusDevice} for guest register accesses, and
 * {@link dev.panavirt.devices.session.SessionTarget} for scripted sessions. Model logic makes no FFM
 * calls.
 */
package dev.panavirt.devices;
