/**
 * VFIO in session scripts: {@link dev.panavirt.vfio.session.VfioSessionTarget} adapts an IOMMU and a device,
 * the kernel's or the models', to the replay engine.
 */
package dev.panavirt.vfio.session;
