package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRegisters.ADDR_UNDEF;
import static dev.panavirt.models.gicv3.ItsRegisters.COMMAND_OFFSET_MASK;
import static dev.panavirt.models.gicv3.ItsRegisters.COMMAND_SIZE;
import static dev.panavirt.models.gicv3.ItsRegisters.VALID;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.models.gicv3.ItsRegisters.Region;
import dev.panavirt.models.gicv3.ItsTables.Device;
import dev.panavirt.models.gicv3.ItsTables.Ite;

/**
 * The state machine of one ITS: the GITS registers, the command queue in guest memory, the translation of
 * (DeviceID, EventID) to an LPI, and the per-ITS translation cache ({@code arch/arm64/kvm/vgic/vgic-its.c}:
 * {@code vgic_mmio_write_its_*()}, {@code vgic_its_process_commands()}, {@code vgic_its_resolve_lpi()},
 * {@code vgic_its_cache_translation()}, {@code vgic_its_reset()}). {@link ItsDevice} puts the MMIO frame and
 * the device attributes in front of it.
 *
 * <p>The translation cache is modelled as a generation number: an ITE is cached while its
 * {@code cacheGeneration} equals the ITS's, and invalidating the cache starts a new generation. KVM caches
 * exactly the ITEs that resolved successfully and drops the whole cache at the same points, so the two
 * are equivalent, and neither lookup nor invalidation allocates. Callers hold the {@link Vgic} lock.
 */
final class Its {

    private static final System.Logger LOG = System.getLogger(Its.class.getName());

    final Vgic vgic;
    final ItsTables tables;
    private final ItsCommands commands;

    long base;
    boolean enabled;
    int abiRev;
    long cbaser;
    long creadr;
    long cwriter;
    long baser0;
    long baser1;
    private long cacheGeneration;

    /** The LPI found by the last successful {@link #resolve}. */
    Lpis.Lpi resolved;

    /** Result of the last command executed: 0, an {@code E_ITS_*} code, or a negative errno. */
    int lastResult;
    /** Opcode of the last command executed, or -1. */
    int lastOpcode;
    long commandsExecuted;
    long commandsUnreadable;
    long accessesIgnored;
    private boolean loggedIgnored;
    private boolean loggedUnreadable;

    Its(Vgic vgic) {
        this.vgic = vgic;
        this.tables = new ItsTables(vgic);
        this.commands = new ItsCommands(this);
        recreate();
    }

    /**
     * Puts every field back to its value at creation ({@code vgic_create_its}): no frame address, ABI
     * revision 0, the initial BASERs, empty tables, no command history and no counts. The constructor
     * uses it too, so the two cannot drift apart.
     */
    void recreate() {
        reset();
        base = ADDR_UNDEF;
        abiRev = 0;
        baser0 = ItsRegisters.INITIAL_BASER_DEVICE;
        baser1 = ItsRegisters.INITIAL_BASER_COLLECTION;
        cacheGeneration = 1;
        resolved = null;
        lastResult = 0;
        lastOpcode = -1;
        commandsExecuted = 0;
        commandsUnreadable = 0;
        accessesIgnored = 0;
        loggedIgnored = false;
        loggedUnreadable = false;
    }

    // ---- Guest MMIO (vgic-mmio.c dispatch_mmio_read/write with check_region) ---------------------------

    /** A guest read of {@code len} bytes at frame offset {@code offset}; unsupported accesses read 0. */
    long read(long offset, int len) {
        Region r = Region.find(offset);
        if (r == null || !r.allows(offset, len)) {
            ignored("read", offset, len);
            return 0;
        }
        return readRegister(r, offset, len);
    }

    /** A guest write of {@code len} bytes at frame offset {@code offset}; unsupported accesses are dropped. */
    void write(long offset, int len, long value) {
        Region r = Region.find(offset);
        if (r == null || !r.allows(offset, len)) {
            ignored("write", offset, len);
            return;
        }
        writeRegister(r, offset, len, value);
    }

    /** Counts an access no register decodes; the first one is logged. */
    private void ignored(String kind, long offset, int len) {
        accessesIgnored++;
        if (!loggedIgnored) {
            loggedIgnored = true;
            LOG.log(System.Logger.Level.DEBUG, "ITS: ignoring {0}-byte {1} at frame offset 0x{2} (reads as 0;"
                    + " further ones are only counted)", len, kind, Long.toHexString(offset));
        }
    }

    /** The read handler of register block {@code r}. */
    long readRegister(Region r, long offset, int len) {
        int half = (int) (offset & 7);
        return switch (r) {
            case CTLR -> (creadr == cwriter ? ItsRegisters.CTLR_QUIESCENT & 0xFFFF_FFFFL : 0)
                    | (enabled ? ItsRegisters.CTLR_ENABLED : 0);
            case IIDR -> ItsRegisters.iidr(abiRev);
            case TYPER -> ItsRegisters.extractBytes(ItsRegisters.TYPER, half, len);
            case CBASER -> ItsRegisters.extractBytes(cbaser, half, len);
            case CWRITER -> ItsRegisters.extractBytes(cwriter, half, len);
            case CREADR -> ItsRegisters.extractBytes(creadr, half, len);
            case BASER -> ItsRegisters.extractBytes(baser(baserIndex(offset)), half, len);
            case IDREGS -> ItsRegisters.idRegister(offset);
        };
    }

