/**
 * Safe Java objects over {@code /dev/vfio}: the container with its type1 IOMMU (DMA mapping, dirty-page
 * tracking), groups, and devices (regions, interrupts, reset); and the software type1 IOMMU and edu device
 * behind the same interfaces ({@link dev.panavirt.vfio.Iommu}, {@link dev.panavirt.vfio.VfioDevice}).
 *
 * <p>Its calls go through {@code dev.panavirt.sys}, which needs native access
 * ({@code --enable-native-access=dev.panavirt.sys}).
 */
module dev.panavirt.vfio {
    requires transitive dev.panavirt.base;
    requires transitive dev.panavirt.bindings;
    requires transitive dev.panavirt.sys;
    requires dev.panavirt.models;

    exports dev.panavirt.vfio;
    exports dev.panavirt.vfio.session;
}
