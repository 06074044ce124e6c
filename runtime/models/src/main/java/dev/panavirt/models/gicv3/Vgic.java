package dev.panavirt.models.gicv3;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.GuestRam;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The VM-wide GICv3 state that ITS models share, standing in for a KVM VM with an in-kernel GICv3: guest
 * memory, the vCPUs and their {@linkplain Redistributors redistributor view}, the VM's LPIs, and the ITSes
 * created with {@link #createDevice(int)}. MSIs enter through {@link #signalMsi}, which behaves as
 * {@code KVM_SIGNAL_MSI} (and as an irqfd route of type MSI) on such a VM.
 *
 * <p>All state of a {@code Vgic} and its ITSes is guarded by one lock, so MMIO from several vCPU threads,
 * MSI injection and device attributes may be used concurrently.
 *
 * {@snippet :
 * HeapGuestRam ram = new HeapGuestRam(0x4000_0000L, 64L << 20);
 * Vgic vgic = new Vgic(ram, 2);                       // vCPU ids 0 and 1
 * ItsDevice its = vgic.createDevice(kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS());
 * its.setAttr(kvm_h.KVM_DEV_ARM_VGIC_GRP_ADDR(), kvm_h.KVM_VGIC_ITS_ADDR_TYPE(), 0x0808_0000L, 8);
 * }
 */
public final class Vgic {

    /** IPA size of a VM created with machine type 0 on arm64. */
    public static final int DEFAULT_IPA_BITS = 40;

    /** Told when an ITS frame gets its address, so a VMM can route the frame's MMIO to the device. */
    @FunctionalInterface
    public interface FrameListener {
        /**
         * @param its the device whose frame was placed
         * @param base guest-physical base of the frame
         * @param size frame size ({@link ItsRegisters#FRAME_SIZE})
         */
        void mapped(ItsDevice its, long base, long size);
    }

    final Object lock = new Object();
    private final GuestRam ram;
    private final int ipaBits;
    private final Redistributors redistributors;
    private final Lpis lpis;
    private ItsDevice[] devices = new ItsDevice[0];
    private boolean hasIts;
    private volatile FrameListener frameListener;

    /** A VM with vCPU ids {@code 0 .. vcpus-1} and a 40-bit IPA space. */
    public Vgic(GuestRam ram, int vcpus) {
        this(ram, sequence(vcpus), DEFAULT_IPA_BITS);
    }

    /**
     * A VM with the given vCPU ids and IPA size.
     *
     * @param ram guest memory
     * @param vcpuIds distinct non-negative KVM vCPU ids
     * @param ipaBits guest physical address bits (32 to 52), which bound the ITS base address
     */
    public Vgic(GuestRam ram, int[] vcpuIds, int ipaBits) {
        this.ram = Objects.requireNonNull(ram, "ram");
        if (ipaBits < 32 || ipaBits > 52) {
            throw new IllegalArgumentException("IPA bits must be 32 to 52: " + ipaBits);
        }
        this.ipaBits = ipaBits;
        this.redistributors = new Redistributors(this, vcpuIds);
        this.lpis = new Lpis(this);
    }

    private static int[] sequence(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("a VM needs at least one vCPU: " + n);
        }
        int[] ids = new int[n];
        Arrays.setAll(ids, i -> i);
        return ids;
    }

    /** The guest memory the ITSes read and write. */
    public GuestRam ram() {
        return ram;
    }

    /**
     * Writes guest RAM under this VGIC's lock, so an ITS command or MSI in progress on another thread sees all of
     * the write or none of it.
     *
     * @throws ErrnoException EFAULT where the range is not guest RAM
     */
    public void writeRam(long gpa, byte[] data) throws ErrnoException {
        synchronized (lock) {
            ram().write(gpa, data, 0, data.length);
        }
    }

    /**
     * Reads guest RAM under this VGIC's lock (see {@link #writeRam}).
     *
     * @throws ErrnoException EFAULT where the range is not guest RAM
     */
    public void readRam(long gpa, byte[] into) throws ErrnoException {
        synchronized (lock) {
            ram().read(gpa, into, 0, into.length);
        }
    }

    /** The guest physical address size. */
    public int ipaBits() {
        return ipaBits;
    }

    /** The per-vCPU redistributor state the ITS uses. */
    public Redistributors redistributors() {
        return redistributors;
    }

    Lpis lpis() {
        return lpis;
    }

    boolean hasIts() {
        return hasIts;
    }

    /** Registers the listener told about ITS frame addresses (replacing any earlier one). */
    public void onFrameMapped(FrameListener listener) {
        synchronized (lock) {
            this.frameListener = listener;
        }
    }

    /**
     * Creates a device, as {@code KVM_CREATE_DEVICE} on this VM. Only the ITS type is modelled. Creating an
     * ITS sets the VM's GICR_PROPBASER to its initial value (inner RaWb, inner shareable, IDbits 0).
     *
     * @param type {@code KVM_DEV_TYPE_ARM_VGIC_ITS}
     * @return the new ITS, with no address, disabled, ABI revision 0
     * @throws ErrnoException {@code ENODEV} for any other type
     */
    public ItsDevice createDevice(int type) throws ErrnoException {
        if (type != kvm_h.KVM_DEV_TYPE_ARM_VGIC_ITS()) {
            throw new ErrnoException("KVM_CREATE_DEVICE", Errno.ENODEV, "type " + type + " is not modelled");
        }
        synchronized (lock) {
            ItsDevice d = new ItsDevice(this);
            ItsDevice[] next = Arrays.copyOf(devices, devices.length + 1);
            next[devices.length] = d;
            devices = next;
            hasIts = true;
            redistributors.resetPropbaser();
            return d;
        }
    }

    /**
     * Returns the VM to the state it had right after its construction and the creation of its ITSes, as
     * if both had just happened: every ITS without a frame address, disabled, ABI revision 0, with its
     * initial BASERs, no devices, collections or cached translations, zero counts, and open; no LPIs; every
     * redistributor with LPIs disabled, no pending table and not running. The ITSes stay the same objects
     * and the frame listener stays registered. Guest memory is the caller's and is not touched.
     *
     * <p>KVM has no such operation (its ITS reset, {@code KVM_DEV_ARM_ITS_CTRL_RESET}, keeps the frame
     * address and ABI); it serves rigs that run many short sessions, such as fuzzing, on one model.
     */
    public void reset() {
        synchronized (lock) {
            for (ItsDevice d : devices) {
                d.recreate();
            }
            lpis.clear();
            redistributors.recreate(hasIts);
        }
    }

    /** The ITSes created so far, in creation order. */
    public List<ItsDevice> devices() {
        synchronized (lock) {
            return List.of(devices);
        }
    }

    /** Called by an ITS once its address is set, outside the lock. */
    void frameMapped(ItsDevice its, long base) {
        FrameListener l = frameListener;
        if (l != null) {
            l.mapped(its, base, ItsRegisters.FRAME_SIZE);
        }
    }

    /** The ITS whose frame holds {@code address} ({@code kvm_io_bus_get_dev}), or {@code null}. */
    private Its itsAt(long address) {
        for (ItsDevice d : devices) {
            if (d.its.frameContains(address)) {
                return d.its;
            }
        }
        return null;
    }

    /** Drops the translation cache of every ITS ({@code vgic_its_invalidate_all_caches}). */
    void invalidateAllCaches() {
        for (ItsDevice d : devices) {
            d.its.invalidateCache();
        }
    }

    /**
     * Injects an MSI as {@code KVM_SIGNAL_MSI} does ({@code kvm_send_userspace_msi}, {@code kvm_set_msi},
     * {@code vgic_its_inject_msi}). A cached translation makes the LPI pending at once; otherwise the doorbell
     * must lie in an ITS frame and the flags must carry a DeviceID, and the translation is resolved.
     *
     * @param address doorbell address ({@code address_hi:address_lo}); any address in an ITS frame
     * @param data the EventID
     * @param flags {@code KVM_MSI_VALID_DEVID} or 0
     * @param devid the DeviceID
     * @return 1 if the LPI became pending, 0 if the ITS has no mapping for it (the guest blocked it)
     * @throws ErrnoException {@code EINVAL} for unknown flags, a missing DeviceID flag or a doorbell outside
     *     every ITS frame; {@code ENODEV} if the VM has no ITS; {@code EBUSY} if the ITS is disabled or the
     *     target vCPU has LPIs disabled
     */
    public int signalMsi(long address, int data, int flags, int devid) throws ErrnoException {
        int validDevid = kvm_h.KVM_MSI_VALID_DEVID();
        synchronized (lock) {
            if ((flags & ~validDevid) != 0) {
                throw msiError(Errno.EINVAL, address, data, flags, devid, "unknown flags");
            }
            if (!hasIts) {
                throw msiError(Errno.ENODEV, address, data, flags, devid, "the VM has no ITS");
            }
            long deviceId = Integer.toUnsignedLong(devid);
            long eventId = Integer.toUnsignedLong(data);
            Its its = itsAt(address);
            if (its != null && its.injectCached(deviceId, eventId)) {
                return 1;
            }
            if ((flags & validDevid) == 0) {
                throw msiError(Errno.EINVAL, address, data, flags, devid, "no KVM_MSI_VALID_DEVID");
            }
            if (its == null) {
                throw msiError(Errno.EINVAL, address, data, flags, devid, "doorbell is not in an ITS frame");
            }
            int rc = its.trigger(deviceId, eventId);
            if (rc < 0) {
                throw msiError(-rc, address, data, flags, devid, "translation refused");
            }
            return rc == 0 ? 1 : 0;
        }
    }

    private static ErrnoException msiError(int errno, long address, int data, int flags, int devid, String why) {
        return new ErrnoException("KVM_SIGNAL_MSI", errno, String.format(
                "address 0x%x data 0x%x flags 0x%x devid 0x%x: %s", address, data, flags, devid, why));
    }

    // ---- Observation -----------------------------------------------------------------------------------

    /** Every LPI of the VM, by INTID. */
    public List<LpiState> lpiStates() {
        synchronized (lock) {
            return lpis.snapshot();
        }
    }

    /** LPI {@code intid}, if some ITE maps it. */
    public Optional<LpiState> lpi(long intid) {
        synchronized (lock) {
            Lpis.Lpi l = lpis.find(intid);
            return l == null ? Optional.empty() : Optional.of(Lpis.view(l));
        }
    }

    /** INTIDs of the LPIs pending on vCPU {@code vcpuId} (targeting it with the pending latch set), ascending. */
    public long[] pendingLpis(int vcpuId) {
        synchronized (lock) {
            if (!redistributors.hasVcpu(vcpuId)) {
                throw new IllegalArgumentException("no vCPU with id " + vcpuId);
            }
            List<Long> out = new ArrayList<>();
            for (Lpis.Lpi l = lpis.first(); l != null; l = l.next) {
                if (l.pending && l.target == vcpuId) {
                    out.add(l.intid);
                }
            }
            return out.stream().mapToLong(Long::longValue).sorted().toArray();
        }
    }
}
