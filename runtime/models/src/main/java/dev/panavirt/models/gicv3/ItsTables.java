package dev.panavirt.models.gicv3;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.base.LongMap;

/**
 * What one ITS has mapped: devices (DeviceID to ITT), their interrupt translation entries (EventID to LPI
 * and collection) and collections (ICID to vCPU), plus KVM's checks of whether an ID fits the guest's
 * tables ({@code vgic_its_check_id}, {@code vgic_its_check_event_id}).
 *
 * <p>KVM keeps these in kernel lists and never reads the guest's tables except to check an ID or on
 * save/restore; the model does the same. Lookups are hash-based, iteration follows insertion order as the
 * kernel lists do, and entries are pooled so that map/unmap cycles do not allocate. Callers hold the
 * {@link Vgic} lock.
 */
final class ItsTables {

    /** The target of a collection created by MAPTI before any MAPC ({@code COLLECTION_NOT_MAPPED}). */
    static final long NOT_MAPPED = 0xFFFF_FFFFL;
    /** Level-1 entries of an indirect device table: valid bit and level-2 page address. */
    static final long L1_VALID = 1L << 63;
    static final long L1_ADDRESS_MASK = ItsRegisters.genmask(51, 16);

    /** A mapped device ({@code struct its_device}). */
    static final class Device {
        long id;
        long itt;
        int eventBits;
        Ite first;
        Ite last;
        int ites;
        Device prev;
        Device next;
    }

    /** An interrupt translation entry ({@code struct its_ite}). */
    static final class Ite {
        Device device;
        long eventId;
        Lpis.Lpi lpi;
        /** The collection, or {@code null} once MAPC unmapped it. */
        Collection collection;
        /** ICID this ITE was last mapped with (kept when {@link #collection} becomes null). */
        int icid;
        /** The ITE is in the ITS translation cache while this equals the ITS's cache generation. */
        long cacheGeneration;
        Ite prev;
        Ite next;
    }

    /** A collection ({@code struct its_collection}). */
    static final class Collection {
        int icid;
        long target = NOT_MAPPED;
        Collection prev;
        Collection next;

        boolean mapped() {
            return target != NOT_MAPPED;
        }
    }

    private final Vgic vgic;
    private final LongMap<Device> devices = new LongMap<>(16);
    private final LongMap<Ite> ites = new LongMap<>(64);
    private final LongMap<Collection> collections = new LongMap<>(16);
    private Device firstDevice;
    private Device lastDevice;
    private Collection firstCollection;
    private Collection lastCollection;
    private Device freeDevices;
    private Ite freeItes;
    private Collection freeCollections;

    ItsTables(Vgic vgic) {
        this.vgic = vgic;
    }

    static boolean mapped(Collection c) {
        return c != null && c.mapped();
    }

    private static long iteKey(long deviceId, long eventId) {
        return deviceId << 32 | (eventId & 0xFFFF_FFFFL);
    }

    // ---- Devices ---------------------------------------------------------------------------------------

    Device device(long id) {
        return devices.get(id);
    }

    Device firstDevice() {
        return firstDevice;
    }

    int deviceCount() {
        return devices.size();
    }

    Device addDevice(long id, long itt, int eventBits) {
        Device d = freeDevices;
        if (d != null) {
            freeDevices = d.next;
        } else {
            d = new Device();
        }
        d.id = id;
        d.itt = itt;
        d.eventBits = eventBits;
        d.first = d.last = null;
        d.ites = 0;
        d.next = null;
        d.prev = lastDevice;
        if (lastDevice == null) {
            firstDevice = d;
        } else {
            lastDevice.next = d;
        }
        lastDevice = d;
        devices.put(id, d);
        return d;
    }

    /** Frees a device and every ITE it holds ({@code vgic_its_free_device}); the caller flushes the cache. */
    void freeDevice(Device d) {
        while (d.first != null) {
            freeIte(d.first);
        }
        devices.remove(d.id);
        if (d.prev == null) {
            firstDevice = d.next;
        } else {
            d.prev.next = d.next;
        }
        if (d.next == null) {
            lastDevice = d.prev;
        } else {
            d.next.prev = d.prev;
        }
        d.prev = null;
        d.next = freeDevices;
        freeDevices = d;
    }

    /** Frees every device ({@code vgic_its_free_device_list}). */
    void freeAllDevices() {
        while (firstDevice != null) {
            freeDevice(firstDevice);
        }
    }

    // ---- Interrupt translation entries ------------------------------------------------------------------

    Ite ite(long deviceId, long eventId) {
        return ites.get(iteKey(deviceId, eventId));
    }

    int iteCount() {
        return ites.size();
    }

    Ite addIte(Device d, long eventId, Collection c, Lpis.Lpi lpi) {
        Ite e = freeItes;
        if (e != null) {
            freeItes = e.next;
        } else {
            e = new Ite();
        }
        e.device = d;
        e.eventId = eventId;
        e.collection = c;
        e.icid = c.icid;
        e.lpi = lpi;
        e.cacheGeneration = 0;
        e.next = null;
        e.prev = d.last;
        if (d.last == null) {
            d.first = e;
        } else {
            d.last.next = e;
        }
        d.last = e;
        d.ites++;
        ites.put(iteKey(d.id, eventId), e);
        return e;
    }

