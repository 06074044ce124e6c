/**
 * vhost-vdpa: the interface a vDPA driver uses ({@link dev.panavirt.vhost.VdpaDevice}), served by the kernel's
 * {@code /dev/vhost-vdpa-N} and by the vDPA model.
 */
package dev.panavirt.vhost;