    /** The guest write handler of register block {@code r}. */
    void writeRegister(Region r, long offset, int len, long value) {
        switch (r) {
            case CTLR -> writeCtlr(value);
            case CBASER -> writeCbaser(offset, len, value);
            case CWRITER -> writeCwriter(offset, len, value);
            case BASER -> writeBaser(baserIndex(offset), offset, len, value);
            case IIDR, TYPER, CREADR, IDREGS -> accessesIgnored++;
        }
    }

    private static int baserIndex(long offset) {
        return (int) ((offset - ItsRegisters.GITS_BASER) / 8) & 7;
    }

    long baser(int n) {
        return switch (n) {
            case 0 -> baser0;
            case 1 -> baser1;
            default -> 0;
        };
    }

    /** GITS_CTLR: enabling needs valid CBASER and BASER0/1; disabling flushes the cache; then drain. */
    private void writeCtlr(long value) {
        boolean enable = (value & ItsRegisters.CTLR_ENABLED) != 0;
        if (!enabled && enable && ((baser0 & VALID) == 0 || (baser1 & VALID) == 0 || (cbaser & VALID) == 0)) {
            accessesIgnored++;
            return;
        }
        enabled = enable;
        if (!enabled) {
            invalidateCache();
        }
        processCommands();
    }

    /** GITS_CBASER: read-only while enabled; sanitised; empties the queue. */
    private void writeCbaser(long offset, int len, long value) {
        if (enabled) {
            accessesIgnored++;
            return;
        }
        cbaser = ItsRegisters.sanitiseCbaser(ItsRegisters.update64(cbaser, (int) (offset & 7), len, value));
        creadr = 0;
        cwriter = 0;
    }

    /** GITS_CWRITER: offsets past the queue are dropped; otherwise the queue is processed. */
    private void writeCwriter(long offset, int len, long value) {
        long reg = ItsRegisters.update64(cwriter, (int) (offset & 7), len, value) & COMMAND_OFFSET_MASK;
        if (reg >= ItsRegisters.commandQueueSize(cbaser)) {
            accessesIgnored++;
            return;
        }
        cwriter = reg;
        processCommands();
    }

    /** GITS_BASERn: read-only while enabled; BASER2..7 ignored; clearing Valid forgets that table's state. */
    private void writeBaser(int n, long offset, int len, long value) {
        if (enabled || n > 1) {
            accessesIgnored++;
            return;
        }
        long reg = ItsRegisters.sanitiseBaser(n, ItsRegisters.update64(baser(n), (int) (offset & 7), len, value));
        if (n == 0) {
            baser0 = reg;
        } else {
            baser1 = reg;
        }
        if ((reg & VALID) == 0) {
            if (n == 0) {
                freeAllDevices();
            } else {
                tables.freeAllCollections();
            }
        }
    }

    // ---- Userspace-only write handlers (KVM_DEV_ARM_VGIC_GRP_ITS_REGS) ---------------------------------

    /** GITS_IIDR from userspace selects the table ABI revision. */
    int userWriteIidr(long value) {
        int rev = (int) ((value & ItsRegisters.IIDR_REV_MASK) >>> ItsRegisters.IIDR_REV_SHIFT);
        if (rev >= ItsRegisters.NR_ITS_ABIS) {
            return -Errno.EINVAL;
        }
        abiRev = rev;
        commitAbi();
        return 0;
    }

    /** Sets the BASER entry-size fields for the ABI in use ({@code vgic_its_commit_v0}). */
    void commitAbi() {
        long esz = (long) (ItsRegisters.ENTRY_SIZE - 1) << ItsRegisters.BASER_ENTRY_SIZE_SHIFT;
        baser0 = (baser0 & ~ItsRegisters.BASER_ENTRY_SIZE_MASK) | esz;
        baser1 = (baser1 & ~ItsRegisters.BASER_ENTRY_SIZE_MASK) | esz;
    }

    /** GITS_CREADR from userspace: only while disabled, and within the queue. */
    int userWriteCreadr(long value) {
        if (enabled) {
            return -Errno.EBUSY;
        }
        long offset = value & COMMAND_OFFSET_MASK;
        if (offset >= ItsRegisters.commandQueueSize(cbaser)) {
            return -Errno.EINVAL;
        }
        creadr = offset;
        return 0;
    }

    // ---- Command queue ---------------------------------------------------------------------------------

