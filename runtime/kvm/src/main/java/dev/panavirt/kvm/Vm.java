package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.x86_64.kvm_clear_dirty_log;
import dev.panavirt.bindings.kvm.x86_64.kvm_clock_data;
import dev.panavirt.bindings.kvm.x86_64.kvm_create_device;
import dev.panavirt.bindings.kvm.x86_64.kvm_dirty_log;
import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_ioeventfd;
import dev.panavirt.bindings.kvm.x86_64.kvm_irq_level;
import dev.panavirt.bindings.kvm.x86_64.kvm_irqfd;
import dev.panavirt.bindings.kvm.x86_64.kvm_msi;
import dev.panavirt.bindings.kvm.x86_64.kvm_pit_config;
import dev.panavirt.bindings.kvm.x86_64.kvm_userspace_memory_region2;
import dev.panavirt.bindings.kvm.x86_64.kvm_userspace_memory_region;
import dev.panavirt.fd.EventFd;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtual machine: a KVM VM file descriptor, the guest memory it owns, and its vCPUs and devices.
 * Closing the VM closes its vCPUs and devices, then the VM fd, then unmaps guest memory.
 *
 * {@snippet :
 * try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
 *     MemoryRegion ram = vm.addMemory(0, 0, 2 << 20, 0);
 *     vm.memory().write(0x1000, new byte[] {(byte) 0xf4});   // hlt
 *     try (Vcpu cpu = vm.createVcpu(0)) {
 *         // set registers, then cpu.run()
 *     }
 * }
 * }
 */
public final class Vm implements AutoCloseable {
    private final Kvm kvm;
    private final Fd fd;
    private final Arena arena = Arena.ofShared();
    /** The arena of each slot {@link #addMemory} mapped, by slot: closing one unmaps that slot's memory. */
    private final java.util.Map<Integer, Arena> slotArenas = new java.util.HashMap<>();
    private final GuestMemory memory = new GuestMemory();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final boolean memslotV2;
    private volatile int dirtyRingBytes;
    private volatile boolean closed;

