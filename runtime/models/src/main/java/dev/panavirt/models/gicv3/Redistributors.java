package dev.panavirt.models.gicv3;

import java.util.Arrays;

/**
 * The part of the GICv3 redistributors the ITS depends on, one per vCPU: {@code GICR_CTLR.EnableLPIs},
 * {@code GICR_PENDBASER}, and the VM-wide {@code GICR_PROPBASER} (KVM keeps one property table for the
 * whole VM). Also records which vCPUs are running, since KVM refuses ITS control and register attributes
 * while any vCPU is inside {@code KVM_RUN}.
 *
 * <p>Writes behave as KVM's redistributor handlers (vgic-mmio-v3.c): PROPBASER and PENDBASER are
 * sanitised and ignored while the writing vCPU has LPIs enabled; enabling LPIs loads the pending latches
 * of that vCPU's LPIs from its pending table unless PENDBASER.PTZ is set; disabling them invalidates every
 * ITS translation cache of the VM. The rest of the redistributor and the CPU interface (delivery,
 * acknowledge, priority masking) is not modelled: a pending, enabled LPI is simply "pending on its target".
 *
 * <p>vCPUs are named by their KVM vCPU id, which is what ITS collections target (GITS_TYPER.PTA = 0).
 */
public final class Redistributors {

    /** GICR_CTLR offset in the redistributor frame. */
    public static final int GICR_CTLR = 0x0000;
    /** GICR_PROPBASER offset in the redistributor frame. */
    public static final int GICR_PROPBASER = 0x0070;
    /** GICR_PENDBASER offset in the redistributor frame. */
    public static final int GICR_PENDBASER = 0x0078;

    /** GICR_CTLR.EnableLPIs. */
    public static final int CTLR_ENABLE_LPIS = 1;
    /** PROPBASER.IDbits: number of INTID bits minus one. */
    public static final long PROPBASER_IDBITS_MASK = 0x1F;
    /** PROPBASER and PENDBASER cacheability/shareability field positions. */
    public static final int BASER_SHAREABILITY_SHIFT = 10;
    public static final int BASER_INNER_CACHE_SHIFT = 7;
    public static final int BASER_OUTER_CACHE_SHIFT = 56;
    /** PROPBASER property table address, bits 51:12. */
    public static final long PROPBASER_ADDRESS_MASK = ItsRegisters.genmask(51, 12);
    /** PENDBASER pending table address, bits 51:16. */
    public static final long PENDBASER_ADDRESS_MASK = ItsRegisters.genmask(51, 16);
    /** PENDBASER.PTZ: the pending table is known to be zero; reads as 0. */
    public static final long PENDBASER_PTZ = 1L << 62;
    public static final long PROPBASER_RES0_MASK =
            ItsRegisters.genmask(63, 59) | ItsRegisters.genmask(55, 52) | ItsRegisters.genmask(6, 5);
    public static final long PENDBASER_RES0_MASK = 1L << 63 | ItsRegisters.genmask(61, 59)
            | ItsRegisters.genmask(55, 52) | ItsRegisters.genmask(15, 12) | ItsRegisters.genmask(6, 0);
    /** GICR_PROPBASER after an ITS is created: inner RaWb, outer same as inner, inner shareable, IDbits 0. */
    public static final long INITIAL_PROPBASER = (long) ItsRegisters.CACHE_RAWB << BASER_INNER_CACHE_SHIFT
            | (long) ItsRegisters.CACHE_SAME_AS_INNER << BASER_OUTER_CACHE_SHIFT
            | (long) ItsRegisters.SHARE_INNER << BASER_SHAREABILITY_SHIFT;

    private final Vgic vgic;
    private final int[] ids;
    private final long[] pendbaser;
    private final boolean[] lpisEnabled;
    private final boolean[] running;
    private long propbaser;