    /**
     * Executes the commands between CREADR and CWRITER ({@code vgic_its_process_commands}). Nothing happens
     * while disabled. A command whose 32 bytes cannot be read is skipped; every command's result is
     * discarded (kept only in {@link #lastResult} for inspection). CREADR wraps at the end of the queue.
     */
    void processCommands() {
        if (!enabled) {
            return;
        }
        long queue = ItsRegisters.commandQueueAddress(cbaser);
        long size = ItsRegisters.commandQueueSize(cbaser);
        GuestRam ram = vgic.ram();
        while (cwriter != creadr) {
            long at = queue + creadr;
            boolean readable;
            long w0 = 0;
            long w1 = 0;
            long w2 = 0;
            long w3 = 0;
            try {
                w0 = ram.readLong(at);
                w1 = ram.readLong(at + 8);
                w2 = ram.readLong(at + 16);
                w3 = ram.readLong(at + 24);
                readable = true;
            } catch (ErrnoException e) {
                readable = false;
            }
            if (readable) {
                lastOpcode = ItsCommand.opcode(w0);
                lastResult = commands.execute(w0, w1, w2, w3);
                commandsExecuted++;
            } else {
                commandsUnreadable++;
                if (!loggedUnreadable) {
                    loggedUnreadable = true;
                    LOG.log(System.Logger.Level.WARNING, "ITS: command at 0x{0} is not in guest memory; skipped"
                            + " (further ones are only counted)", Long.toHexString(at));
                }
            }
            creadr += COMMAND_SIZE;
            if (creadr == size) {
                creadr = 0;
            }
        }
    }

    // ---- Translation -------------------------------------------------------------------------------------

    /**
     * Finds the LPI for ({@code deviceId}, {@code eventId}) and caches the translation
     * ({@code vgic_its_resolve_lpi}); on success the LPI is left in {@link #resolved}.
     *
     * @return 0, {@code E_ITS_INT_UNMAPPED_INTERRUPT}, or {@code -EBUSY} when the ITS is disabled or the
     *     target vCPU has LPIs disabled
     */
    int resolve(long deviceId, long eventId) {
        if (!enabled) {
            return -Errno.EBUSY;
        }
        Ite e = tables.ite(deviceId, eventId);
        if (e == null || !ItsTables.mapped(e.collection)) {
            return ItsCommand.E_ITS_INT_UNMAPPED_INTERRUPT;
        }
        int vcpu = vgic.redistributors().index(e.collection.target);
        if (vcpu < 0) {
            return ItsCommand.E_ITS_INT_UNMAPPED_INTERRUPT;
        }
        if (!vgic.redistributors().lpisEnabledAt(vcpu)) {
            return -Errno.EBUSY;
        }
        e.cacheGeneration = cacheGeneration;
        resolved = e.lpi;
        return 0;
    }

    /** Makes the LPI for ({@code deviceId}, {@code eventId}) pending ({@code vgic_its_trigger_msi}). */
    int trigger(long deviceId, long eventId) {
        int rc = resolve(deviceId, eventId);
        if (rc != 0) {
            return rc;
        }
        resolved.pending = true;
        return 0;
    }

    /**
     * The translation-cache fast path of MSI injection ({@code vgic_its_inject_cached_translation}): if the
     * translation is cached, the LPI becomes pending with no further checks.
     */
    boolean injectCached(long deviceId, long eventId) {
        if (deviceId > 0xFFFF || eventId > 0xFFFF || deviceId < 0 || eventId < 0) {
            return false;
        }
        Ite e = tables.ite(deviceId, eventId);
        if (e == null || e.cacheGeneration != cacheGeneration) {
            return false;
        }
        e.lpi.pending = true;
        return true;
    }

    /** Whether a translation is cached for ({@code deviceId}, {@code eventId}). */
    boolean cached(long deviceId, long eventId) {
        Ite e = tables.ite(deviceId, eventId);
        return e != null && e.cacheGeneration == cacheGeneration;
    }

    /** Drops every cached translation of this ITS. */
    void invalidateCache() {
        cacheGeneration++;
    }

    /** Whether {@code address} falls in this ITS's 128 KiB frame. */
    boolean frameContains(long address) {
        return base != ADDR_UNDEF && Long.compareUnsigned(address - base, ItsRegisters.FRAME_SIZE) < 0;
    }

    // ---- Teardown ----------------------------------------------------------------------------------------

    /** Frees a device with its ITEs and flushes the cache ({@code vgic_its_free_device}). */
    void freeDevice(Device d) {
        tables.freeDevice(d);
        invalidateCache();
    }

    void freeAllDevices() {
        tables.freeAllDevices();
        invalidateCache();
    }

    /** {@code KVM_DEV_ARM_ITS_CTRL_RESET} ({@code vgic_its_reset}). */
    void reset() {
        baser0 &= ~VALID;
        baser1 &= ~VALID;
        cbaser = 0;
        creadr = 0;
        cwriter = 0;
        enabled = false;
        freeAllDevices();
        tables.freeAllCollections();
    }
}