    /** Takes {@code fd}; closes it when the capability check fails, so a failed VM leaves no descriptor. */
    Vm(Kvm kvm, Fd fd) throws ErrnoException {
        this.kvm = kvm;
        this.fd = fd;
        try {
            this.memslotV2 = checkExtension(Cap.USER_MEMORY2) > 0;
        } catch (ErrnoException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * The VM descriptor number, for callers that issue ioctls panavirt does not wrap; valid until {@link #close}.
     *
     * @throws IllegalStateException after {@link #close}
     */
    public int rawFd() {
        return fd.raw();
    }

    /** The system this VM was created from. */
    public Kvm kvm() {
        return kvm;
    }

    /** Guest-physical memory owned by this VM. */
    public GuestMemory memory() {
        return memory;
    }

    /** Whether memory slots are set through {@code KVM_SET_USER_MEMORY_REGION2}. */
    public boolean usesMemslotV2() {
        return memslotV2;
    }

    /** Wraps {@code KVM_CHECK_EXTENSION} on the VM fd (answers can differ from the system fd's). */
    public int checkExtension(Cap cap) throws ErrnoException {
        int rc = Ioctl.raw(Scratch.capture(), fd, kvm_h.KVM_CHECK_EXTENSION(), cap.number());
        if (rc < 0) {
            throw Ioctl.failure(fd, "KVM_CHECK_EXTENSION", -rc, kvm_h.KVM_CHECK_EXTENSION(), "capability " + cap);
        }
        return rc;
    }

    // ---- memory slots ----

    /**
     * Maps {@code size} bytes of anonymous shared memory and registers it as slot {@code slot} at
     * {@code guestPhysAddr}. The memory belongs to the VM: it is unmapped by {@link #removeMemory} or when the
     * VM closes, and also when registering the slot fails.
     *
     * @param flags {@code KVM_MEM_LOG_DIRTY_PAGES} and/or {@code KVM_MEM_READONLY}
     * @throws ErrnoException EEXIST/EINVAL when the slot overlaps another or is misaligned
     */
    public MemoryRegion addMemory(int slot, long guestPhysAddr, long size, int flags) throws ErrnoException {
        return addMemory(slot, guestPhysAddr, size, flags, false);
    }

    /**
     * Like {@link #addMemory(int, long, long, int)}; with {@code memfd} the memory is a
     * {@code memfd_create} file (shareable with other processes) rather than anonymous memory.
     */
    public MemoryRegion addMemory(int slot, long guestPhysAddr, long size, int flags, boolean memfd)
            throws ErrnoException {
        ensureOpen();
        if (size <= 0 || (size & (Mmap.PAGE_SIZE - 1)) != 0 || (guestPhysAddr & (Mmap.PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("memory slot must be page-aligned and non-empty: gpa 0x"
                    + Long.toHexString(guestPhysAddr) + " size 0x" + Long.toHexString(size));
        }
        if (memory.region(slot).isPresent()) {
            throw new IllegalArgumentException("slot " + slot + " is already in use; remove it first");
        }
        // Each slot's mapping has an arena of its own, so removing the slot can unmap it; a shared arena, so
        // closing it invalidates every segment of the memory on every thread instead of leaving them dangling.
        Arena slotArena = Arena.ofShared();
        try {
            MemorySegment host = memfd ? mapMemfd(slotArena, slot, size)
                    : Mmap.map(slotArena, size, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_SHARED | Libc.MAP_NORESERVE, null, 0, "guest memory slot " + slot);
            setUserMemoryRegion(slot, flags, guestPhysAddr, size, host.address());
            MemoryRegion r = new MemoryRegion(slot, guestPhysAddr, size, flags, host);
            synchronized (slotArenas) {
                slotArenas.put(slot, slotArena);
            }
            memory.add(r);
            return r;
        } catch (ErrnoException | RuntimeException e) {
            slotArena.close();
            throw e;
        }
    }

    private static MemorySegment mapMemfd(Arena arena, int slot, long size) throws ErrnoException {
        int raw;
        try (Arena a = Arena.ofConfined()) {
            raw = Libc.memfdCreate(Scratch.capture(), a.allocateFrom("panavirt-slot-" + slot),
                    Libc.MFD_CLOEXEC);
        }
        if (raw < 0) {
            throw new ErrnoException("memfd_create", -raw, "slot " + slot);
        }
        try (Fd memfd = Fd.adopt(raw, "memfd slot " + slot)) {
            int rc = Libc.ftruncate(Scratch.capture(), memfd.raw(), size);
            if (rc < 0) {
                throw new ErrnoException("ftruncate", -rc, size + " bytes for slot " + slot);
            }
            // The mapping keeps the file alive after the descriptor closes.
            return Mmap.map(arena, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, memfd, 0,
                    "guest memory slot " + slot);
        }
    }

    /**
     * Removes a slot this VM added and unmaps its memory. KVM stops using the slot before
     * {@code KVM_SET_USER_MEMORY_REGION} returns (vCPUs see the new memslot set from their next access), and
     * every segment of the memory ({@link MemoryRegion#memory()}, slices from {@link GuestMemory}) becomes
     * unusable on every thread: an access throws {@link IllegalStateException}, never reaches freed memory.
     *
     * @throws IllegalArgumentException when the VM did not add this slot
     * @throws ErrnoException when the kernel refuses the deletion (the slot and its memory then stay)
     */
    public void removeMemory(int slot) throws ErrnoException {
        MemoryRegion r = memory.region(slot)
                .orElseThrow(() -> new IllegalArgumentException("slot " + slot + " is not owned by this VM"));
        setUserMemoryRegion(slot, 0, r.guestPhysAddr(), 0, 0);
        memory.remove(slot);
        Arena slotArena;
        synchronized (slotArenas) {
            slotArena = slotArenas.remove(slot);
        }
        slotArena.close();
    }

    /**
     * Wraps {@code KVM_SET_USER_MEMORY_REGION2} (or {@code KVM_SET_USER_MEMORY_REGION} when the kernel lacks
     * {@link Cap#USER_MEMORY2}). Size 0 deletes the slot.
     *
     * <p>Caller must keep {@code userspaceAddr .. + size} mapped for as long as the slot exists; prefer
     * {@link #addMemory}, which ties the memory's lifetime to the VM.
     */
    public void setUserMemoryRegion(int slot, int flags, long guestPhysAddr, long size, long userspaceAddr)
            throws ErrnoException {
        String detail = "slot " + slot + " flags 0x" + Integer.toHexString(flags) + " gpa 0x"
                + Long.toHexString(guestPhysAddr) + " size 0x" + Long.toHexString(size);
        try (Arena a = Arena.ofConfined()) {
            if (memslotV2) {
                MemorySegment m = kvm_userspace_memory_region2.allocate(a);
                kvm_userspace_memory_region2.slot(m, slot);
                kvm_userspace_memory_region2.flags(m, flags);
                kvm_userspace_memory_region2.guest_phys_addr(m, guestPhysAddr);
                kvm_userspace_memory_region2.memory_size(m, size);
                kvm_userspace_memory_region2.userspace_addr(m, userspaceAddr);
                Ioctl.call(fd, "KVM_SET_USER_MEMORY_REGION2", kvm_h.KVM_SET_USER_MEMORY_REGION2(), m, detail);
            } else {
                MemorySegment m = kvm_userspace_memory_region.allocate(a);
                kvm_userspace_memory_region.slot(m, slot);
                kvm_userspace_memory_region.flags(m, flags);
                kvm_userspace_memory_region.guest_phys_addr(m, guestPhysAddr);
                kvm_userspace_memory_region.memory_size(m, size);
                kvm_userspace_memory_region.userspace_addr(m, userspaceAddr);
                Ioctl.call(fd, "KVM_SET_USER_MEMORY_REGION", kvm_h.KVM_SET_USER_MEMORY_REGION(), m, detail);
            }
        }
    }

    /**
     * Changes the flags of a slot this VM owns (for example to start or stop dirty logging), keeping its
     * memory and contents.
     */
    public MemoryRegion setMemoryFlags(int slot, int flags) throws ErrnoException {
        MemoryRegion r = memory.region(slot)
                .orElseThrow(() -> new IllegalArgumentException("slot " + slot + " is not owned by this VM"));
        setUserMemoryRegion(slot, flags, r.guestPhysAddr(), r.size(), r.memory().address());
        MemoryRegion next = new MemoryRegion(slot, r.guestPhysAddr(), r.size(), flags, r.memory());
        memory.remove(slot);
        memory.add(next);
        return next;
    }

    // ---- vCPUs ----

    /**
     * Wraps {@code KVM_CREATE_VCPU} and maps its {@code kvm_run} area (and the dirty ring, when
     * {@link #enableDirtyRing(int)} was called).
     *
     * @throws ErrnoException EEXIST for an id in use, EINVAL for an id past the maximum
     */
    public Vcpu createVcpu(int id) throws ErrnoException {
        ensureOpen();
        int raw = Ioctl.call(fd, "KVM_CREATE_VCPU", kvm_h.KVM_CREATE_VCPU(), id, "vcpu id " + id);
        Fd vfd = Fd.adopt(raw, "kvm-vcpu:" + id);
        try {
            Vcpu v = new Vcpu(this, vfd, id, arena, kvm.vcpuMmapSize(), dirtyRingBytes);
            synchronized (vcpus) {
                vcpus.add(v);
            }
            return v;
        } catch (ErrnoException | RuntimeException e) {
            vfd.close();
            throw e;
        }
    }

    /** The vCPUs created so far. */
    public List<Vcpu> vcpus() {
        synchronized (vcpus) {
            return List.copyOf(vcpus);
        }
    }

    // ---- interrupt controllers and lines ----

    /** Wraps {@code KVM_CREATE_IRQCHIP}: in-kernel PIC, IOAPIC and local APICs (x86). Before any vCPU. */
    public void createIrqchip() throws ErrnoException {
        Ioctl.call(fd, "KVM_CREATE_IRQCHIP", kvm_h.KVM_CREATE_IRQCHIP());
    }

    /** Wraps {@code KVM_CREATE_PIT2}: the in-kernel i8254 timer. */
    public void createPit2(int flags) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_pit_config.allocate(a);
            kvm_pit_config.flags(c, flags);
            Ioctl.call(fd, "KVM_CREATE_PIT2", kvm_h.KVM_CREATE_PIT2(), c, "flags " + flags);
        }
    }

    /** Wraps {@code KVM_SET_TSS_ADDR} (x86, needed before running a guest on Intel hosts). */
    public void setTssAddr(long addr) throws ErrnoException {
        Ioctl.call(fd, "KVM_SET_TSS_ADDR", kvm_h.KVM_SET_TSS_ADDR(), addr, "addr 0x" + Long.toHexString(addr));
    }

    /** Wraps {@code KVM_IRQ_LINE}: drives GSI {@code irq} to {@code level} (1 = asserted). */
    public void setIrqLine(int irq, boolean level) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment l = kvm_irq_level.allocate(a);
            kvm_irq_level.irq(l, irq);
            kvm_irq_level.level(l, level ? 1 : 0);
            Ioctl.call(fd, "KVM_IRQ_LINE", kvm_h.KVM_IRQ_LINE(), l, "irq " + irq + " level " + (level ? 1 : 0));
        }
    }

    /**
     * Wraps {@code KVM_IRQFD}: a write to {@code event} injects GSI {@code gsi} without a VM exit.
     *
     * @param resample when not null, KVM signals it when the guest EOIs a level-triggered interrupt
     *                 ({@code KVM_IRQFD_FLAG_RESAMPLE})
     */
    public void registerIrqfd(EventFd event, int gsi, EventFd resample) throws ErrnoException {
        irqfd(event, gsi, resample, 0);
    }

    /** Removes an irqfd registered with {@link #registerIrqfd} ({@code KVM_IRQFD_FLAG_DEASSIGN}). */
    public void unregisterIrqfd(EventFd event, int gsi) throws ErrnoException {
        irqfd(event, gsi, null, kvm_h.KVM_IRQFD_FLAG_DEASSIGN());
    }

    private void irqfd(EventFd event, int gsi, EventFd resample, int flags) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = kvm_irqfd.allocate(a);
            kvm_irqfd.fd(s, event.rawFd());
            kvm_irqfd.gsi(s, gsi);
            if (resample != null) {
                flags |= kvm_h.KVM_IRQFD_FLAG_RESAMPLE();
                kvm_irqfd.resamplefd(s, resample.rawFd());
            }
            kvm_irqfd.flags(s, flags);
            Ioctl.call(fd, "KVM_IRQFD", kvm_h.KVM_IRQFD(), s, "gsi " + gsi + " flags 0x" + Integer.toHexString(flags));
        }
    }

