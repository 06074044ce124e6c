/**
 * Software models behind panavirt's VFIO interfaces: {@link dev.panavirt.models.vfio.Type1Iommu}, the kernel's
 * type1 IOMMU container (DMA mapping, accounting, pinning, dirty-page tracking, with the argument checks and
 * errnos of {@code drivers/vfio/vfio_iommu_type1.c} for Linux 6.12 or current upstream), and
 * {@link dev.panavirt.models.vfio.EduDevice}, QEMU's edu PCI device doing DMA through it. Plain Java: process
 * memory is a {@link dev.panavirt.models.vfio.HostMemory}, dirty bitmaps a
 * {@link dev.panavirt.models.vfio.BitmapWords}; {@code dev.panavirt.vfio} adapts both to native memory.
 */
package dev.panavirt.models.vfio;
