package dev.panavirt.vhost;

/**
 * {@code struct vhost_vdpa_iova_range}: the IOVAs the device can use, both ends inclusive.
 *
 * @param first first usable IOVA
 * @param last  last usable IOVA (inclusive)
 */
public record IovaRange(long first, long last) {
}
