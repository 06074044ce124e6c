package dev.panavirt.models.vdpa;

/**
 * Which kernel's vhost-vdpa and vdpa_sim the model answers as. They differ only where the 6.12 kernel
 * (Debian's 6.12.y, the nested test lane) was observed to behave differently from the behaviour the
 * reference describes for current upstream (SEMANTICS.md E.5, E.7, E.9).
 */
public enum VdpaProfile {
    /**
     * Linux 6.12: an IOTLB write of 40 to 71 bytes is accepted and reports 72 (only the type, the ASID word
     * and the 32-byte message are read); an {@code INVALIDATE} of size 0 is not rejected (it removes the
     * entries intersecting the wrapped range {@code [iova, iova − 1]}); a control-queue {@code MAC_ADDR_SET}
     * whose payload is short answers {@code VIRTIO_NET_ERR} yet overwrites the first bytes of the MAC.
     */
    V6_12,
    /**
     * Current upstream as the reference describes it: IOTLB writes shorter than a whole 72-byte message and
     * {@code INVALIDATE} of size 0 are {@code EINVAL}; a short {@code MAC_ADDR_SET} answers
     * {@code VIRTIO_NET_ERR} and leaves the MAC unchanged.
     */
    LATEST
}
