package dev.panavirt.models.gicv3;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.models.gicv3.ItsTables.Collection;
import dev.panavirt.models.gicv3.ItsTables.Device;
import dev.panavirt.models.gicv3.ItsTables.Ite;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code KVM_DEV_ARM_ITS_SAVE_TABLES} and {@code KVM_DEV_ARM_ITS_RESTORE_TABLES} in table ABI revision 0
 * ({@code arch/arm64/kvm/vgic/vgic.h} {@code KVM_ITS_*}; {@code vgic-its.c} {@code vgic_its_save_tables_v0()},
 * {@code vgic_its_restore_tables_v0()}; "ITS Table ABI REV0" in
 * {@code Documentation/virt/kvm/devices/arm-vgic-its.rst}). Every entry is 8 bytes, little-endian:
 *
 * <ul>
 *   <li>DTE: V (63), next DeviceID delta (62:49, 0 = last), ITT address bits 51:8 (48:5), EventID bits - 1 (4:0);
 *   <li>ITE: next EventID delta (63:48), pINTID (47:16, 0 = none), ICID (15:0);
 *   <li>CTE: V (63), RDbase = vCPU id (47:16), ICID (15:0), packed from the start of the collection table;
 *   <li>level-1 device table entry: V (63), level-2 page address (51:16).
 * </ul>
 *
 * <p>Both return 0 or a negative errno. Callers hold the {@link Vgic} lock.
 */
final class ItsSaveRestore {

    static final long DTE_VALID = 1L << 63;
    static final int DTE_NEXT_SHIFT = 49;
    static final long DTE_NEXT_MASK = ItsRegisters.genmask(62, 49);
    static final int DTE_ITT_SHIFT = 5;
    static final long DTE_ITT_MASK = ItsRegisters.genmask(48, 5);
    static final long DTE_SIZE_MASK = 0x1F;
    static final int DTE_MAX_NEXT = (1 << 14) - 1;
    static final int ITE_NEXT_SHIFT = 48;
    static final int ITE_PINTID_SHIFT = 16;
    static final long ITE_PINTID_MASK = ItsRegisters.genmask(47, 16);
    static final long ITE_ICID_MASK = 0xFFFF;
    static final int ITE_MAX_NEXT = (1 << 16) - 1;
    static final long CTE_VALID = 1L << 63;
    static final int CTE_RDBASE_SHIFT = 16;
    static final long CTE_ICID_MASK = 0xFFFF;

    private static final int ESZ = ItsRegisters.ENTRY_SIZE;

    /** Handles one table entry while scanning; returns an error, 0 for "last", or the ID step to the next. */
    private interface EntryHandler {
        int apply(long id, long entry, Device device);
    }

    private final Its its;
    private final ItsTables tables;
    private final GuestRam ram;

    ItsSaveRestore(Its its) {
        this.its = its;
        this.tables = its.tables;
        this.ram = its.vgic.ram();
    }

