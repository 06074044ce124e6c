/**
 * VFIO: the kernel's objects ({@code VfioContainer}, {@code VfioGroup},
 * {@code KernelVfioDevice}) and the interfaces a driver uses ({@link dev.panavirt.vfio.Iommu},
 * {@link dev.panavirt.vfio.VfioDevice}), which the software type1 IOMMU and edu device also serve.
 */
package dev.panavirt.vfio;