    /** Frees an ITE and drops its LPI reference ({@code its_free_ite}). */
    void freeIte(Ite e) {
        Device d = e.device;
        ites.remove(iteKey(d.id, e.eventId));
        if (e.prev == null) {
            d.first = e.next;
        } else {
            e.prev.next = e.next;
        }
        if (e.next == null) {
            d.last = e.prev;
        } else {
            e.next.prev = e.prev;
        }
        d.ites--;
        if (e.lpi != null) {
            vgic.lpis().put(e.lpi);
        }
        e.lpi = null;
        e.device = null;
        e.collection = null;
        e.prev = null;
        e.next = freeItes;
        freeItes = e;
    }

    // ---- Collections -----------------------------------------------------------------------------------

    Collection collection(long icid) {
        return collections.get(icid);
    }

    Collection firstCollection() {
        return firstCollection;
    }

    int collectionCount() {
        return collections.size();
    }

    /** Appends an unmapped collection ({@code vgic_its_alloc_collection}). */
    Collection addCollection(int icid) {
        Collection c = freeCollections;
        if (c != null) {
            freeCollections = c.next;
        } else {
            c = new Collection();
        }
        c.icid = icid;
        c.target = NOT_MAPPED;
        c.next = null;
        c.prev = lastCollection;
        if (lastCollection == null) {
            firstCollection = c;
        } else {
            lastCollection.next = c;
        }
        lastCollection = c;
        collections.put(icid, c);
        return c;
    }

    /**
     * Removes collection {@code icid} if it exists; ITEs that used it keep existing with no collection
     * ({@code vgic_its_free_collection}).
     */
    void freeCollection(long icid) {
        Collection c = collections.remove(icid);
        if (c == null) {
            return;
        }
        for (Device d = firstDevice; d != null; d = d.next) {
            for (Ite e = d.first; e != null; e = e.next) {
                if (e.collection == c) {
                    e.collection = null;
                }
            }
        }
        if (c.prev == null) {
            firstCollection = c.next;
        } else {
            c.prev.next = c.next;
        }
        if (c.next == null) {
            lastCollection = c.prev;
        } else {
            c.next.prev = c.prev;
        }
        c.prev = null;
        c.next = freeCollections;
        freeCollections = c;
    }

    /** Frees every collection ({@code vgic_its_free_collection_list}). */
    void freeAllCollections() {
        while (firstCollection != null) {
            freeCollection(firstCollection.icid);
        }
    }

    // ---- ID checks against the guest's tables -----------------------------------------------------------

    /**
     * Whether {@code id} fits the table {@code baser} describes and its entry lies in guest memory
     * ({@code vgic_its_check_id}). Device IDs must be below 2^16 and collection IDs below 2^16; a flat table
     * must hold the entry; an indirect device table must have a valid level-1 entry for it.
     *
     * @return the guest-physical address of the entry, or -1 if the ID is not valid
     */
    long checkId(long baser, long id) {
        int type = ItsRegisters.tableType(baser);
        switch (type) {
            case ItsRegisters.BASER_TYPE_DEVICE -> {
                if (id < 0 || id >= 1L << ItsRegisters.DEVICE_BITS) {
                    return -1;
                }
            }
            case ItsRegisters.BASER_TYPE_COLLECTION -> {
                if (id < 0 || id >= 1L << 16) {
                    return -1;
                }
            }
            default -> {
                return -1;
            }
        }
        long base = ItsRegisters.tableAddress(baser);
        long l1Size = ItsRegisters.tableSize(baser);
        int esz = ItsRegisters.entrySize(baser);
        GuestRam ram = vgic.ram();
        if ((baser & ItsRegisters.BASER_INDIRECT) == 0) {
            if (id >= l1Size / esz) {
                return -1;
            }
            long addr = base + id * esz;
            return ram.isMapped(addr) ? addr : -1;
        }
        long perPage = ItsRegisters.TABLE_PAGE / esz;
        long index = id / perPage;
        if (index >= l1Size / 8) {
            return -1;
        }
        long l1;
        try {
            l1 = ram.readLong(base + index * 8);
        } catch (ErrnoException e) {
            return -1;
        }
        if ((l1 & L1_VALID) == 0) {
            return -1;
        }
        long addr = (l1 & L1_ADDRESS_MASK) + (id % perPage) * esz;
        return ram.isMapped(addr) ? addr : -1;
    }

    /**
     * Whether {@code eventId} fits device {@code d}'s ITT and its entry lies in guest memory
     * ({@code vgic_its_check_event_id}).
     */
    boolean checkEventId(Device d, long eventId) {
        if (d.eventBits < 64 && Long.compareUnsigned(eventId, 1L << d.eventBits) >= 0) {
            return false;
        }
        return vgic.ram().isMapped(d.itt + eventId * ItsRegisters.ENTRY_SIZE);
    }
}
