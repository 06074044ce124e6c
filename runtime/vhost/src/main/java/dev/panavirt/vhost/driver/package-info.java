/**
 * A virtio driver in Java over {@link dev.panavirt.vhost.VdpaDevice}: memory the device reaches by IOVA
 * ({@link dev.panavirt.vhost.driver.IovaMemory}), the split virtqueue
 * ({@link dev.panavirt.vhost.driver.SplitVirtqueue}), the setup sequence
 * ({@link dev.panavirt.vhost.driver.VirtioDriverSetup}) and the net and block drivers on top. It runs the same on
 * the kernel's {@code /dev/vhost-vdpa-N} and on the vDPA model.
 */
package dev.panavirt.vhost.driver;
