package dev.panavirt.models.gicv3;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.LongMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The VM's LPIs: one interrupt object per INTID, shared by every ITE (of any ITS) that maps that INTID and
 * freed when the last one goes ({@code vgic_add_lpi}, {@code vgic_put_irq}). Each holds the configuration
 * cached from the property table (priority, enable), the pending latch, and the target vCPU.
 *
 * <p>Objects are pooled, so mapping and unmapping at a steady rate does not allocate. Callers hold the
 * {@link Vgic} lock.
 */
final class Lpis {

    /** First LPI INTID ({@code GIC_LPI_OFFSET}). */
    static final long LPI_OFFSET = 8192;
    /** Target of an LPI whose collection is unmapped (a null {@code target_vcpu}). */
    static final int NO_VCPU = -1;
    /** Priority bits of a property-table byte. */
    static final int PROP_PRIORITY_MASK = 0xFC;
    /** Enable bit of a property-table byte. */
    static final int PROP_ENABLED = 1;

    /** One LPI ({@code struct vgic_irq} with an LPI INTID). */
    static final class Lpi {
        long intid;
        int refs;
        int target = NO_VCPU;
        int priority;
        boolean enabled;
        boolean pending;
        Lpi prev;
        Lpi next;
    }

    private final Vgic vgic;
    private final LongMap<Lpi> byIntid = new LongMap<>(64);
    private Lpi head;
    private Lpi tail;
    private Lpi free;
    /** The positive errno of the last {@link #add} that failed. */
    int error;

    Lpis(Vgic vgic) {
        this.vgic = vgic;
    }

    /** Drops every LPI into the pool (see {@link Vgic#reset}); the ITEs that held them are gone already. */
    void clear() {
        while (head != null) {
            Lpi l = head;
            head = l.next;
            l.prev = null;
            l.next = free;
            free = l;
        }
        tail = null;
        byIntid.clear();
        error = 0;
    }

    int count() {
        return byIntid.size();
    }

    Lpi find(long intid) {
        return byIntid.get(intid);
    }

    /** The first live LPI in creation order; continue with {@link Lpi#next}. */
    Lpi first() {
        return head;
    }

    /**
     * Takes a reference on LPI {@code intid}, creating it if needed ({@code vgic_add_lpi}). A new LPI targets
     * {@code target}, reads its configuration from the property table and, when it has a target, its pending
     * bit from that vCPU's pending table, consuming the bit. An existing LPI is shared unchanged.
     *
     * @return the LPI, or {@code null} with {@link #error} set when a guest-memory access failed
     */
    Lpi add(long intid, int target) {
        Lpi l = byIntid.get(intid);
        if (l != null) {
            l.refs++;
            return l;
        }
        l = free;
        if (l != null) {
            free = l.next;
        } else {
            l = new Lpi();
        }
        l.intid = intid;
        l.target = target;
        l.refs = 1;
        l.pending = false;
        l.enabled = false;
        l.priority = 0;
        int rc = updateConfig(l, NO_VCPU);
        if (rc == 0) {
            rc = syncPending(l);
        }
        if (rc != 0) {
            error = -rc;
            l.next = free;
            free = l;
            return null;
        }
        byIntid.put(intid, l);
        l.prev = tail;
        l.next = null;
        if (tail == null) {
            head = l;
        } else {
            tail.next = l;
        }
        tail = l;
        return l;
    }

    /** Drops a reference; the LPI disappears with the last one. */
    void put(Lpi l) {
        if (--l.refs > 0) {
            return;
        }
        byIntid.remove(l.intid);
        if (l.prev == null) {
            head = l.next;
        } else {
            l.prev.next = l.next;
        }
        if (l.next == null) {
            tail = l.prev;
        } else {
            l.next.prev = l.prev;
        }
        l.prev = null;
        l.next = free;
        free = l;
    }

    /**
     * Re-reads the property byte of {@code l} ({@code update_lpi_config}). The byte is always read; it is
     * applied only if {@code filterVcpu} is {@link #NO_VCPU} (no filter) or the LPI's target.
     *
     * @return 0, or {@code -EFAULT} if the byte is not backed
     */
    int updateConfig(Lpi l, int filterVcpu) {
        long prop = vgic.redistributors().propbaserAddress() + l.intid - LPI_OFFSET;
        int b;
        try {
            b = vgic.ram().readByte(prop);
        } catch (ErrnoException e) {
            return -e.errno();
        }
        if (filterVcpu == NO_VCPU || filterVcpu == l.target) {
            l.priority = b & PROP_PRIORITY_MASK;
            l.enabled = (b & PROP_ENABLED) != 0;
        }
        return 0;
    }

    /**
     * Loads the pending bit of a new LPI from its target's pending table and clears the bit there
     * ({@code vgic_v3_lpi_sync_pending_status}); nothing to do without a target.
     */
    private int syncPending(Lpi l) {
        if (l.target == NO_VCPU) {
            return 0;
        }
        long ptr = vgic.redistributors().pendbaserAddress(l.target) + (l.intid >>> 3);
        int bit = 1 << (int) (l.intid & 7);
        try {
            int v = vgic.ram().readByte(ptr);
            l.pending = (v & bit) != 0;
            if (l.pending) {
                vgic.ram().writeByte(ptr, v & ~bit);
            }
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    /** INVALL for one vCPU ({@code vgic_its_invall}): refresh every LPI that targets {@code vcpu}. */
    void invall(int vcpu) {
        for (Lpi l = head; l != null; l = l.next) {
            updateConfig(l, vcpu);
        }
    }

    /** MOVALL: every LPI of the VM now targets {@code vcpu} (the source is not filtered). */
    void retargetAll(int vcpu) {
        for (Lpi l = head; l != null; l = l.next) {
            l.target = vcpu;
        }
    }

    /**
     * Loads the pending latch of every LPI targeting {@code vcpu} from that vCPU's pending table, as enabling
     * LPIs does ({@code its_sync_lpi_pending_table}). Stops at the first unreadable byte.
     */
    void syncPendingTable(int vcpu, long pendbase) {
        for (Lpi l = head; l != null; l = l.next) {
            if (l.target != vcpu) {
                continue;
            }
            try {
                int v = vgic.ram().readByte(pendbase + (l.intid >>> 3));
                l.pending = (v & (1 << (int) (l.intid & 7))) != 0;
            } catch (ErrnoException e) {
                return;
            }
        }
    }

    /** Snapshot of every LPI, by INTID. */
    List<LpiState> snapshot() {
        List<LpiState> out = new ArrayList<>();
        for (Lpi l = head; l != null; l = l.next) {
            out.add(view(l));
        }
        out.sort(Comparator.comparingLong(LpiState::intid));
        return out;
    }

    static LpiState view(Lpi l) {
        return new LpiState(l.intid, l.priority, l.enabled, l.pending, l.target, l.refs);
    }
}