    private int write(long gpa, long value) {
        try {
            ram.writeLong(gpa, value);
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    // ---- SAVE ------------------------------------------------------------------------------------------

    /** Writes every ITT and DTE (if BASER0 is valid), then the collection table (if BASER1 is valid). */
    int save() {
        int rc = saveDevices();
        return rc != 0 ? rc : saveCollections();
    }

    private int saveDevices() {
        if ((its.baser0 & ItsRegisters.VALID) == 0) {
            return 0;
        }
        List<Device> devices = new ArrayList<>();
        for (Device d = tables.firstDevice(); d != null; d = d.next) {
            devices.add(d);
        }
        devices.sort(Comparator.comparingLong(d -> d.id));
        for (int i = 0; i < devices.size(); i++) {
            Device d = devices.get(i);
            long dte = tables.checkId(its.baser0, d.id);
            if (dte < 0) {
                return -Errno.EINVAL;
            }
            int rc = saveItt(d);
            if (rc != 0) {
                return rc;
            }
            long next = i + 1 < devices.size() ? Math.min(devices.get(i + 1).id - d.id, DTE_MAX_NEXT) : 0;
            long value = DTE_VALID | next << DTE_NEXT_SHIFT | (d.itt >>> 8) << DTE_ITT_SHIFT | (d.eventBits - 1);
            rc = write(dte, value);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }

    /**
     * Writes a device's ITEs at {@code ITT + EventID * 8}. An ITE whose collection MAPC removed is saved with
     * the ICID it was mapped with; KVM dereferences the missing collection there instead.
     */
    private int saveItt(Device d) {
        List<Ite> ites = new ArrayList<>();
        for (Ite e = d.first; e != null; e = e.next) {
            ites.add(e);
        }
        ites.sort(Comparator.comparingLong(e -> e.eventId));
        for (int i = 0; i < ites.size(); i++) {
            Ite e = ites.get(i);
            long next = i + 1 < ites.size() ? Math.min(ites.get(i + 1).eventId - e.eventId, ITE_MAX_NEXT) : 0;
            int icid = e.collection != null ? e.collection.icid : e.icid;
            long value = next << ITE_NEXT_SHIFT | (e.lpi.intid & 0xFFFF_FFFFL) << ITE_PINTID_SHIFT | icid;
            int rc = write(d.itt + e.eventId * ESZ, value);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }

    /** Packs the collections from the start of the table, in list order, then a zero terminator if room. */
    private int saveCollections() {
        long baser = its.baser1;
        if ((baser & ItsRegisters.VALID) == 0) {
            return 0;
        }
        long gpa = ItsRegisters.tableAddress(baser);
        long max = ItsRegisters.tableSize(baser);
        long filled = 0;
        for (Collection c = tables.firstCollection(); c != null; c = c.next) {
            long value = CTE_VALID | c.target << CTE_RDBASE_SHIFT | c.icid;
            int rc = write(gpa, value);
            if (rc != 0) {
                return rc;
            }
            gpa += ESZ;
            filled += ESZ;
        }
        if (filled == max) {
            return 0;
        }
        return write(gpa, 0);
    }

    // ---- RESTORE ---------------------------------------------------------------------------------------

    /**
     * Rebuilds collections, then devices and their ITEs, from the tables in guest memory. On any error every
     * device and collection of the ITS is freed.
     */
    int restore() {
        int rc = restoreCollections();
        if (rc != 0) {
            return rc;
        }
        rc = restoreDevices();
        if (rc != 0) {
            tables.freeAllCollections();
        }
        return rc;
    }

    private int restoreCollections() {
        long baser = its.baser1;
        if ((baser & ItsRegisters.VALID) == 0) {
            return 0;
        }
        long gpa = ItsRegisters.tableAddress(baser);
        long max = ItsRegisters.tableSize(baser);
        int rc = 1;
        for (long read = 0; read < max; read += ESZ, gpa += ESZ) {
            rc = restoreCollection(gpa);
            if (rc <= 0) {
                break;
            }
        }
        if (rc > 0) {
            return 0;
        }
        if (rc < 0) {
            tables.freeAllCollections();
        }
        return rc;
    }

    /** One CTE: 1 when restored, 0 at the terminator, or a negative errno. */
    private int restoreCollection(long gpa) {
        long value;
        try {
            value = ram.readLong(gpa);
        } catch (ErrnoException e) {
            return -e.errno();
        }
        if ((value & CTE_VALID) == 0) {
            return 0;
        }
        long target = (value >>> CTE_RDBASE_SHIFT) & 0xFFFF_FFFFL;
        int icid = (int) (value & CTE_ICID_MASK);
        if (target != ItsTables.NOT_MAPPED && !its.vgic.redistributors().hasVcpu(target)) {
            return -Errno.EINVAL;
        }
        if (tables.collection(icid) != null) {
            return -Errno.EEXIST;
        }
        if (tables.checkId(its.baser1, icid) < 0) {
            return -Errno.EINVAL;
        }
        tables.addCollection(icid).target = target;
        return 1;
    }

    private int restoreDevices() {
        long baser = its.baser0;
        if ((baser & ItsRegisters.VALID) == 0) {
            return 0;
        }
        long l1 = ItsRegisters.tableAddress(baser);
        int size = ItsRegisters.tableSize(baser);
        int rc = (baser & ItsRegisters.BASER_INDIRECT) != 0
                ? scan(l1, size, 0, this::restoreLevel1, null)
                : scan(l1, size, 0, this::restoreDte, null);
        if (rc > 0) {
            rc = 0;
        }
        if (rc < 0) {
            its.freeAllDevices();
        }
        return rc;
    }

    /**
     * Walks a table of 8-byte entries from {@code base} ({@code scan_its_table}): each handler result is an
     * error, 0 (stop: last entry found), or how many entries ahead the next one is.
     *
     * @param size table bytes, as the kernel's {@code int} (a negative value means a huge unsigned length)
     * @return a negative errno, 0 if the last entry was found, 1 if the table ended first
     */
    private int scan(long base, int size, long startId, EntryHandler handler, Device device) {
        long remaining = size;
        long id = startId;
        long gpa = base;
        while (true) {
            long entry;
            try {
                entry = ram.readLong(gpa);
            } catch (ErrnoException e) {
                return -e.errno();
            }
            int next = handler.apply(id, entry, device);
            if (next <= 0) {
                return next;
            }
            long bytes = (long) next * ESZ;
            if (Long.compareUnsigned(bytes, remaining) >= 0) {
                return 1;
            }
            id += next;
            gpa += bytes;
            remaining -= bytes;
        }
    }

    /** A level-1 entry of an indirect device table: scan its level-2 page if valid. */
    private int restoreLevel1(long index, long entry, Device unused) {
        if ((entry & ItsTables.L1_VALID) == 0) {
            return 1;
        }
        long perPage = ItsRegisters.TABLE_PAGE / ESZ;
        return scan(entry & ItsTables.L1_ADDRESS_MASK, (int) ItsRegisters.TABLE_PAGE, index * perPage,
                this::restoreDte, null);
    }

    /**
     * One DTE. An invalid entry means "look at the next slot". A device that is already mapped is refused
     * with {@code -EEXIST}; KVM would add a second device with the same ID, which the model cannot hold.
     */
    private int restoreDte(long id, long entry, Device unused) {
        if ((entry & DTE_VALID) == 0) {
            return 1;
        }
        int bits = (int) (entry & DTE_SIZE_MASK) + 1;
        long itt = ((entry & DTE_ITT_MASK) >>> DTE_ITT_SHIFT) << 8;
        int next = (int) ((entry & DTE_NEXT_MASK) >>> DTE_NEXT_SHIFT);
        if (tables.checkId(its.baser0, id) < 0) {
            return -Errno.EINVAL;
        }
        if (tables.device(id) != null) {
            return -Errno.EEXIST;
        }
        Device d = tables.addDevice(id, itt, bits);
        // The kernel passes BIT(bits) * 8 to an int parameter; keep its truncation for bits >= 28.
        int ittSize = (int) ((1L << bits) * ESZ);
        int rc = scan(itt, ittSize, 0, this::restoreIte, d);
        if (rc > 0) {
            rc = 0;
        }
        if (rc != 0) {
            its.freeDevice(d);
            return rc;
        }
        return next;
    }

    /** One ITE of {@code d}: skip empty entries, validate, then map the LPI. */
    private int restoreIte(long eventId, long entry, Device d) {
        int icid = (int) (entry & ITE_ICID_MASK);
        long intid = (entry & ITE_PINTID_MASK) >>> ITE_PINTID_SHIFT;
        if (intid == 0) {
            return 1;
        }
        if (intid < Lpis.LPI_OFFSET) {
            return -Errno.EINVAL;
        }
        int next = (int) (entry >>> ITE_NEXT_SHIFT);
        if (eventId + next >= 1L << d.eventBits) {
            return -Errno.EINVAL;
        }
        Collection c = tables.collection(icid);
        if (c == null) {
            return -Errno.EINVAL;
        }
        if (!tables.checkEventId(d, eventId)) {
            return -Errno.EINVAL;
        }
        int target = c.mapped() ? (int) c.target : Lpis.NO_VCPU;
        Lpis.Lpi lpi = its.vgic.lpis().add(intid, target);
        if (lpi == null) {
            return -its.vgic.lpis().error;
        }
        tables.addIte(d, eventId, c, lpi);
        return next;
    }
}
