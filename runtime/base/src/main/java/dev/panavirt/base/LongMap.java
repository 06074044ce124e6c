package dev.panavirt.base;

import java.util.Arrays;

/**
 * An open-addressing hash map from {@code long} keys to objects, for lookups on the command path:
 * {@link #get}, {@link #put} of a key that fits and {@link #remove} never allocate. The table doubles
 * when it is more than half full, so allocation only happens while the model grows.
 *
 * <p>Linear probing with backward-shift deletion (no tombstones). {@link Long#MIN_VALUE} marks an empty
 * slot and cannot be stored; looking it up finds nothing.
 */
public final class LongMap<V> {

    private static final long EMPTY = Long.MIN_VALUE;
    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

    private long[] keys;
    private Object[] values;
    private int shift;
    private int size;

    /** An empty map of the default capacity. */
    public LongMap() {
        this(16);
    }

    /** An empty map with room for about {@code initialCapacity / 2} keys before it grows. */
    public LongMap(int initialCapacity) {
        int cap = Integer.highestOneBit(Math.max(4, initialCapacity - 1)) << 1;
        allocate(cap);
    }

    private void allocate(int capacity) {
        keys = new long[capacity];
        Arrays.fill(keys, EMPTY);
        values = new Object[capacity];
        shift = 64 - Integer.numberOfTrailingZeros(capacity);
    }

    private int slot(long key) {
        return (int) ((key * GOLDEN) >>> shift);
    }

    /** The number of keys. */
    public int size() {
        return size;
    }

    /** The value for {@code key}, or {@code null}. */
    @SuppressWarnings("unchecked")
    public V get(long key) {
        if (key == EMPTY) {
            return null;
        }
        int mask = keys.length - 1;
        for (int i = slot(key); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return (V) values[i];
            }
            if (k == EMPTY) {
                return null;
            }
        }
    }

    /** Stores {@code value} under {@code key}, replacing any earlier value. */
    public void put(long key, V value) {
        if (key == EMPTY) {
            throw new IllegalArgumentException("key " + key + " is reserved");
        }
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int mask = keys.length - 1;
        for (int i = slot(key); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                values[i] = value;
                return;
            }
            if (k == EMPTY) {
                keys[i] = key;
                values[i] = value;
                size++;
                return;
            }
        }
    }

    /** Removes {@code key}; returns its value, or {@code null} if it was absent. */
    @SuppressWarnings("unchecked")
    public V remove(long key) {
        if (key == EMPTY) {
            return null;
        }
        int mask = keys.length - 1;
        int i = slot(key);
        while (keys[i] != key) {
            if (keys[i] == EMPTY) {
                return null;
            }
            i = (i + 1) & mask;
        }
        V old = (V) values[i];
        // Backward-shift: move later members of the probe run into the hole so lookups stay correct.
        int hole = i;
        for (int j = (hole + 1) & mask; keys[j] != EMPTY; j = (j + 1) & mask) {
            int home = slot(keys[j]);
            boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[hole] = EMPTY;
        values[hole] = null;
        size--;
        return old;
    }

    /** Removes everything, keeping the table's capacity. */
    public void clear() {
        Arrays.fill(keys, EMPTY);
        Arrays.fill(values, null);
        size = 0;
    }

    private void grow() {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        allocate(oldKeys.length * 2);
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != EMPTY) {
                @SuppressWarnings("unchecked")
                V v = (V) oldValues[i];
                put(oldKeys[i], v);
            }
        }
    }
}
