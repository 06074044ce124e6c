/**
 * The vDPA device model: vhost-vdpa in front of the vDPA simulator's net and block devices
 * ({@link dev.panavirt.models.vdpa.VdpaSim}), with the kernel's rules and errnos (SEMANTICS.md section E), the
 * split-virtqueue datapath over memory reached through its IOTLB, and the 6.12 and latest kernel profiles
 * ({@link dev.panavirt.models.vdpa.VdpaProfile}). Plain Java: memory behind user addresses is a
 * {@link dev.panavirt.models.vfio.HostMemory}; the FFM adapter is {@code dev.panavirt.vhost.ModelVdpa}.
 */
package dev.panavirt.models.vdpa;
