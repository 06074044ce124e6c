package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRegisters.ADDR_UNDEF;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.RegisterDevice;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import dev.panavirt.models.gicv3.ItsRegisters.Region;
import dev.panavirt.models.gicv3.ItsTables.Collection;
import dev.panavirt.models.gicv3.ItsTables.Device;
import dev.panavirt.models.gicv3.ItsTables.Ite;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A software GICv3 ITS that behaves as KVM's {@code KVM_DEV_TYPE_ARM_VGIC_ITS} device: the same device
 * attributes and errnos ({@link DeviceAttributes}; {@code vgic_its_set_attr/get_attr/has_attr()}), the same
 * guest-visible 128 KiB register frame ({@link RegisterDevice}; {@code its_registers[]}), the same commands
 * ({@code vgic_its_cmd_handle_*()}), reset ({@code vgic_its_reset()}) and table save/restore ABI
 * ({@code vgic_its_save_tables_v0()}, {@code vgic_its_restore_tables_v0()}), all in
 * {@code arch/arm64/kvm/vgic/vgic-its.c}. Create one with {@link Vgic#createDevice(int)}; MSIs reach it
 * through {@link Vgic#signalMsi}.
 *
 * <p>Attribute groups: {@code KVM_DEV_ARM_VGIC_GRP_ADDR} (the frame base, type
 * {@code KVM_VGIC_ITS_ADDR_TYPE}), {@code KVM_DEV_ARM_VGIC_GRP_CTRL} (init, reset, save and restore tables)
 * and {@code KVM_DEV_ARM_VGIC_GRP_ITS_REGS} (the GITS registers by offset, always as a u64 payload). Control
 * and register attributes fail with {@code EBUSY} while a vCPU is {@linkplain Redistributors#load running}.
 *
 * <p>The frame's MMIO handlers never fault the guest: unsupported widths, misaligned accesses and
 * undecoded offsets read as zero and drop writes; they are only counted ({@link #ignoredAccesses()}).
 * Command errors are not reported to the guest either; {@link #lastCommandResult()} exposes the last one.
 * {@link #close()} ends attribute access as closing the fd does; as in KVM, the ITS itself lives on with
 * the VM (its frame and MSI translation keep working).
 */
public final class ItsDevice implements DeviceAttributes, RegisterDevice {

    /** A device mapping: DeviceID to ITT. */
    public record DeviceMapping(long deviceId, long itt, int eventIdBits) {
    }

    /** A collection: ICID to target vCPU id, or -1 while it exists unmapped (created by MAPTI). */
    public record CollectionMapping(int icid, long targetVcpu) {
    }

    /**
     * A translation: (DeviceID, EventID) to an LPI in a collection.
     *
     * @param icid the collection, or -1 once MAPC removed it (the interrupt is then unmapped for good)
     * @param targetVcpu vCPU id the collection targets, or -1 when there is no mapped collection
     * @param cached whether KVM_SIGNAL_MSI would take the translation-cache fast path
     */
    public record Translation(long deviceId, long eventId, long intid, int icid, long targetVcpu, boolean cached) {
    }

    private final Vgic vgic;
    final Its its;
    private final ItsSaveRestore tableIo;
    private volatile boolean closed;

    ItsDevice(Vgic vgic) {
        this.vgic = vgic;
        this.its = new Its(vgic);
        this.tableIo = new ItsSaveRestore(its);
    }

    /** The VM this ITS belongs to. */
    public Vgic vgic() {
        return vgic;
    }

    @Override
    public int type() {
        return kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS();
    }

    @Override
    public Backend backend() {
        return Backend.MODEL;
    }

    @Override
    public void close() {
        closed = true;
    }

    /** Back to the state {@link Vgic#createDevice} gave it, and open again (see {@link Vgic#reset}). */
    void recreate() {
        its.recreate();
        closed = false;
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("ITS device is closed");
        }
    }

    // ---- Device attributes (vgic_its_has_attr / set_attr / get_attr) --------------------------------------

    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        open();
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR()) {
            return attr == kvm_h.KVM_VGIC_ITS_ADDR_TYPE();
        }
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL()) {
            return attr == kvm_h.KVM_DEV_ARM_VGIC_CTRL_INIT() || attr == kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES()
                    || attr == kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES() || attr == kvm_h.KVM_DEV_ARM_ITS_CTRL_RESET();
        }
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS()) {
            checkRegisterAlignment("KVM_HAS_DEVICE_ATTR", attr);
            return Region.find(attr) != null;
        }
        return false;
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        open();
        long v = payload(size, value);
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR()) {
            setAddress(attr, v);
        } else if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL()) {
            control(attr);
        } else if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS()) {
            accessRegister(attr, v, true);
        } else {
            throw error("KVM_SET_DEVICE_ATTR", Errno.ENXIO, group, attr, "unknown group");
        }
    }

    @Override
    public void setAttr(int group, long attr) throws ErrnoException {
        open();
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR()) {
            if (attr != kvm_h.KVM_VGIC_ITS_ADDR_TYPE()) {
                throw error("KVM_SET_DEVICE_ATTR", Errno.ENODEV, group, attr, "not the ITS address type");
            }
            throw error("KVM_SET_DEVICE_ATTR", Errno.EFAULT, group, attr, "no payload");
        } else if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL()) {
            control(attr);
        } else if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS()) {
            throw error("KVM_SET_DEVICE_ATTR", Errno.EFAULT, group, attr, "no payload");
        } else {
            throw error("KVM_SET_DEVICE_ATTR", Errno.ENXIO, group, attr, "unknown group");
        }
    }

    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        open();
        payload(size, 0);
        long v;
        if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR()) {
            if (attr != kvm_h.KVM_VGIC_ITS_ADDR_TYPE()) {
                throw error("KVM_GET_DEVICE_ATTR", Errno.ENODEV, group, attr, "not the ITS address type");
            }
            synchronized (vgic.lock) {
                v = its.base;
            }
        } else if (group == kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS()) {
            v = accessRegister(attr, 0, false);
        } else {
            throw error("KVM_GET_DEVICE_ATTR", Errno.ENXIO, group, attr, "no such readable attribute");
        }
        return size == 4 ? v & 0xFFFF_FFFFL : v;
    }

    private static long payload(int size, long value) {
        if (size != 4 && size != 8) {
            throw new IllegalArgumentException("attribute payload size must be 4 or 8, was " + size);
        }
        return size == 4 ? value & 0xFFFF_FFFFL : value;
    }

    private static ErrnoException error(String op, int errno, int group, long attr, String why) {
        return new ErrnoException(op, errno, "ITS group " + group + " attr 0x" + Long.toHexString(attr) + ": " + why);
    }

    /** KVM_DEV_ARM_VGIC_GRP_ADDR: place the frame once ({@code vgic_check_iorange}). */
    private void setAddress(long attr, long addr) throws ErrnoException {
        int group = kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR();
        String op = "KVM_SET_DEVICE_ATTR";
        if (attr != kvm_h.KVM_VGIC_ITS_ADDR_TYPE()) {
            throw error(op, Errno.ENODEV, group, attr, "not the ITS address type");
        }
        long size = ItsRegisters.FRAME_SIZE;
        synchronized (vgic.lock) {
            if (its.base != ADDR_UNDEF) {
                throw error(op, Errno.EEXIST, group, attr, "address already set");
            }
            if ((addr & (ItsRegisters.FRAME_ALIGN - 1)) != 0) {
                throw error(op, Errno.EINVAL, group, attr, "0x" + Long.toHexString(addr) + " is not 64 KiB aligned");
            }
            if (Long.compareUnsigned(addr + size, addr) < 0) {
                throw error(op, Errno.EINVAL, group, attr, "frame wraps the address space");
            }
            long physSize = 1L << vgic.ipaBits();
            if ((addr & ~(physSize - 1)) != 0 || Long.compareUnsigned(addr + size, physSize) > 0) {
                throw error(op, Errno.E2BIG, group, attr, "frame beyond the " + vgic.ipaBits() + "-bit IPA space");
            }
            its.base = addr;
        }
        vgic.frameMapped(this, addr);
    }

    /** KVM_DEV_ARM_VGIC_GRP_CTRL ({@code vgic_its_ctrl}). */
    private void control(long attr) throws ErrnoException {
        int group = kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL();
        if (attr == kvm_h.KVM_DEV_ARM_VGIC_CTRL_INIT()) {
            return;
        }
        synchronized (vgic.lock) {
            if (vgic.redistributors().anyRunning()) {
                throw error("KVM_SET_DEVICE_ATTR", Errno.EBUSY, group, attr, "a vCPU is running");
            }
            int rc;
            if (attr == kvm_h.KVM_DEV_ARM_ITS_CTRL_RESET()) {
                its.reset();
                rc = 0;
            } else if (attr == kvm_h.KVM_DEV_ARM_ITS_SAVE_TABLES()) {
                rc = tableIo.save();
            } else if (attr == kvm_h.KVM_DEV_ARM_ITS_RESTORE_TABLES()) {
                rc = tableIo.restore();
            } else {
                rc = -Errno.ENXIO;
            }
            if (rc < 0) {
                throw error("KVM_SET_DEVICE_ATTR", -rc, group, attr, "ITS control failed");
            }
        }
    }

    private static void checkRegisterAlignment(String op, long offset) throws ErrnoException {
        boolean narrow = Long.compareUnsigned(offset, ItsRegisters.GITS_TYPER) < 0
                || Long.compareUnsigned(offset, ItsRegisters.GITS_PIDR4) >= 0;
        if ((offset & (narrow ? 3 : 7)) != 0) {
            throw error(op, Errno.EINVAL, kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS(), offset, "misaligned register offset");
        }
    }

    /** KVM_DEV_ARM_VGIC_GRP_ITS_REGS ({@code vgic_its_attr_regs_access}). */
    private long accessRegister(long offset, long value, boolean write) throws ErrnoException {
        String op = write ? "KVM_SET_DEVICE_ATTR" : "KVM_GET_DEVICE_ATTR";
        int group = kvm_h.KVM_DEV_ARM_VGIC_GRP_ITS_REGS();
        checkRegisterAlignment(op, offset);
        synchronized (vgic.lock) {
            if (vgic.redistributors().anyRunning()) {
                throw error(op, Errno.EBUSY, group, offset, "a vCPU is running");
            }
            if (its.base == ADDR_UNDEF) {
                throw error(op, Errno.ENXIO, group, offset, "ITS address not set");
            }
            Region r = Region.find(offset);
            if (r == null) {
                throw error(op, Errno.ENXIO, group, offset, "no register at this offset");
            }
            int len = r.userWidth();
            if (!write) {
                return its.readRegister(r, offset, len);
            }
            int rc = switch (r) {
                case IIDR -> its.userWriteIidr(value);
                case CREADR -> its.userWriteCreadr(value);
                default -> {
                    its.writeRegister(r, offset, len, value);
                    yield 0;
                }
            };
            if (rc < 0) {
                throw error(op, -rc, group, offset, "register write refused");
            }
            return 0;
        }
    }

    // ---- Guest MMIO ----------------------------------------------------------------------------------------

    /** A guest read of {@code width} bytes at {@code offset} in the frame; unsupported accesses read 0. */
    @Override
    public long mmioRead(long offset, int width) {
        synchronized (vgic.lock) {
            return its.read(offset, width);
        }
    }

    /** A guest write of {@code width} bytes at {@code offset} in the frame; unsupported accesses are dropped. */
    @Override
    public void mmioWrite(long offset, int width, long value) {
        synchronized (vgic.lock) {
            its.write(offset, width, value);
        }
    }

    // ---- Observation ---------------------------------------------------------------------------------------

    /** The frame's base address, or {@link ItsRegisters#ADDR_UNDEF} if not yet set. */
    public long baseAddress() {
        synchronized (vgic.lock) {
            return its.base;
        }
    }

    /** Whether GITS_CTLR.Enabled is set. */
    public boolean isEnabled() {
        synchronized (vgic.lock) {
            return its.enabled;
        }
    }

    /** Result of the last command the queue executed: 0, an {@code E_ITS_*} code or a negative errno. */
    public int lastCommandResult() {
        synchronized (vgic.lock) {
            return its.lastResult;
        }
    }

    /** Opcode of the last command the queue executed, or -1 before the first. */
    public int lastCommandOpcode() {
        synchronized (vgic.lock) {
            return its.lastOpcode;
        }
    }

    /** Commands executed so far (whatever their result). */
    public long commandsExecuted() {
        synchronized (vgic.lock) {
            return its.commandsExecuted;
        }
    }

    /** Commands skipped because their 32 bytes were not in guest memory. */
    public long commandsUnreadable() {
        synchronized (vgic.lock) {
            return its.commandsUnreadable;
        }
    }

    /** Guest accesses ignored: undecoded, wrong width, misaligned, read-only or refused writes. */
    public long ignoredAccesses() {
        synchronized (vgic.lock) {
            return its.accessesIgnored;
        }
    }

    /** Mapped devices, by DeviceID. */
    public List<DeviceMapping> devices() {
        synchronized (vgic.lock) {
            List<DeviceMapping> out = new ArrayList<>();
            for (Device d = its.tables.firstDevice(); d != null; d = d.next) {
                out.add(new DeviceMapping(d.id, d.itt, d.eventBits));
            }
            out.sort(Comparator.comparingLong(DeviceMapping::deviceId));
            return out;
        }
    }

    /** Collections, in the ITS's list order (the order SAVE writes them). */
    public List<CollectionMapping> collections() {
        synchronized (vgic.lock) {
            List<CollectionMapping> out = new ArrayList<>();
            for (Collection c = its.tables.firstCollection(); c != null; c = c.next) {
                out.add(new CollectionMapping(c.icid, c.mapped() ? c.target : -1));
            }
            return out;
        }
    }

    /** Every translation, by DeviceID then EventID. */
    public List<Translation> translations() {
        synchronized (vgic.lock) {
            List<Translation> out = new ArrayList<>();
            for (Device d = its.tables.firstDevice(); d != null; d = d.next) {
                for (Ite e = d.first; e != null; e = e.next) {
                    out.add(view(e));
                }
            }
            out.sort(Comparator.comparingLong(Translation::deviceId).thenComparingLong(Translation::eventId));
            return out;
        }
    }

    /** The translation of ({@code deviceId}, {@code eventId}), if mapped. */
    public Optional<Translation> translation(long deviceId, long eventId) {
        synchronized (vgic.lock) {
            Ite e = its.tables.ite(deviceId, eventId);
            return e == null ? Optional.empty() : Optional.of(view(e));
        }
    }

    private Translation view(Ite e) {
        Collection c = e.collection;
        return new Translation(e.device.id, e.eventId, e.lpi.intid, c == null ? -1 : c.icid,
                ItsTables.mapped(c) ? c.target : -1, its.cached(e.device.id, e.eventId));
    }

    /** The deterministic one-line state dump a replay target reports as its state. */
    public String state() {
        return ItsStateDump.dump(this);
    }
}