    Redistributors(Vgic vgic, int[] vcpuIds) {
        this.vgic = vgic;
        this.ids = vcpuIds.clone();
        Arrays.sort(ids);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || (i > 0 && ids[i] == ids[i - 1])) {
                throw new IllegalArgumentException("vCPU ids must be distinct and non-negative: "
                        + Arrays.toString(vcpuIds));
            }
        }
        pendbaser = new long[ids.length];
        lpisEnabled = new boolean[ids.length];
        running = new boolean[ids.length];
    }

    /** The vCPU ids, ascending. */
    public int[] vcpuIds() {
        return ids.clone();
    }

    /** Whether a vCPU with this id exists ({@code kvm_get_vcpu_by_id}). */
    public boolean hasVcpu(long id) {
        return index(id) >= 0;
    }

    int index(long id) {
        if (id < 0 || id > Integer.MAX_VALUE) {
            return -1;
        }
        int i = Arrays.binarySearch(ids, (int) id);
        return i >= 0 ? i : -1;
    }

    private int require(int vcpuId) {
        int i = index(vcpuId);
        if (i < 0) {
            throw new IllegalArgumentException("no vCPU with id " + vcpuId);
        }
        return i;
    }

    // ---- GICR_PROPBASER (VM-wide) --------------------------------------------------------------------

    /** The VM's GICR_PROPBASER. */
    public long propbaser() {
        synchronized (vgic.lock) {
            return propbaser;
        }
    }

    /**
     * A 64-bit write of GICR_PROPBASER through vCPU {@code vcpuId}'s redistributor: ignored while that vCPU
     * has LPIs enabled, otherwise sanitised and stored for the whole VM.
     */
    public void writePropbaser(int vcpuId, long value) {
        synchronized (vgic.lock) {
            if (lpisEnabled[require(vcpuId)]) {
                return;
            }
            long v = ItsRegisters.sanitiseAttributes(value, BASER_SHAREABILITY_SHIFT, BASER_INNER_CACHE_SHIFT,
                    BASER_OUTER_CACHE_SHIFT);
            propbaser = v & ~PROPBASER_RES0_MASK;
        }
    }

    /**
     * Back to a new VM's redistributors (see {@link Vgic#reset}): LPIs disabled, no pending table, no vCPU
     * running, and PROPBASER 0, or its initial value once the VM has an ITS.
     */
    void recreate(boolean hasIts) {
        Arrays.fill(pendbaser, 0);
        Arrays.fill(lpisEnabled, false);
        Arrays.fill(running, false);
        propbaser = hasIts ? INITIAL_PROPBASER : 0;
    }

    /** Sets PROPBASER as creating an ITS does. */
    void resetPropbaser() {
        propbaser = INITIAL_PROPBASER;
    }

    long propbaserAddress() {
        return propbaser & PROPBASER_ADDRESS_MASK;
    }

    /** One past the largest LPI INTID MAPTI/MAPI accept: {@code 2^min(IDbits + 1, 16)}. */
    long maxLpis() {
        int bits = (int) (propbaser & PROPBASER_IDBITS_MASK) + 1;
        return 1L << Math.min(bits, ItsRegisters.ID_BITS);
    }

    // ---- GICR_PENDBASER (per vCPU) -------------------------------------------------------------------

    /** GICR_PENDBASER of vCPU {@code vcpuId} as the guest reads it (PTZ reads as 0). */
    public long pendbaser(int vcpuId) {
        synchronized (vgic.lock) {
            return pendbaser[require(vcpuId)] & ~PENDBASER_PTZ;
        }
    }

    /** A 64-bit write of GICR_PENDBASER: ignored while the vCPU has LPIs enabled, otherwise sanitised. */
    public void writePendbaser(int vcpuId, long value) {
        synchronized (vgic.lock) {
            int i = require(vcpuId);
            if (lpisEnabled[i]) {
                return;
            }
            long v = ItsRegisters.sanitiseAttributes(value, BASER_SHAREABILITY_SHIFT, BASER_INNER_CACHE_SHIFT,
                    BASER_OUTER_CACHE_SHIFT);
            pendbaser[i] = v & ~PENDBASER_RES0_MASK & ~ItsRegisters.genmask(51, 48);
        }
    }

    long pendbaserAddress(int vcpuId) {
        return pendbaser[index(vcpuId)] & PENDBASER_ADDRESS_MASK;
    }

    // ---- GICR_CTLR.EnableLPIs ------------------------------------------------------------------------

    /** GICR_CTLR of vCPU {@code vcpuId}: {@link #CTLR_ENABLE_LPIS} or 0. */
    public int ctlr(int vcpuId) {
        synchronized (vgic.lock) {
            return lpisEnabled[require(vcpuId)] ? CTLR_ENABLE_LPIS : 0;
        }
    }

    /**
     * A write of GICR_CTLR: sets or clears EnableLPIs. Ignored while the VM has no ITS. Enabling loads the
     * pending latches of the vCPU's LPIs from its pending table (unless PTZ is set); disabling invalidates
     * every ITS translation cache.
     */
    public void writeCtlr(int vcpuId, int value) {
        synchronized (vgic.lock) {
            int i = require(vcpuId);
            if (!vgic.hasIts()) {
                return;
            }
            boolean enable = (value & CTLR_ENABLE_LPIS) != 0;
            if (enable == lpisEnabled[i]) {
                return;
            }
            lpisEnabled[i] = enable;
            if (enable) {
                if ((pendbaser[i] & PENDBASER_PTZ) == 0) {
                    vgic.lpis().syncPendingTable(vcpuId, pendbaser[i] & PENDBASER_ADDRESS_MASK);
                }
            } else {
                vgic.invalidateAllCaches();
            }
        }
    }

    /** Whether vCPU {@code vcpuId} has LPIs enabled ({@code vgic_lpis_enabled}). */
    public boolean lpisEnabled(int vcpuId) {
        synchronized (vgic.lock) {
            return lpisEnabled[require(vcpuId)];
        }
    }

    boolean lpisEnabledAt(int index) {
        return lpisEnabled[index];
    }

    // ---- Running vCPUs ---------------------------------------------------------------------------------

    /** vCPU {@code vcpuId} enters {@code KVM_RUN} (holds its vCPU mutex). */
    public void load(int vcpuId) {
        synchronized (vgic.lock) {
            running[require(vcpuId)] = true;
        }
    }

    /** vCPU {@code vcpuId} leaves {@code KVM_RUN}. */
    public void put(int vcpuId) {
        synchronized (vgic.lock) {
            running[require(vcpuId)] = false;
        }
    }

    /** Whether vCPU {@code vcpuId} is running. */
    public boolean isRunning(int vcpuId) {
        synchronized (vgic.lock) {
            return running[require(vcpuId)];
        }
    }

    /** Whether any vCPU is running, in which case {@code lock_all_vcpus} fails. */
    boolean anyRunning() {
        for (boolean r : running) {
            if (r) {
                return true;
            }
        }
        return false;
    }
}
