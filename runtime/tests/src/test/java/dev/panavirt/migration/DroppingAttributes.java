package dev.panavirt.migration;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import java.util.ArrayList;
import java.util.List;

/**
 * A device's attributes with one {@code KVM_SET_DEVICE_ATTR} silently dropped, standing for a restore that misses
 * one step: the tests show the destination then behaves differently from the source. Every set, dropped or not, is
 * logged as {@code "group/attr"} in hex, so a test can check the order of a restore.
 */
final class DroppingAttributes implements DeviceAttributes {
    private final DeviceAttributes device;
    private final int group;
    private final long attr;
    private final List<String> sets = new ArrayList<>();
    private int dropped;

    /** Forwards everything to {@code device} except sets of ({@code group}, {@code attr}). */
    DroppingAttributes(DeviceAttributes device, int group, long attr) {
        this.device = device;
        this.group = group;
        this.attr = attr;
    }

    /** Forwards everything to {@code device}, only logging. */
    static DroppingAttributes recording(DeviceAttributes device) {
        return new DroppingAttributes(device, -1, -1);
    }

    /** {@return every set so far, as "group/attr" in hex} */
    List<String> sets() {
        return sets;
    }

    /** {@return how many sets were dropped} */
    int dropped() {
        return dropped;
    }

    private boolean drop(int g, long a) {
        sets.add(Integer.toHexString(g) + "/" + Long.toHexString(a));
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
