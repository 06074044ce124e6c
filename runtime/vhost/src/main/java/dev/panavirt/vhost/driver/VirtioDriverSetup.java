package dev.panavirt.vhost.driver;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.vhost.VdpaDevice;

/**
 * Brings a vDPA device up as its userspace driver, in the order a vhost-vdpa user follows (QEMU's
 * hw/virtio/vhost-vdpa.c; virtio 1.2 spec section 3.1.1): reset, {@code VHOST_SET_OWNER}, the IOTLB message
 * format, {@code ACKNOWLEDGE} then {@code DRIVER}, feature negotiation and {@code FEATURES_OK} (checked to have
 * stuck), then, once the caller has mapped its memory and attached its virtqueues, the virtqueues enabled and
 * {@code DRIVER_OK}.
 *
 * <pre>{@code
 * VirtioDriverSetup setup = VirtioDriverSetup.begin(device, wanted, required);
 * IovaMemory mem = IovaMemory.map(device, 0, 0x100000, 1 << 20, "driver");
 * SplitVirtqueue vq = new SplitVirtqueue(mem, 0, 64, setup.features(), 8);
 * vq.attach(device);
 * setup.driverOk(vq);
 * }</pre>
 */
public final class VirtioDriverSetup {
    /** virtio status bits (virtio 1.2 spec section 2.1). */
    public static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 0x40,
            FAILED = 0x80;
    /** {@code VIRTIO_F_VERSION_1} (32). */
    public static final int F_VERSION_1 = 32;
    /** {@code VIRTIO_F_ACCESS_PLATFORM} (33): vhost-vdpa devices translate through the IOTLB and insist on it. */
    public static final int F_ACCESS_PLATFORM = 33;
    /** {@code VHOST_BACKEND_F_IOTLB_MSG_V2} (1): IOTLB messages in {@code vhost_msg_v2}. */
    public static final int BACKEND_F_IOTLB_MSG_V2 = 1;

    private final VdpaDevice device;
    private final long offered;
    private final long features;

    private VirtioDriverSetup(VdpaDevice device, long offered, long features) {
        this.device = device;
        this.offered = offered;
        this.features = features;
    }

    /**
     * Resets the device, becomes its owner (unless it already is), acknowledges it and negotiates features: {@code VERSION_1},
     * {@code ACCESS_PLATFORM} and {@code required} must all be offered; {@code wanted} are taken where offered.
     * Ends with {@code FEATURES_OK} set and read back.
     *
     * @throws IllegalStateException when a required feature is missing or the device did not keep
     *         {@code FEATURES_OK} (the device is then marked {@code FAILED})
     */
    public static VirtioDriverSetup begin(VdpaDevice device, long wanted, long required) throws ErrnoException {
        device.setStatus(0);
        try {
            device.setOwner();
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EBUSY) {
                throw e;
            }
            // Already the owner: a driver set this device up before (ownership survives a reset).
        }
        long backend = device.backendFeatures();
        if ((backend & (1L << BACKEND_F_IOTLB_MSG_V2)) != 0) {
            device.setBackendFeatures(1L << BACKEND_F_IOTLB_MSG_V2);
        }
        device.setStatus(ACKNOWLEDGE);
        device.setStatus(ACKNOWLEDGE | DRIVER);
        long offered = device.features();
        long must = required | (1L << F_VERSION_1) | (1L << F_ACCESS_PLATFORM);
        if ((offered & must) != must) {
            device.setStatus(ACKNOWLEDGE | DRIVER | FAILED);
            throw new IllegalStateException("the device lacks required features 0x"
                    + Long.toHexString(must & ~offered) + " (offers 0x" + Long.toHexString(offered) + ")");
        }
        long features = offered & (must | wanted);
        device.setFeatures(features);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        int status = device.status();
        if ((status & FEATURES_OK) == 0) {
            device.setStatus(status | FAILED);
            throw new IllegalStateException("the device did not accept features 0x" + Long.toHexString(features)
                    + ": status 0x" + Integer.toHexString(status) + " lacks FEATURES_OK");
        }
        return new VirtioDriverSetup(device, offered, features);
    }

    /** The features negotiated. */
    public long features() {
        return features;
    }

    /** The features the device offered. */
    public long offered() {
        return offered;
    }

    /** Whether feature {@code bit} was negotiated. */
    public boolean has(int bit) {
        return (features & (1L << bit)) != 0;
    }

    /** The device being set up. */
    public VdpaDevice device() {
        return device;
    }

    /**
     * Enables the (already attached) virtqueues and sets {@code DRIVER_OK}, then checks the device neither
     * failed nor asked for a reset.
     */
    public void driverOk(SplitVirtqueue... queues) throws ErrnoException {
        for (SplitVirtqueue q : queues) {
            device.setVringEnable(q.index(), true);
        }
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        int status = device.status();
        if ((status & DRIVER_OK) == 0 || (status & (NEEDS_RESET | FAILED)) != 0) {
            throw new IllegalStateException("device status 0x" + Integer.toHexString(status) + " after DRIVER_OK");
        }
    }
}
