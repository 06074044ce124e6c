/**
 * Device assignment: a VFIO device (the kernel's, or the software edu model behind the type1 model) given to
 * a KVM guest ({@link dev.panavirt.vmm.vfio.AssignedDevice}), and the KVM-VFIO pseudo device
 * ({@link dev.panavirt.vmm.vfio.KvmVfio}).
 */
package dev.panavirt.vmm.vfio;
