package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_CLEAR_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_DISCARD_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_INVALL_UNMAPPED_COLLECTION;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_INV_UNMAPPED_INTERRUPT;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPC_COLLECTION_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPC_PROCNUM_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPD_DEVICE_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPD_ITTSIZE_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPTI_ID_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPTI_PHYSICALID_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MAPTI_UNMAPPED_DEVICE;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MOVALL_PROCNUM_OOR;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MOVI_UNMAPPED_COLLECTION;
import static dev.panavirt.models.gicv3.ItsCommand.E_ITS_MOVI_UNMAPPED_INTERRUPT;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.gicv3.ItsTables.Collection;
import dev.panavirt.models.gicv3.ItsTables.Device;
import dev.panavirt.models.gicv3.ItsTables.Ite;

/**
 * The ITS command handlers ({@code arch/arm64/kvm/vgic/vgic-its.c} {@code vgic_its_cmd_handle_*()}). Each
 * returns 0, an {@code E_ITS_*} code, or a negative errno; the command queue discards the value, as KVM does,
 * so a failing command simply changes nothing (apart from the documented side effects on guest memory).
 *
 * <p>Nothing here allocates once the pools behind {@link ItsTables} and {@link Lpis} have grown to the
 * guest's working set. Callers hold the {@link Vgic} lock.
 */
final class ItsCommands {

    private final Its its;
    private final ItsTables tables;
    private final Vgic vgic;

    ItsCommands(Its its) {
        this.its = its;
        this.tables = its.tables;
        this.vgic = its.vgic;
    }

    /** Decodes and runs one command ({@code vgic_its_handle_command}); unknown opcodes give -ENODEV. */
    int execute(long w0, long w1, long w2, long w3) {
        return switch (ItsCommand.opcode(w0)) {
            case ItsCommand.MAPD -> mapd(w0, w1, w2);
            case ItsCommand.MAPC -> mapc(w2);
            case ItsCommand.MAPTI -> mapi(w0, w1, w2, true);
            case ItsCommand.MAPI -> mapi(w0, w1, w2, false);
            case ItsCommand.MOVI -> movi(w0, w1, w2);
            case ItsCommand.DISCARD -> discard(w0, w1);
            case ItsCommand.CLEAR -> clear(w0, w1);
            case ItsCommand.MOVALL -> movall(w2, w3);
            case ItsCommand.INT -> its.trigger(ItsCommand.deviceId(w0), ItsCommand.eventId(w1));
            case ItsCommand.INV -> inv(w0, w1);
            case ItsCommand.INVALL -> invall(w2);
            case ItsCommand.SYNC -> 0;
            default -> -Errno.ENODEV;
        };
    }

