package dev.panavirt.kvm;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_clear_dirty_log;
import dev.panavirt.bindings.kvm.kvm_create_device;
import dev.panavirt.bindings.kvm.kvm_dirty_log;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.bindings.kvm.kvm_ioeventfd;
import dev.panavirt.bindings.kvm.kvm_irq_level;
import dev.panavirt.bindings.kvm.kvm_irqfd;
import dev.panavirt.bindings.kvm.kvm_msi;
import dev.panavirt.bindings.kvm.kvm_userspace_memory_region2;
import dev.panavirt.bindings.kvm.kvm_userspace_memory_region;
import dev.panavirt.fd.EventFd;
import dev.panavirt.fd.SharedMemory;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Mmap;
import dev.panavirt.sys.Scratch;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtual machine: a KVM VM file descriptor, the guest memory it owns, and its vCPUs and devices.
 * Closing the VM closes its vCPUs and devices, then the VM fd, then unmaps guest memory; vCPUs still inside
 * {@code KVM_RUN} are kicked out first (see {@link #close(Duration)}).
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
 *
 * <p>The errnos each method lists are those particular to its ioctl, from the upstream sources cited.
 * Besides those, every VM ioctl fails with EIO when issued from a process other than the one that created
 * the VM (after a fork, say) or once KVM has marked the VM dead after an internal error
 * (virt/kvm/kvm_main.c, {@code kvm_vm_ioctl}). {@code EFAULT} is left out throughout, as this class only
 * hands the kernel buffers it allocated itself. After {@link #close} every ioctl-issuing method throws
 * {@link IllegalStateException} before reaching the kernel.
 */
public final class Vm implements AutoCloseable {
    /**
     * How long {@link #close()} waits for vCPUs inside {@code KVM_RUN} to leave after their kick. A kicked vCPU
     * leaves as soon as its thread takes the signal; this bound is for one whose thread cannot.
     */
    public static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

    private final Kvm kvm;
    private final Fd fd;
    /** The x86 view, made on first use (see {@link X86Vm#of}). */
    X86Vm x86;
    /** Which in-kernel interrupt controllers this VM asked for: none, the full set, or the local APICs alone. */
    private volatile boolean fullIrqchip, splitIrqchip;
    private final Arena arena = Arena.ofShared();
    /** The arena of each slot {@link #addMemory} mapped, by slot: closing one unmaps that slot's memory. */
    private final java.util.Map<Integer, Arena> slotArenas = new java.util.HashMap<>();
    private final GuestMemory memory = new GuestMemory();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final boolean memslotV2;
    private volatile int dirtyRingBytes;
    private volatile boolean closed;
    /** Set when close left the mappings in place for vCPUs still inside KVM_RUN; the last to leave unmaps. */
    private volatile boolean releasePending;
    private final Object releaseLock = new Object();

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

    /** The descriptor, for this package's other views of the VM. */
    Fd fd() {
        return fd;
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

    /**
     * Wraps {@code KVM_CHECK_EXTENSION} on the VM fd (answers can differ from the system fd's).
     *
     * @throws ErrnoException only the VM-wide EIO: a capability the kernel does not know answers 0
     *         (virt/kvm/kvm_main.c, {@code kvm_vm_ioctl_check_extension_generic})
     * @throws IllegalStateException after {@link #close}
     */
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
     * @throws ErrnoException EEXIST/EINVAL when the slot overlaps another or is misaligned; in detail, from
     *         {@code KVM_SET_USER_MEMORY_REGION(2)} (virt/kvm/kvm_main.c, {@code kvm_set_memory_region}):
     *         <ul>
     *         <li>EEXIST: the range overlaps a slot the kernel already has;</li>
     *         <li>EINVAL: a slot id at or above {@link Cap#NR_MEMSLOTS} (or an address space past
     *         {@code KVM_CAP_MULTI_ADDRESS_SPACE}), flags the kernel refuses ({@code KVM_MEM_READONLY} where
     *         {@link Cap#READONLY_MEM} is absent; anything beyond dirty logging and read-only on the v1 ioctl;
     *         see {@code check_memory_region_flags}), more pages than one slot may hold, or a range past the
     *         guest's physical address width (arch/x86/kvm/x86.c, {@code kvm_arch_prepare_memory_region});</li>
     *         <li>ENOMEM, from KVM or from mapping the memory (then named {@code mmap}).</li>
     *         </ul>
     * @throws IllegalArgumentException when {@code size} is not a positive multiple of the page size,
     *         {@code guestPhysAddr} is not page-aligned, or this VM already owns {@code slot}
     * @throws IllegalStateException after {@link #close}
     */
    public MemoryRegion addMemory(int slot, long guestPhysAddr, long size, int flags) throws ErrnoException {
        return addMemory(slot, guestPhysAddr, size, flags, false);
    }

    /**
     * Like {@link #addMemory(int, long, long, int)}; with {@code memfd} the memory is a
     * {@code memfd_create} file (shareable with other processes) rather than anonymous memory.
     *
     * @throws ErrnoException as {@link #addMemory(int, long, long, int)}; with {@code memfd} also the failures
     *         of memfd_create(2) (EMFILE with no free descriptor) and ftruncate(2), named as such
     * @throws IllegalArgumentException as {@link #addMemory(int, long, long, int)}
     * @throws IllegalStateException after {@link #close}
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
            MemorySegment host = memfd ? SharedMemory.map(slotArena, size, "panavirt-slot-" + slot)
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

    /**
     * Removes a slot this VM added and unmaps its memory. KVM stops using the slot before
     * {@code KVM_SET_USER_MEMORY_REGION} returns (vCPUs see the new memslot set from their next access), and
     * every segment of the memory ({@link MemoryRegion#memory()}, slices from {@link GuestMemory}) becomes
     * unusable on every thread: an access throws {@link IllegalStateException}, never reaches freed memory.
     *
     * @throws IllegalArgumentException when the VM did not add this slot
     * @throws ErrnoException when the kernel refuses the deletion (the slot and its memory then stay): ENOMEM
     *         when KVM cannot allocate the temporary invalid slot it swaps in (virt/kvm/kvm_main.c,
     *         {@code kvm_set_memslot}); EINVAL if the kernel has no such slot, e.g. after someone deleted it
     *         through {@link #setUserMemoryRegion} ({@code kvm_set_memory_region})
     * @throws IllegalStateException after {@link #close}
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
     *
     * @throws ErrnoException from virt/kvm/kvm_main.c ({@code kvm_vm_ioctl}, {@code kvm_set_memory_region},
     *         {@code check_memory_region_flags}) and arch/x86/kvm/x86.c ({@code kvm_arch_prepare_memory_region}):
     *         <ul>
     *         <li>EEXIST: a new or moved slot overlaps another slot;</li>
     *         <li>EINVAL: a slot id at or above {@link Cap#NR_MEMSLOTS} or an address space past
     *         {@code KVM_CAP_MULTI_ADDRESS_SPACE}; {@code size}, {@code guestPhysAddr} or {@code userspaceAddr}
     *         not page-aligned; a host range that is not valid user memory; a guest range that wraps, runs past
     *         the guest's physical address width or holds more pages than one slot may; flags the kernel
     *         refuses (unknown ones, {@code KVM_MEM_READONLY} without {@link Cap#READONLY_MEM}, anything beyond
     *         dirty logging and read-only on the v1 ioctl); size 0 for a slot the kernel does not have; or a
     *         change to an existing slot's {@code userspaceAddr}, size or read-only flag (only moving
     *         {@code guestPhysAddr} and toggling dirty logging are allowed);</li>
     *         <li>ENOMEM.</li>
     *         </ul>
     * @throws IllegalStateException after {@link #close}
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
     *
     * @throws ErrnoException EINVAL when {@code flags} toggles {@code KVM_MEM_READONLY} or holds flags the
     *         kernel refuses; ENOMEM when KVM cannot allocate the dirty bitmap (virt/kvm/kvm_main.c,
     *         {@code kvm_set_memory_region}, {@code kvm_prepare_memory_region})
     * @throws IllegalArgumentException when the VM does not own {@code slot}
     * @throws IllegalStateException after {@link #close}
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
     * @throws ErrnoException EEXIST for an id in use, EINVAL for an id past the maximum; in detail
     *         (virt/kvm/kvm_main.c, {@code kvm_vm_ioctl_create_vcpu}; arch/x86/kvm/x86.c,
     *         {@code kvm_arch_vcpu_precreate}):
     *         <ul>
     *         <li>EEXIST: this VM already has a vCPU with {@code id};</li>
     *         <li>EINVAL: {@code id} at or above {@link Cap#MAX_VCPU_ID} (or the lower limit set with
     *         {@code KVM_CAP_MAX_VCPU_ID} on this VM), or the VM already has {@link Cap#MAX_VCPUS} vCPUs;</li>
     *         <li>EMFILE when the process has no free descriptor; ENOMEM;</li>
     *         <li>mmap(2) failures mapping {@code kvm_run} or the dirty ring, named {@code mmap}.</li>
     *         </ul>
     * @throws IllegalStateException after {@link #close}
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
            if (closed) {
                throw new IllegalStateException("VM is closed");   // a close raced this call past its snapshot
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

    /**
     * Wraps {@code KVM_CREATE_IRQCHIP}: in-kernel PIC, IOAPIC and local APICs (x86). Before any vCPU.
     *
     * @throws ErrnoException EEXIST when the VM already has an in-kernel irqchip, full or split; EINVAL once a
     *         vCPU exists; ENOMEM (arch/x86/kvm/x86.c, {@code kvm_arch_vm_ioctl})
     * @throws IllegalStateException after {@link #close}
     */
    public void createIrqchip() throws ErrnoException {
        Ioctl.call(fd, "KVM_CREATE_IRQCHIP", kvm_h.KVM_CREATE_IRQCHIP());
        fullIrqchip = true;
    }

    /** {@return whether {@link #createIrqchip()} succeeded: the PICs, IOAPIC and local APICs are the kernel's} */
    public boolean hasKernelIrqchip() {
        return fullIrqchip;
    }

    /**
     * {@return whether the local APICs are the kernel's: after {@link #createIrqchip()} or enabling
     * {@link Cap#SPLIT_IRQCHIP}}
     */
    public boolean hasKernelLapic() {
        return fullIrqchip || splitIrqchip;
    }

    /**
     * Wraps {@code KVM_IRQ_LINE}: drives GSI {@code irq} to {@code level} (1 = asserted).
     *
     * @throws ErrnoException ENXIO without an in-kernel irqchip (arch/x86/kvm/x86.c,
     *         {@code kvm_vm_ioctl_irq_line}); a GSI with no route is not an error, the change is just dropped
     * @throws IllegalStateException after {@link #close}
     */
    public void setIrqLine(int irq, boolean level) throws ErrnoException {
        // A device model raises and lowers lines per guest access: the thread's scratch, no allocation.
        Scratch scratch = Scratch.current();
        MemorySegment l = scratch.buffer().asSlice(0, kvm_irq_level.sizeof());
        kvm_irq_level.irq(l, irq);
        kvm_irq_level.level(l, level ? 1 : 0);
        int rc = Ioctl.raw(scratch.captureSegment(), fd, kvm_h.KVM_IRQ_LINE(), l);
        if (rc < 0) {
            throw Ioctl.failure(fd, "KVM_IRQ_LINE", -rc, kvm_h.KVM_IRQ_LINE(),
                    "irq " + irq + " level " + (level ? 1 : 0));
        }
    }

    /**
     * Wraps {@code KVM_IRQFD}: a write to {@code event} injects GSI {@code gsi} without a VM exit.
     *
     * @param resample when not null, KVM signals it when the guest EOIs a level-triggered interrupt
     *                 ({@code KVM_IRQFD_FLAG_RESAMPLE})
     * @throws ErrnoException from virt/kvm/eventfd.c ({@code kvm_irqfd}, {@code kvm_irqfd_assign}):
     *         <ul>
     *         <li>EBUSY: {@code event} already drives an irqfd of this VM, on this or any other GSI;</li>
     *         <li>EINVAL: x86 needs an in-kernel irqchip, and with {@code resample} the full one from
     *         {@link #createIrqchip()} rather than a split irqchip (arch/x86/kvm/irq.c,
     *         {@code kvm_arch_irqfd_allowed});</li>
     *         <li>ENOMEM.</li>
     *         </ul>
     * @throws IllegalStateException after {@link #close}, or when {@code event} or {@code resample} is closed
     */
    public void registerIrqfd(EventFd event, int gsi, EventFd resample) throws ErrnoException {
        irqfd(event, gsi, resample, 0);
    }

    /**
     * Removes an irqfd registered with {@link #registerIrqfd} ({@code KVM_IRQFD_FLAG_DEASSIGN}). Removing a
     * pair that is not registered succeeds and does nothing (virt/kvm/eventfd.c, {@code kvm_irqfd_deassign}).
     *
     * @throws ErrnoException only the VM-wide EIO: an open eventfd passes every check of the deassign path
     * @throws IllegalStateException after {@link #close}, or when {@code event} is closed
     */
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
     *         address, length and datamatch are registered already; ENOSPC when the I/O bus is full. In detail
     *         (virt/kvm/eventfd.c, {@code kvm_assign_ioeventfd}, {@code ioeventfd_check_collision};
     *         virt/kvm/kvm_main.c, {@code kvm_io_bus_register_dev}):
     *         <ul>
     *         <li>EINVAL: {@code length} other than 0, 1, 2, 4 or 8; an address range that wraps; length 0 with
     *         a {@link Datamatch.Value};</li>
     *         <li>EEXIST: an ioeventfd on the same bus and address already matches some of the same writes
     *         (either has length 0, or the lengths agree and either matches any value or both the same
     *         value);</li>
     *         <li>ENOSPC: the bus holds its maximum of devices; ENOMEM.</li>
     *         </ul>
     * @throws IllegalStateException after {@link #close}, or when {@code event} is closed
     */
    public void registerIoeventfd(EventFd event, IoEventAddress address, int length, Datamatch datamatch)
            throws ErrnoException {
        ioeventfd(event, address, length, datamatch, 0);
    }

    /**
     * Removes an ioeventfd registered with the same arguments.
     *
     * @throws ErrnoException ENOENT when no such registration exists: one with this event, bus, address and
     *         length, and the same datamatch or the same absence of one (virt/kvm/eventfd.c,
     *         {@code kvm_deassign_ioeventfd_idx})
     * @throws IllegalStateException after {@link #close}, or when {@code event} is closed
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

    /**
     * Wraps {@code KVM_SET_GSI_ROUTING}: replaces the whole GSI routing table.
     *
     * @throws ErrnoException from virt/kvm/kvm_main.c ({@code kvm_vm_ioctl}) and virt/kvm/irqchip.c
     *         ({@code kvm_set_irq_routing}, {@code setup_routing_entry}):
     *         <ul>
     *         <li>EINVAL: no in-kernel irqchip (arch/x86/kvm/irq.c, {@code kvm_arch_can_set_irq_routing});
     *         more routes than the limit {@link Cap#IRQ_ROUTING} reports, or a GSI at or above it; a GSI routed
     *         twice to the same irqchip, or an MSI route sharing its GSI with any other route; an unknown
     *         irqchip or a pin past its end (arch/x86/kvm/irq.c, {@code kvm_set_routing_entry});</li>
     *         <li>ENOMEM.</li>
     *         </ul>
     * @throws IllegalStateException after {@link #close}
     */
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
     *         answers at the doorbell. On x86 (virt/kvm/irqchip.c, {@code kvm_send_userspace_msi}): EINVAL
     *         without an in-kernel irqchip; EPERM when no vCPU took the message, as the kernel's "not
     *         delivered" result -1 reaches user space as errno 1
     * @throws IllegalStateException after {@link #close}
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
     *         (for example a dirty ring size that is not a power of two), or must be enabled before vCPUs or
     *         memory slots exist and they already do. In detail (virt/kvm/kvm_main.c,
     *         {@code kvm_vm_ioctl_enable_cap_generic}, {@code kvm_vm_ioctl_enable_dirty_log_ring};
     *         arch/x86/kvm/x86.c, {@code kvm_vm_ioctl_enable_cap}):
     *         <ul>
     *         <li>EINVAL: a capability that is not enableable on a VM here, or arguments it refuses; on x86
     *         several capabilities once a vCPU exists; for the dirty ring a size that is not a power of two,
     *         below a page or the ring's reserved entries, a ring already enabled, or vCPUs already
     *         created;</li>
     *         <li>E2BIG: a dirty ring larger than {@link Cap#DIRTY_LOG_RING} reports;</li>
     *         <li>EEXIST: {@link Cap#SPLIT_IRQCHIP} when an irqchip or a vCPU already exists;</li>
     *         <li>EPERM: {@code KVM_CAP_VM_DISABLE_NX_HUGE_PAGES} without {@code CAP_SYS_BOOT}.</li>
     *         </ul>
     * @throws IllegalArgumentException for more than four arguments
     * @throws IllegalStateException after {@link #close}
     */
    public void enableCap(Cap cap, long... args) throws ErrnoException {
        EnableCap.call(fd, cap, args, "");
        if (cap == Cap.SPLIT_IRQCHIP) {
            splitIrqchip = true;
        }
    }

    // ---- dirty tracking ----

    /**
     * Wraps {@code KVM_GET_DIRTY_LOG}: one bit per 4 KiB page of the slot, set for pages written since the
     * last call (or since {@link #clearDirtyLog} with manual protection).
     *
     * @throws ErrnoException as {@link #getDirtyLog(int, MemorySegment)}
     * @throws IllegalArgumentException when the VM does not own {@code slot}
     * @throws IllegalStateException after {@link #close}
     */
    public long[] getDirtyLog(int slot) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bitmap = a.allocate(dirtyBitmapBytes(slot), 8);
            getDirtyLog(slot, bitmap);
            return bitmap.toArray(ValueLayout.JAVA_LONG);
        }
    }

    /**
     * Bytes of the dirty bitmap of a slot this VM owns: one bit per page, in whole 64-bit words.
     *
     * @throws IllegalArgumentException when the VM does not own {@code slot}
     */
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
     *
     * @throws ErrnoException from virt/kvm/kvm_main.c ({@code kvm_get_dirty_log_protect}):
     *         <ul>
     *         <li>ENOENT: the kernel has no such slot, or the slot lacks {@code KVM_MEM_LOG_DIRTY_PAGES};</li>
     *         <li>ENXIO: the VM tracks dirty pages with the dirty ring instead
     *         ({@link #enableDirtyRing(int)});</li>
     *         <li>EINVAL: a slot id past the user slots or address spaces.</li>
     *         </ul>
     * @throws IllegalArgumentException when the VM does not own {@code slot} or {@code bitmap} is too small
     * @throws IllegalStateException after {@link #close}
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
     *
     * @throws ErrnoException EINVAL where the kernel lacks the capability or the mode bits it takes
     *         ({@code initiallySet} needs {@code KVM_DIRTY_LOG_INITIALLY_SET} in what
     *         {@link Cap#MANUAL_DIRTY_LOG_PROTECT2} reports) (virt/kvm/kvm_main.c,
     *         {@code kvm_vm_ioctl_enable_cap_generic})
     * @throws IllegalStateException after {@link #close}
     */
    public void enableManualDirtyLogProtect(boolean initiallySet) throws ErrnoException {
        long mode = kvm_h.KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE()
                | (initiallySet ? kvm_h.KVM_DIRTY_LOG_INITIALLY_SET() : 0);
        enableCap(Cap.MANUAL_DIRTY_LOG_PROTECT2, mode);
    }

    /**
     * Wraps {@code KVM_CLEAR_DIRTY_LOG}: clears (and write-protects again) the pages whose bits are set in
     * {@code bitmap}, which covers pages {@code firstPage .. firstPage + numPages}. {@code firstPage} must
     * be a multiple of 64, and {@code bitmap} must hold at least {@code numPages} bits: the kernel reads that
     * many.
     *
     * @throws ErrnoException from virt/kvm/kvm_main.c ({@code kvm_clear_dirty_log_protect}):
     *         <ul>
     *         <li>EINVAL: {@code firstPage} not a multiple of 64; a range past the end of the slot;
     *         {@code numPages} not a multiple of 64 unless the range reaches the slot's end; a slot id past the
     *         user slots or address spaces;</li>
     *         <li>ENOENT: the kernel has no such slot, or the slot lacks {@code KVM_MEM_LOG_DIRTY_PAGES};</li>
     *         <li>ENXIO: the VM tracks dirty pages with the dirty ring instead.</li>
     *         </ul>
     * @throws IllegalStateException after {@link #close}
     */
    public void clearDirtyLog(int slot, long firstPage, int numPages, long[] bitmap) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            clearDirtyLog(slot, firstPage, numPages, a.allocateFrom(ValueLayout.JAVA_LONG, bitmap));
        }
    }

    /**
     * {@code KVM_CLEAR_DIRTY_LOG} with a caller-owned native bitmap of at least {@code numPages} bits; allocates
     * nothing on success, for dirty-tracking loops (a migration clears what {@link #getDirtyLog(int, MemorySegment)}
     * reported, page for page).
     *
     * @throws ErrnoException as {@link #clearDirtyLog(int, long, int, long[])}
     * @throws IllegalArgumentException when {@code bitmap} holds fewer than {@code numPages} bits
     * @throws IllegalStateException after {@link #close}
     */
    public void clearDirtyLog(int slot, long firstPage, int numPages, MemorySegment bitmap) throws ErrnoException {
        if (numPages < 0 || bitmap.byteSize() * 8 < numPages) {
            throw new IllegalArgumentException("dirty bitmap of " + bitmap.byteSize() + " bytes cannot hold " + numPages
                    + " pages");
        }
        MemorySegment c = Scratch.current().buffer();
        kvm_clear_dirty_log.slot(c, slot);
        kvm_clear_dirty_log.num_pages(c, numPages);
        kvm_clear_dirty_log.first_page(c, firstPage);
        kvm_clear_dirty_log.dirty_bitmap(c, bitmap);
        int rc = Ioctl.raw(Scratch.capture(), fd, CLEAR_DIRTY_LOG, c);
        java.lang.ref.Reference.reachabilityFence(bitmap);
        if (rc < 0) {
            throw Ioctl.failure(fd, "KVM_CLEAR_DIRTY_LOG", -rc, CLEAR_DIRTY_LOG,
                    "slot " + slot + " pages " + firstPage + "+" + numPages);
        }
    }

    private static final long CLEAR_DIRTY_LOG = kvm_h.KVM_CLEAR_DIRTY_LOG();

    /**
     * Enables the per-vCPU dirty ring with {@code bytes} per ring (a power of two, at most
     * {@code checkExtension(Cap.DIRTY_LOG_RING)}); must precede {@link #createVcpu}. Uses the
     * acquire/release flavour when the kernel has it.
     *
     * @throws ErrnoException from virt/kvm/kvm_main.c ({@code kvm_vm_ioctl_enable_cap_generic},
     *         {@code kvm_vm_ioctl_enable_dirty_log_ring}): EINVAL where the kernel has no dirty ring, for a size
     *         that is not a power of two or is below a page or the ring's reserved entries, when a ring is
     *         already enabled, or when a vCPU exists; E2BIG for a size above the maximum
     * @throws IllegalStateException when a vCPU already exists, or after {@link #close}
     */
    public void enableDirtyRing(int bytes) throws ErrnoException {
        if (!vcpus().isEmpty()) {
            throw new IllegalStateException("the dirty ring must be enabled before any vCPU is created");
        }
        Cap cap = checkExtension(Cap.DIRTY_LOG_RING_ACQ_REL) > 0 ? Cap.DIRTY_LOG_RING_ACQ_REL : Cap.DIRTY_LOG_RING;
        enableCap(cap, bytes);
        dirtyRingBytes = bytes;
    }

    /**
     * Wraps {@code KVM_RESET_DIRTY_RINGS}: re-protects every harvested entry; returns how many.
     *
     * @throws ErrnoException EINVAL when the VM has no dirty ring ({@link #enableDirtyRing(int)} was not
     *         called) (virt/kvm/kvm_main.c, {@code kvm_vm_ioctl_reset_dirty_pages})
     * @throws IllegalStateException after {@link #close}
     */
    public int resetDirtyRings() throws ErrnoException {
        return Ioctl.call(fd, "KVM_RESET_DIRTY_RINGS", kvm_h.KVM_RESET_DIRTY_RINGS());
    }

    // ---- devices ----

    /**
     * Wraps {@code KVM_CREATE_DEVICE}.
     *
     * @throws ErrnoException ENODEV when this host's KVM lacks the type; EEXIST for a second instance of a
     *         device the VM can have only once (e.g. the VGIC); otherwise as {@link #createDevice(int)}
     * @throws IllegalStateException after {@link #close}
     */
    public KernelDevice createDevice(DeviceType type) throws ErrnoException {
        return createDevice(type.value());
    }

    /**
     * {@link #supportsDevice(int)} for a known type.
     *
     * @throws ErrnoException as {@link #supportsDevice(int)}
     * @throws IllegalStateException after {@link #close}
     */
    public boolean supportsDevice(DeviceType type) throws ErrnoException {
        return supportsDevice(type.value());
    }

    /**
     * Wraps {@code KVM_CREATE_DEVICE} for a type number {@link DeviceType} does not list.
     *
     * @param type a {@code KVM_DEV_TYPE_*} value
     * @throws ErrnoException ENODEV when this host's KVM lacks the type (virt/kvm/kvm_main.c,
     *         {@code kvm_ioctl_create_device}); EBUSY for a second {@link DeviceType#VFIO} device, one per VM
     *         (virt/kvm/vfio.c, {@code kvm_vfio_create}); on arm64, EEXIST for a second VGIC and EBUSY once a
     *         vCPU has run (vgic-init.c, {@code kvm_vgic_create}); EMFILE when the process has no free
     *         descriptor; ENOMEM
     * @throws IllegalStateException after {@link #close}
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

    /**
     * {@code KVM_CREATE_DEVICE} with {@code KVM_CREATE_DEVICE_TEST}: whether the type could be created.
     *
     * @throws ErrnoException only the VM-wide EIO: the test answers ENODEV (returned as false) or success
     *         (virt/kvm/kvm_main.c, {@code kvm_ioctl_create_device})
     * @throws IllegalStateException after {@link #close}
     */
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

    /**
     * {@link #close(Duration)} with {@link #CLOSE_WAIT}: closes vCPUs (kicking those inside {@code KVM_RUN}),
     * devices and owned resources, the VM fd, then unmaps guest memory. Idempotent.
     */
    @Override
    public void close() {
        close(CLOSE_WAIT);
    }

    /**
     * Closes the VM. vCPUs a thread is running are kicked (their {@code immediate_exit} set and their thread
     * signalled) and waited for, at most {@code wait} in all; then the vCPU fds, devices and owned resources
     * ({@link #own}) and the VM fd are closed, and guest memory and the {@code kvm_run} areas are unmapped.
     * {@link #memory()} is empty from then on and every segment of it throws {@link IllegalStateException}.
     *
     * <p>A vCPU that has not left {@code KVM_RUN} by then (its thread cannot take the signal, say) may still
     * touch guest memory: KVM keeps the VM alive while that ioctl runs, and an address range unmapped under it
     * could be mapped again for something else. So the mappings stay in place, and the thread that leaves
     * {@code KVM_RUN} last unmaps them on its way out of {@link Vcpu#run()}; a warning names the vCPUs. Memory
     * the caller gave through {@link #setUserMemoryRegion} must likewise stay mapped until this returns true.
     *
     * @param wait how long to wait for running vCPUs to leave {@code KVM_RUN}
     * @return true when every vCPU had left and everything is released; false when mappings were left to the
     *         vCPUs still inside {@code KVM_RUN} (or when the VM was already closed by an earlier call that
     *         left them)
     */
    public boolean close(Duration wait) {
        synchronized (releaseLock) {
            if (closed) {
                return !releasePending;
            }
            closed = true;
        }
        List<Vcpu> cpus = vcpus();
        cpus.forEach(Vcpu::beginClose);
        long deadline = System.nanoTime() + wait.toNanos();
        List<Integer> stuck = new ArrayList<>();
        for (Vcpu v : cpus) {
            if (!v.awaitLeft(deadline)) {
                stuck.add(v.id());
            }
        }
        // A thread still inside KVM_RUN holds its own reference to the vCPU file: closing the number is safe,
        // and the thread issues no further ioctl (it sees the close).
        cpus.forEach(Vcpu::closeFd);
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
        memory.close();
        synchronized (releaseLock) {
            // pending first, then the check: a vCPU leaving in between either sees it pending or is seen out
            releasePending = true;
            if (cpus.stream().noneMatch(Vcpu::isRunning)) {
                releasePending = false;
                releaseMappings();
                return true;
            }
        }
        System.getLogger(Vm.class.getName()).log(System.Logger.Level.WARNING, "vcpus " + stuck + " were still "
                + "inside KVM_RUN " + wait.toMillis() + " ms after close; guest memory stays mapped until they leave");
        return false;
    }

    /** Called by a vCPU leaving {@link Vcpu#run()} after its close began: the last one out unmaps, if close left it. */
    void vcpuLeftRun() {
        if (!releasePending) {
            return;
        }
        synchronized (releaseLock) {
            if (releasePending && vcpus().stream().noneMatch(Vcpu::isRunning)) {
                releasePending = false;
                releaseMappings();
            }
        }
    }

    private void releaseMappings() {
        List<Arena> slots;
        synchronized (slotArenas) {
            slots = new ArrayList<>(slotArenas.values());
            slotArenas.clear();
        }
        slots.forEach(Arena::close);
        arena.close();
    }
}
