/**
 * Safe Java objects over {@code /dev/vhost-vdpa-N} (status, features, config space, virtqueues, the IOTLB), a
 * split-virtqueue driver over memory mapped through the IOTLB, and the vDPA device model (vdpa_sim's net and
 * blk devices) behind the same interface ({@link dev.panavirt.vhost.VdpaDevice}).
 *
 * <p>Its calls go through {@code dev.panavirt.sys}, which needs native access
 * ({@code --enable-native-access=dev.panavirt.sys}).
 */
module dev.panavirt.vhost {
    requires transitive dev.panavirt.base;
    requires transitive dev.panavirt.bindings;
    requires transitive dev.panavirt.sys;
    requires dev.panavirt.models;

    exports dev.panavirt.vhost;
    exports dev.panavirt.vhost.driver;
    exports dev.panavirt.vhost.session;
}
