package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.DirtyRing;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.kvm.Vcpu;
import dev.panavirt.kvm.Vm;
import dev.panavirt.bindings.kvm.kvm_h;
import java.util.List;

/**
 * Dirty pages from the per-vCPU dirty rings ({@code KVM_CAP_DIRTY_LOG_RING}): every vCPU's published
 * entries are collected, then {@code KVM_RESET_DIRTY_RINGS} re-protects them. The VM must have been created
 * with {@link Vm#enableDirtyRing(int)} before its vCPUs. A vCPU whose ring fills exits with
 * {@code KVM_EXIT_DIRTY_RING_FULL} and must wait for the next harvest before it re-enters
 * (Documentation/virt/kvm/api.rst, "KVM_CAP_DIRTY_LOG_RING"): the ring throttles a guest that dirties
 * faster than the migration harvests.
 *
 * <p>KVM keeps some entries in reserve above the point where it stops the vCPU ("soft full"), so a ring whose
 * every entry is published has reached its hard limit, where virt/kvm/dirty_ring.c ({@code kvm_dirty_ring_push})
 * warns and writes over an entry not yet harvested. A harvest that finds a ring in that state throws
 * {@link DirtyPagesLostException} rather than carry on with a report that may miss a page. (The paravirtual
 * KVM of some hosts gets there: it runs guest instructions in batches that push past the reserve; the
 * migration tests found it by the pages that differed.)
 */
public final class DirtyRingSource implements DirtySource {
    private final Vm vm;
    private final List<MemoryRegion> ram;
    /** The vCPUs and their rings, taken at {@link #start()}: a harvest then allocates nothing. */
    private Vcpu[] vcpus = new Vcpu[0];
    private DirtyRing[] rings = new DirtyRing[0];

    /** Tracks {@code ram} (regions of {@code vm}) through the rings of {@code vm}'s vCPUs. */
    public DirtyRingSource(Vm vm, List<MemoryRegion> ram) {
        this.vm = vm;
        this.ram = List.copyOf(ram);
    }

    @Override
    public String name() {
        return "dirty-ring";
    }

    /**
     * Sets {@code KVM_MEM_LOG_DIRTY_PAGES} on every tracked slot that lacks it and drops what the rings held
     * before (the first round copies every page anyway).
     *
     * @throws IllegalStateException when a vCPU has no dirty ring
     */
    @Override
    public void start() throws ErrnoException {
        vcpus = vm.vcpus().toArray(new Vcpu[0]);
        rings = new DirtyRing[vcpus.length];
        for (int i = 0; i < vcpus.length; i++) {
            Vcpu v = vcpus[i];
            rings[i] = v.dirtyRing().orElseThrow(() -> new IllegalStateException("vcpu " + v.id()
                    + " has no dirty ring: enable it before creating vCPUs"));
        }
        int log = (int) kvm_h.KVM_MEM_LOG_DIRTY_PAGES();
        for (MemoryRegion r : ram) {
            int flags = vm.memory().region(r.slot()).orElseThrow().flags();
            if ((flags & log) == 0) {
                vm.setMemoryFlags(r.slot(), flags | log);
            }
        }
        for (DirtyRing ring : rings) {
            ring.harvest((slot, page) -> { });
        }
        vm.resetDirtyRings();
    }

    /** Harvests every ring taken at {@link #start()} (vCPUs created later are not tracked), then resets them. */
    @Override
    public long harvest(DirtyPages into) throws ErrnoException {
        long n = 0;
        for (int i = 0; i < rings.length; i++) {
            DirtyRing ring = rings[i];
            int taken = ring.harvest(into);
            if (taken == ring.capacity()) {
                vm.resetDirtyRings();
                throw new DirtyPagesLostException(name(), "the ring of vcpu " + vcpus[i].id() + " was full ("
                        + taken + " entries): KVM went past its soft limit and may have overwritten entries");
            }
            n += taken;
        }
        vm.resetDirtyRings();
        return n;
    }
}
