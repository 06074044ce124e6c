/**
 * Virtio transports of the VMM: {@link dev.panavirt.vmm.virtio.VirtioMmioVdpa}, a virtio-mmio device whose
 * queues a vDPA device (the kernel's or the model) serves directly from the guest's memory.
 */
package dev.panavirt.vmm.virtio;
