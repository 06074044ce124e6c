package dev.panavirt.migration;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;

/**
 * A device's attributes with one {@code KVM_SET_DEVICE_ATTR} silently dropped, standing for a restore that misses
 * one step: the tests show the destination then behaves differently from the source.
 */
final class DroppingAttributes implements DeviceAttributes {
    private final DeviceAttributes device;
    private final int group;
    private final long attr;
    private int dropped;

    /** Forwards everything to {@code device} except sets of ({@code group}, {@code attr}). */
    DroppingAttributes(DeviceAttributes device, int group, long attr) {
        this.device = device;
        this.group = group;
        this.attr = attr;
    }

    /** {@return how many sets were dropped} */
    int dropped() {
        return dropped;
    }

    private boolean drop(int g, long a) {
        if (g == group && a == attr) {
            dropped++;
            return true;
        }
        return false;
    }

    @Override
    public int type() {
        return device.type();
    }

    @Override
    public Backend backend() {
        return device.backend();
    }

    @Override
    public boolean hasAttr(int g, long a) throws ErrnoException {
        return device.hasAttr(g, a);
    }

    @Override
    public void setAttr(int g, long a, long value, int size) throws ErrnoException {
        if (!drop(g, a)) {
            device.setAttr(g, a, value, size);
        }
    }

    @Override
    public void setAttr(int g, long a) throws ErrnoException {
        if (!drop(g, a)) {
            device.setAttr(g, a);
        }
    }

    @Override
    public long getAttr(int g, long a, int size) throws ErrnoException {
        return device.getAttr(g, a, size);
    }

    @Override
    public void close() {
        device.close();
    }
}
