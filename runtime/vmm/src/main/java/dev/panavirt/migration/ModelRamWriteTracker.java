package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.kvm.MemoryRegion;
import java.util.List;
import java.util.Objects;

/**
 * The guest pages an interrupt-controller model writes (the GICv3 ITS model's saved tables, its command results), as a
 * {@link DirtySource}: the model reaches guest memory only through the {@link GuestRam} it was built with, so this
 * wraps that memory and marks, after each write lands, the page behind every written byte. A model runs in user
 * space, so KVM's dirty log never sees these writes; the in-kernel ITS writes its tables with {@code kvm_write_guest}
 * ({@code arch/arm64/kvm/vgic/vgic-its.c}, {@code vgic_its_save_tables_v0} through {@code vgic_write_guest_lock}),
 * which marks the pages in the dirty log itself, and with a dirty ring in the backup bitmap
 * ({@code KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP}, {@code Documentation/virt/kvm/api.rst}). Either way the pages must be
 * harvested after {@code KVM_DEV_ARM_ITS_SAVE_TABLES}: see {@link ItsMigrationState#saveTables}.
 *
 * <p>Writes outside the regions given at creation pass through unmarked. Thread-safe; a write or a harvest allocates
 * nothing.
 */
public final class ModelRamWriteTracker implements GuestRam, DirtySource {
    private final GuestRam ram;
    private final PageWriteBitmap written;
    private volatile boolean tracking;

    /**
     * @param ram     the memory the model writes through (guest-physical addresses)
     * @param regions the migrated guest RAM, whose addresses and sizes bound what is tracked
     */
    public ModelRamWriteTracker(GuestRam ram, List<MemoryRegion> regions) {
        this.ram = Objects.requireNonNull(ram, "ram");
        long[] gpas = new long[regions.size()], sizes = new long[regions.size()];
        for (int i = 0; i < gpas.length; i++) {
            gpas[i] = regions.get(i).guestPhysAddr();
            sizes[i] = regions.get(i).size();
        }
        written = new PageWriteBitmap(gpas, sizes, gpas);      // the model writes by guest-physical address
    }

    @Override
    public boolean isMapped(long gpa) {
        return ram.isMapped(gpa);
    }

    @Override
    public int readByte(long gpa) throws ErrnoException {
        return ram.readByte(gpa);
    }

    @Override
    public long readLong(long gpa) throws ErrnoException {
        return ram.readLong(gpa);
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) throws ErrnoException {
        ram.read(gpa, dst, offset, length);
    }

    @Override
    public void writeByte(long gpa, int value) throws ErrnoException {
        ram.writeByte(gpa, value);
        mark(gpa, 1);
    }

    @Override
    public void writeLong(long gpa, long value) throws ErrnoException {
        ram.writeLong(gpa, value);
        mark(gpa, 8);
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) throws ErrnoException {
        ram.write(gpa, src, offset, length);
        mark(gpa, length);
    }

    private void mark(long gpa, long length) {
        if (tracking && length > 0) {
            written.mark(gpa, length);
        }
    }

    @Override
    public String name() {
        return "model-writes";
    }

    @Override
    public void start() {
        tracking = true;
    }

    @Override
    public long harvest(DirtyPages into) {
        return written.harvest(into);
    }

    @Override
    public void close() {
        tracking = false;
    }
}