    /**
     * Wraps {@code KVM_IOEVENTFD}: a guest write of {@code length} bytes to {@code address} that
     * {@code datamatch} accepts signals {@code event} instead of exiting to user space.
     *
     * @param length 1, 2, 4 or 8 bytes (0 for any length on MMIO, where {@code Cap.IOEVENTFD_ANY_LENGTH} says so)
     * @throws ErrnoException EINVAL for a length or flag combination the kernel refuses; EEXIST when the same
     *         address, length and datamatch are registered already; ENOSPC when the I/O bus is full
     */
    public void registerIoeventfd(EventFd event, IoEventAddress address, int length, Datamatch datamatch)
            throws ErrnoException {
        ioeventfd(event, address, length, datamatch, 0);
    }

    /**
     * Removes an ioeventfd registered with the same arguments.
     *
     * @throws ErrnoException ENOENT when no such registration exists
     */
    public void unregisterIoeventfd(EventFd event, IoEventAddress address, int length, Datamatch datamatch)
            throws ErrnoException {
        ioeventfd(event, address, length, datamatch, kvm_h.KVM_IOEVENTFD_FLAG_DEASSIGN());
    }

    private void ioeventfd(EventFd event, IoEventAddress address, int length, Datamatch datamatch, int flags)
            throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = kvm_ioeventfd.allocate(a);
            long addr = switch (address) {
                case IoEventAddress.Pio p -> {
                    flags |= kvm_h.KVM_IOEVENTFD_FLAG_PIO();
                    yield p.port();
                }
                case IoEventAddress.Mmio m -> m.address();
            };
            kvm_ioeventfd.addr(s, addr);
            kvm_ioeventfd.len(s, length);
            kvm_ioeventfd.fd(s, event.rawFd());
            if (datamatch instanceof Datamatch.Value v) {
                flags |= kvm_h.KVM_IOEVENTFD_FLAG_DATAMATCH();
                kvm_ioeventfd.datamatch(s, v.value());
            }
            kvm_ioeventfd.flags(s, flags);
            Ioctl.call(fd, "KVM_IOEVENTFD", kvm_h.KVM_IOEVENTFD(), s, (address instanceof IoEventAddress.Pio
                    ? "port 0x" : "mmio 0x") + Long.toHexString(addr) + " len " + length + " flags 0x"
                    + Integer.toHexString(flags));
        }
    }

    /** Wraps {@code KVM_SET_GSI_ROUTING}: replaces the whole GSI routing table. */
    public void setGsiRouting(List<GsiRoute> routes) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment table = GsiRoute.encode(routes, a);
            Ioctl.call(fd, "KVM_SET_GSI_ROUTING", kvm_h.KVM_SET_GSI_ROUTING(), table, routes.size() + " routes");
        }
    }

    /**
     * Wraps {@code KVM_SIGNAL_MSI}.
     *
     * @return &gt; 0 when delivered, 0 when the guest blocked it
     * @throws ErrnoException ENOTTY or EINVAL without an in-kernel irqchip that takes MSIs; EINVAL for a
     *         device id where the VM translates none, or none where it must (an arm64 ITS); ENODEV when no ITS
     *         answers at the doorbell
     */
    public int signalMsi(Msi msi) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = kvm_msi.allocate(a);
            kvm_msi.address_lo(m, (int) msi.address());
            kvm_msi.address_hi(m, (int) (msi.address() >>> 32));
            kvm_msi.data(m, msi.data());
            if (msi.deviceId().isPresent()) {
                kvm_msi.flags(m, kvm_h.KVM_MSI_VALID_DEVID());
                kvm_msi.devid(m, msi.deviceId().getAsInt());
            }
            return Ioctl.call(fd, "KVM_SIGNAL_MSI", kvm_h.KVM_SIGNAL_MSI(), m,
                    "address 0x" + Long.toHexString(msi.address()) + " data 0x" + Integer.toHexString(msi.data()));
        }
    }

    // ---- capabilities ----

    /**
     * Wraps {@code KVM_ENABLE_CAP} on the VM fd with up to four arguments.
     *
     * @throws ErrnoException EINVAL when the capability cannot be enabled on a VM or refuses its arguments
     *         (for example a dirty ring size that is not a power of two), EBUSY when it must be enabled before
     *         vCPUs or memory slots exist and they already do
     */
    public void enableCap(Cap cap, long... args) throws ErrnoException {
        EnableCap.call(fd, cap, args, "");
    }

    // ---- dirty tracking ----

    /**
     * Wraps {@code KVM_GET_DIRTY_LOG}: one bit per 4 KiB page of the slot, set for pages written since the
     * last call (or since {@link #clearDirtyLog} with manual protection).
     */
    public long[] getDirtyLog(int slot) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bitmap = a.allocate(dirtyBitmapBytes(slot), 8);
            getDirtyLog(slot, bitmap);
            return bitmap.toArray(ValueLayout.JAVA_LONG);
        }
    }

    /** Bytes of the dirty bitmap of a slot this VM owns: one bit per page, in whole 64-bit words. */
    public long dirtyBitmapBytes(int slot) {
        MemoryRegion r = memory.regionOrNull(slot);
        if (r == null) {
            throw new IllegalArgumentException("slot " + slot + " is not owned by this VM");
        }
        return (r.pages() + 63) / 64 * 8;
    }

    /**
     * {@code KVM_GET_DIRTY_LOG} into a caller-owned bitmap of at least {@link #dirtyBitmapBytes(int)}
     * bytes; allocates nothing, for dirty-tracking loops.
     */
    public void getDirtyLog(int slot, MemorySegment bitmap) throws ErrnoException {
        if (bitmap.byteSize() < dirtyBitmapBytes(slot)) {
            throw new IllegalArgumentException("dirty bitmap of slot " + slot + " needs " + dirtyBitmapBytes(slot)
                    + " bytes, segment has " + bitmap.byteSize());
        }
        MemorySegment d = Scratch.current().buffer();
        kvm_dirty_log.slot(d, slot);
        kvm_dirty_log.padding1(d, 0);
        kvm_dirty_log.dirty_bitmap(d, bitmap);
        int rc = Ioctl.raw(Scratch.capture(), fd, GET_DIRTY_LOG, d);
        java.lang.ref.Reference.reachabilityFence(bitmap);
        if (rc < 0) {
            throw Ioctl.failure(fd, "KVM_GET_DIRTY_LOG", -rc, GET_DIRTY_LOG, "slot " + slot);
        }
    }

    private static final long GET_DIRTY_LOG = kvm_h.KVM_GET_DIRTY_LOG();

    /**
     * Enables {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}: {@link #getDirtyLog} no longer re-protects pages;
     * {@link #clearDirtyLog} does, for the pages the caller names.
     */
    public void enableManualDirtyLogProtect(boolean initiallySet) throws ErrnoException {
        long mode = kvm_h.KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE()
                | (initiallySet ? kvm_h.KVM_DIRTY_LOG_INITIALLY_SET() : 0);
        enableCap(Cap.MANUAL_DIRTY_LOG_PROTECT2, mode);
    }

    /**
     * Wraps {@code KVM_CLEAR_DIRTY_LOG}: clears (and write-protects again) the pages whose bits are set in
     * {@code bitmap}, which covers pages {@code firstPage .. firstPage + numPages}. {@code firstPage} must
     * be a multiple of 64.
     */
    public void clearDirtyLog(int slot, long firstPage, int numPages, long[] bitmap) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bits = a.allocateFrom(ValueLayout.JAVA_LONG, bitmap);
            MemorySegment c = kvm_clear_dirty_log.allocate(a);
            kvm_clear_dirty_log.slot(c, slot);
            kvm_clear_dirty_log.num_pages(c, numPages);
            kvm_clear_dirty_log.first_page(c, firstPage);
            kvm_clear_dirty_log.dirty_bitmap(c, bits);
            Ioctl.call(fd, "KVM_CLEAR_DIRTY_LOG", kvm_h.KVM_CLEAR_DIRTY_LOG(), c,
                    "slot " + slot + " pages " + firstPage + "+" + numPages);
        }
    }

    /**
     * Enables the per-vCPU dirty ring with {@code bytes} per ring (a power of two, at most
     * {@code checkExtension(Cap.DIRTY_LOG_RING)}); must precede {@link #createVcpu}. Uses the
     * acquire/release flavour when the kernel has it.
     */
    public void enableDirtyRing(int bytes) throws ErrnoException {
        if (!vcpus().isEmpty()) {
            throw new IllegalStateException("the dirty ring must be enabled before any vCPU is created");
        }
        Cap cap = checkExtension(Cap.DIRTY_LOG_RING_ACQ_REL) > 0 ? Cap.DIRTY_LOG_RING_ACQ_REL : Cap.DIRTY_LOG_RING;
        enableCap(cap, bytes);
        dirtyRingBytes = bytes;
    }

    /** Wraps {@code KVM_RESET_DIRTY_RINGS}: re-protects every harvested entry; returns how many. */
    public int resetDirtyRings() throws ErrnoException {
        return Ioctl.call(fd, "KVM_RESET_DIRTY_RINGS", kvm_h.KVM_RESET_DIRTY_RINGS());
    }

    // ---- devices ----

    /**
     * Wraps {@code KVM_CREATE_DEVICE}.
     *
     * @throws ErrnoException ENODEV when this host's KVM lacks the type; EEXIST for a second instance of a
     *         device the VM can have only once (e.g. the VGIC)
     */
    public KernelDevice createDevice(DeviceType type) throws ErrnoException {
        return createDevice(type.value());
    }

    /** {@link #supportsDevice(int)} for a known type. */
    public boolean supportsDevice(DeviceType type) throws ErrnoException {
        return supportsDevice(type.value());
    }

    /**
     * Wraps {@code KVM_CREATE_DEVICE} for a type number {@link DeviceType} does not list.
     *
     * @param type a {@code KVM_DEV_TYPE_*} value
     * @throws ErrnoException ENODEV when this host's KVM lacks the type
     */
    public KernelDevice createDevice(int type) throws ErrnoException {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_create_device.allocate(a);
            kvm_create_device.type(c, type);
            Ioctl.call(fd, "KVM_CREATE_DEVICE", kvm_h.KVM_CREATE_DEVICE(), c, "type " + type);
            KernelDevice d = new KernelDevice(Fd.adopt(kvm_create_device.fd(c), "kvm-device:" + type), type);
            synchronized (owned) {
                owned.add(d);
            }
            return d;
        }
    }

    /** {@code KVM_CREATE_DEVICE} with {@code KVM_CREATE_DEVICE_TEST}: whether the type could be created. */
    public boolean supportsDevice(int type) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_create_device.allocate(a);
            kvm_create_device.type(c, type);
            kvm_create_device.flags(c, kvm_h.KVM_CREATE_DEVICE_TEST());
            int rc = Ioctl.raw(Scratch.capture(), fd, kvm_h.KVM_CREATE_DEVICE(), c);
            if (rc >= 0) {
                return true;
            }
            if (rc == -Errno.ENODEV) {
                return false;
            }
            throw Ioctl.failure(fd, "KVM_CREATE_DEVICE", -rc, kvm_h.KVM_CREATE_DEVICE(), "test type " + type);
        }
    }

    // ---- clock ----

    /** Wraps {@code KVM_GET_CLOCK}: the guest's kvmclock in nanoseconds. */
    public long getClock() throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_clock_data.allocate(a);
            Ioctl.call(fd, "KVM_GET_CLOCK", kvm_h.KVM_GET_CLOCK(), c);
            return kvm_clock_data.clock(c);
        }
    }

    /** Wraps {@code KVM_SET_CLOCK}. */
    public void setClock(long nanos) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_clock_data.allocate(a);
            kvm_clock_data.clock(c, nanos);
            Ioctl.call(fd, "KVM_SET_CLOCK", kvm_h.KVM_SET_CLOCK(), c, "clock " + nanos);
        }
    }

    /** Ties {@code resource} to this VM: it is closed when the VM closes, before the VM fd. */
    public <T extends AutoCloseable> T own(T resource) {
        synchronized (owned) {
            owned.add(resource);
        }
        return resource;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("VM is closed");
        }
    }

    /** Closes vCPUs, devices and owned resources, the VM fd, then unmaps guest memory. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Vcpu v : vcpus()) {
            v.close();
        }
        List<AutoCloseable> toClose;
        synchronized (owned) {
            toClose = new ArrayList<>(owned);
            owned.clear();
        }
        for (AutoCloseable c : toClose.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                System.getLogger(Vm.class.getName()).log(System.Logger.Level.WARNING, "closing " + c, e);
            }
        }
        fd.close();
        List<Arena> slots;
        synchronized (slotArenas) {
            slots = new ArrayList<>(slotArenas.values());
            slotArenas.clear();
        }
        slots.forEach(Arena::close);
        arena.close();
    }
}