    /** Writes a zero entry to guest memory, as MAPD (unmap) and DISCARD do; returns 0 or -errno. */
    private int clearEntry(long gpa) {
        try {
            vgic.ram().writeLong(gpa, 0);
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    /**
     * MAPD: check the DeviceID against the device table, tear down any existing mapping, then either clear
     * the device's table entry (V=0) or map it afresh with the new ITT (V=1).
     */
    private int mapd(long w0, long w1, long w2) {
        long deviceId = ItsCommand.deviceId(w0);
        boolean valid = ItsCommand.valid(w2);
        int bits = ItsCommand.eventIdBits(w1);
        long dte = tables.checkId(its.baser0, deviceId);
        if (dte < 0) {
            return E_ITS_MAPD_DEVICE_OOR;
        }
        if (valid && bits > ItsRegisters.ID_BITS) {
            return E_ITS_MAPD_ITTSIZE_OOR;
        }
        Device d = tables.device(deviceId);
        if (d != null) {
            its.freeDevice(d);
        }
        if (!valid) {
            return clearEntry(dte);
        }
        tables.addDevice(deviceId, ItsCommand.ittAddress(w2), bits);
        return 0;
    }

    /**
     * MAPC: V=0 removes the collection (its ITEs lose their collection) and flushes the cache; V=1 needs an
     * existing vCPU, creates the collection if the collection table has room for its ICID, or retargets an
     * existing one together with all its LPIs.
     */
    private int mapc(long w2) {
        int icid = ItsCommand.collectionId(w2);
        if (!ItsCommand.valid(w2)) {
            tables.freeCollection(icid);
            its.invalidateCache();
            return 0;
        }
        long target = ItsCommand.targetAddress(w2);
        if (!vgic.redistributors().hasVcpu(target)) {
            return E_ITS_MAPC_PROCNUM_OOR;
        }
        Collection c = tables.collection(icid);
        if (c == null) {
            if (tables.checkId(its.baser1, icid) < 0) {
                return E_ITS_MAPC_COLLECTION_OOR;
            }
            c = tables.addCollection(icid);
            c.target = target;
            return 0;
        }
        c.target = target;
        for (Device d = tables.firstDevice(); d != null; d = d.next) {
            for (Ite e = d.first; e != null; e = e.next) {
                if (e.collection == c) {
                    e.lpi.target = (int) target;
                }
            }
        }
        return 0;
    }

    /**
     * MAPTI and MAPI: map (DeviceID, EventID) to an LPI in a collection. An existing mapping is left alone;
     * an unknown collection is created unmapped; a failure to read the LPI's configuration rolls back.
     */
    private int mapi(long w0, long w1, long w2, boolean withPhysicalId) {
        long deviceId = ItsCommand.deviceId(w0);
        long eventId = ItsCommand.eventId(w1);
        int icid = ItsCommand.collectionId(w2);
        Device d = tables.device(deviceId);
        if (d == null) {
            return E_ITS_MAPTI_UNMAPPED_DEVICE;
        }
        if (!tables.checkEventId(d, eventId)) {
            return E_ITS_MAPTI_ID_OOR;
        }
        long intid = withPhysicalId ? ItsCommand.physicalId(w1) : eventId;
        if (intid < Lpis.LPI_OFFSET || intid >= vgic.redistributors().maxLpis()) {
            return E_ITS_MAPTI_PHYSICALID_OOR;
        }
        if (tables.ite(deviceId, eventId) != null) {
            return 0;
        }
        Collection c = tables.collection(icid);
        boolean created = false;
        if (c == null) {
            if (tables.checkId(its.baser1, icid) < 0) {
                return E_ITS_MAPC_COLLECTION_OOR;
            }
            c = tables.addCollection(icid);
            created = true;
        }
        int target = c.mapped() ? (int) c.target : Lpis.NO_VCPU;
        Lpis.Lpi lpi = vgic.lpis().add(intid, target);
        if (lpi == null) {
            if (created) {
                tables.freeCollection(icid);
            }
            return -vgic.lpis().error;
        }
        tables.addIte(d, eventId, c, lpi);
        return 0;
    }

    /** MOVI: move a mapped interrupt to another mapped collection and retarget its LPI. */
    private int movi(long w0, long w1, long w2) {
        Ite e = tables.ite(ItsCommand.deviceId(w0), ItsCommand.eventId(w1));
        if (e == null) {
            return E_ITS_MOVI_UNMAPPED_INTERRUPT;
        }
        if (!ItsTables.mapped(e.collection)) {
            return E_ITS_MOVI_UNMAPPED_COLLECTION;
        }
        Collection c = tables.collection(ItsCommand.collectionId(w2));
        if (!ItsTables.mapped(c)) {
            return E_ITS_MOVI_UNMAPPED_COLLECTION;
        }
        e.collection = c;
        e.icid = c.icid;
        its.invalidateCache();
        e.lpi.target = (int) c.target;
        return 0;
    }

    /** DISCARD: remove an interrupt whose collection is mapped and zero its ITT entry in guest memory. */
    private int discard(long w0, long w1) {
        Ite e = tables.ite(ItsCommand.deviceId(w0), ItsCommand.eventId(w1));
        if (e == null || !ItsTables.mapped(e.collection)) {
            return E_ITS_DISCARD_UNMAPPED_INTERRUPT;
        }
        long gpa = e.device.itt + e.eventId * ItsRegisters.ENTRY_SIZE;
        its.invalidateCache();
        tables.freeIte(e);
        return clearEntry(gpa);
    }

    /** CLEAR: drop the pending latch of a mapped interrupt (its collection does not matter). */
    private int clear(long w0, long w1) {
        Ite e = tables.ite(ItsCommand.deviceId(w0), ItsCommand.eventId(w1));
        if (e == null) {
            return E_ITS_CLEAR_UNMAPPED_INTERRUPT;
        }
        e.lpi.pending = false;
        return 0;
    }

    /** INV: re-read the property byte of a mapped interrupt's LPI. */
    private int inv(long w0, long w1) {
        Ite e = tables.ite(ItsCommand.deviceId(w0), ItsCommand.eventId(w1));
        if (e == null) {
            return E_ITS_INV_UNMAPPED_INTERRUPT;
        }
        return vgic.lpis().updateConfig(e.lpi, Lpis.NO_VCPU);
    }

    /** INVALL: re-read the property bytes of every LPI of the VM that targets the collection's vCPU. */
    private int invall(long w2) {
        Collection c = tables.collection(ItsCommand.collectionId(w2));
        if (!ItsTables.mapped(c)) {
            return E_ITS_INVALL_UNMAPPED_COLLECTION;
        }
        vgic.lpis().invall((int) c.target);
        return 0;
    }

    /** MOVALL: with two existing, different vCPUs, retarget every LPI of the VM to the second. */
    private int movall(long w2, long w3) {
        long from = ItsCommand.targetAddress(w2);
        long to = ItsCommand.target2Address(w3);
        Redistributors rds = vgic.redistributors();
        if (!rds.hasVcpu(from) || !rds.hasVcpu(to)) {
            return E_ITS_MOVALL_PROCNUM_OOR;
        }
        if (from == to) {
            return 0;
        }
        vgic.lpis().retargetAll((int) to);
        vgic.invalidateAllCaches();
        return 0;
    }
}
