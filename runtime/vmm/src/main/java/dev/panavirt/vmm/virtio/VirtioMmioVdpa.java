package dev.panavirt.vmm.virtio;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.kvm.Datamatch;
import dev.panavirt.kvm.IoEventAddress;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.kvm.Vm;
import dev.panavirt.vhost.VdpaDevice;
import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtio-mmio device (virtio 1.2 spec section 4.2, register layout version 2) whose virtqueues a vDPA device
 * serves: the VMM emulates only the transport registers, and the data path never passes through it.
 *
 * <ul>
 * <li>The guest's RAM is in the vDPA device's IOTLB at IOVA = guest-physical address, so the ring and buffer
 * addresses the guest writes are the addresses the device uses.</li>
 * <li>{@code QueueNotify} is a KVM ioeventfd per queue (datamatch = queue index) bound as that queue's kick
 * eventfd: a guest notify reaches the device without an exit.</li>
 * <li>Each queue's call eventfd is a KVM irqfd on the device's GSI: a used-buffer notification becomes a guest
 * interrupt without this process.</li>
 * </ul>
 *
 * <p>Feature negotiation, status and queue set-up are forwarded when the guest reaches the step: the guest's
 * features plus {@code VIRTIO_F_ACCESS_PLATFORM} (which vhost-vdpa devices require, and which the guest does
 * not see, since its addresses are IOVAs already) at {@code FEATURES_OK}; a queue's size, addresses and base
 * when the guest sets {@code QueueReady}. Because the VMM does not see the device's notifications,
 * {@code InterruptStatus} always reads "used buffer" (bit 0), and a guest driver checks its used rings.
 * The IOTLB survives device resets ({@code VHOST_BACKEND_F_IOTLB_PERSIST}, required).
 */
public final class VirtioMmioVdpa implements BusDevice, AutoCloseable {
    /** Bytes of register space (config space starts at 0x100). */
    public static final long SIZE = 0x1000;

    private static final int MAGIC = 0x74726976;          // "virt"
    private static final long ACCESS_PLATFORM = 1L << 33;
    private static final long BACKEND_MSG_V2 = 1L << 1, BACKEND_IOTLB_PERSIST = 1L << 8;
    private static final int STATUS_FEATURES_OK = 8;

    private final Vm vm;
    private final VdpaDevice vdpa;
    private final long base;
    private final int gsi;
    private final int deviceId;
    private final long offered;
    private final int queueMax;
    private final Queue[] queues;
    private final List<Long> mapped = new ArrayList<>();
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private long driverFeatures;
    private int queueSel;
    private boolean closed;
    private long trappedNotifies;

    private static final class Queue {
        final EventFd kick;
        final EventFd call;
        int num;
        boolean ready;
        long desc, driver, device;

        Queue(EventFd kick, EventFd call) {
            this.kick = kick;
            this.call = call;
        }
    }

    private VirtioMmioVdpa(Vm vm, VdpaDevice vdpa, long base, int gsi) throws ErrnoException {
        this.vm = vm;
        this.vdpa = vdpa;
        this.base = base;
        this.gsi = gsi;
        this.deviceId = vdpa.deviceId();
        this.offered = vdpa.features();
        this.queueMax = vdpa.vringNumMax();
        this.queues = new Queue[vdpa.vqsCount()];
    }

    /**
     * Puts a virtio-mmio device served by {@code vdpa} at {@code base} on {@code mmio}, interrupting through
     * {@code gsi} (routed as the VM's default table routes it: an IOAPIC pin for GSI 0-23).
     *
     * @throws ErrnoException from vhost-vdpa (owner, backend features, IOTLB), the ioeventfds or the irqfds;
     *         whatever was set up is undone
     * @throws IllegalStateException if the device cannot keep its IOTLB across resets
     */
    public static VirtioMmioVdpa attach(Vm vm, Bus mmio, long base, int gsi, VdpaDevice vdpa) throws ErrnoException {
        VirtioMmioVdpa d = new VirtioMmioVdpa(vm, vdpa, base, gsi);
        try {
            d.setUp();
            mmio.insert(d, base, SIZE);
            return d;
        } catch (ErrnoException | RuntimeException e) {
            d.close();
            throw e;
        }
    }

    private void setUp() throws ErrnoException {
        vdpa.setOwner();
        long backend = vdpa.backendFeatures();
        if ((backend & BACKEND_IOTLB_PERSIST) == 0) {
            throw new IllegalStateException("the vDPA device cannot keep its IOTLB across resets (backend features 0x"
                    + Long.toHexString(backend) + ")");
        }
        vdpa.setBackendFeatures(BACKEND_MSG_V2 | BACKEND_IOTLB_PERSIST);
        vdpa.setStatus(0);
        for (MemoryRegion r : vm.memory().regions()) {
            vdpa.iotlbUpdate(0, r.guestPhysAddr(), r.memory(), VdpaDevice.READ_WRITE);
            mapped.add(r.guestPhysAddr());
            mapped.add(r.size());
        }
        for (int q = 0; q < queues.length; q++) {
            EventFd kick = EventFd.create(0);
            EventFd call;
            try {
                call = EventFd.create(0);
            } catch (ErrnoException e) {
                kick.close();
                throw e;
            }
            queues[q] = new Queue(kick, call);
            vm.registerIoeventfd(kick, IoEventAddress.mmio(base + 0x50), 4, Datamatch.value(q));
            vm.registerIrqfd(call, gsi, null);
            vdpa.setVringKick(q, kick);
            vdpa.setVringCall(q, call);
        }
    }

    /**
     * Queue notifications that reached the VMM as MMIO exits instead of an ioeventfd: 0 unless the guest names
     * a queue the device does not have.
     */
    public long trappedNotifies() {
        return trappedNotifies;
    }

    /** The vDPA device behind the transport. */
    public VdpaDevice vdpa() {
        return vdpa;
    }

    @Override
    public void read(long busBase, long offset, MemorySegment data) {
        try {
            BusData.set(data, readRegister(offset, data));
        } catch (ErrnoException e) {
            BusData.set(data, 0);
        }
    }

    private long readRegister(long offset, MemorySegment data) throws ErrnoException {
        if (offset >= 0x100) {
            vdpa.readConfig((int) (offset - 0x100), data);
            return BusData.get(data);
        }
        Queue q = queueSel < queues.length ? queues[queueSel] : null;
        return switch ((int) offset) {
            case 0x000 -> MAGIC;
            case 0x004 -> 2;
            case 0x008 -> deviceId;
            case 0x00c -> 0x554d4551;                      // vendor "QEMU", as QEMU's virtio-mmio says
            case 0x010 -> deviceFeaturesSel == 0 ? (offered & 0xffff_ffffL)
                    : deviceFeaturesSel == 1 ? ((offered & ~ACCESS_PLATFORM) >>> 32) : 0;
            case 0x034 -> q == null ? 0 : queueMax;
            case 0x044 -> q != null && q.ready ? 1 : 0;
            case 0x060 -> 1;                                // used buffer: the device's calls bypass the VMM
            case 0x070 -> vdpa.status();
            case 0x0fc -> 0;                                // config generation
            default -> 0;
        };
    }

    @Override
    public void write(long busBase, long offset, MemorySegment data) {
        try {
            writeRegister(offset, data, BusData.get(data));
        } catch (ErrnoException e) {
            System.getLogger(VirtioMmioVdpa.class.getName()).log(System.Logger.Level.WARNING,
                    "virtio-mmio at 0x" + Long.toHexString(base) + ": register 0x" + Long.toHexString(offset), e);
        }
    }

    private void writeRegister(long offset, MemorySegment data, long v) throws ErrnoException {
        if (offset >= 0x100) {
            vdpa.writeConfig((int) (offset - 0x100), data);
            return;
        }
        Queue q = queueSel < queues.length ? queues[queueSel] : null;
        switch ((int) offset) {
            case 0x014 -> deviceFeaturesSel = (int) v;
            case 0x020 -> {
                if (driverFeaturesSel < 2) {
                    int shift = 32 * driverFeaturesSel;
                    driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((v & 0xffff_ffffL) << shift);
                }
            }
            case 0x024 -> driverFeaturesSel = (int) v;
            case 0x030 -> queueSel = (int) v;
            case 0x038 -> { if (q != null) q.num = (int) v; }
            case 0x044 -> { if (q != null) setReady(q, v != 0); }
            case 0x050 -> trappedNotifies++;                // only a notify no ioeventfd matched gets here
            case 0x064 -> { }                               // InterruptACK: nothing is latched here
            case 0x070 -> setStatus((int) v);
            case 0x080 -> { if (q != null) q.desc = low(q.desc, v); }
            case 0x084 -> { if (q != null) q.desc = high(q.desc, v); }
            case 0x090 -> { if (q != null) q.driver = low(q.driver, v); }
            case 0x094 -> { if (q != null) q.driver = high(q.driver, v); }
            case 0x0a0 -> { if (q != null) q.device = low(q.device, v); }
            case 0x0a4 -> { if (q != null) q.device = high(q.device, v); }
            default -> { }
        }
    }

    private static long low(long old, long v) {
        return (old & 0xffff_ffff_0000_0000L) | (v & 0xffff_ffffL);
    }

    private static long high(long old, long v) {
        return (old & 0xffff_ffffL) | (v << 32);
    }

    private void setReady(Queue q, boolean ready) throws ErrnoException {
        int index = queueSel;
        if (ready) {
            vdpa.setVringNum(index, q.num);
            vdpa.setVringAddr(index, q.desc, q.driver, q.device);
            vdpa.setVringBase(index, 0);
            // A device reset drops the device's notification callbacks (vdpa_sim's vdpasim_do_reset; the guest
            // resets before every set-up), so bind the eventfds again for the queue being set up.
            vdpa.setVringKick(index, q.kick);
            vdpa.setVringCall(index, q.call);
        }
        vdpa.setVringEnable(index, ready);
        q.ready = ready;
    }

    private void setStatus(int status) throws ErrnoException {
        if (status == 0) {
            vdpa.setStatus(0);
            for (Queue q : queues) {
                q.ready = false;
                q.num = 0;
                q.desc = q.driver = q.device = 0;
            }
            driverFeatures = 0;
            return;
        }
        int old = vdpa.status();
        if ((status & STATUS_FEATURES_OK) != 0 && (old & STATUS_FEATURES_OK) == 0) {
            vdpa.setFeatures((driverFeatures & offered) | ACCESS_PLATFORM);
        }
        vdpa.setStatus(status);
    }

    /**
     * Removes the ioeventfds and irqfds, resets the device and invalidates the guest's RAM in its IOTLB; the VM
     * and the vDPA device stay the caller's. Idempotent; failures are logged.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        System.Logger log = System.getLogger(VirtioMmioVdpa.class.getName());
        for (int i = 0; i < queues.length; i++) {
            Queue q = queues[i];
            if (q == null) {
                continue;
            }
            try {
                vm.unregisterIoeventfd(q.kick, IoEventAddress.mmio(base + 0x50), 4, Datamatch.value(i));
                vm.unregisterIrqfd(q.call, gsi);
            } catch (ErrnoException | RuntimeException e) {
                log.log(System.Logger.Level.WARNING, "virtio-mmio queue " + i + ": unwiring failed", e);
            }
            q.kick.close();
            q.call.close();
        }
        try {
            vdpa.setStatus(0);
            for (int i = 0; i < mapped.size(); i += 2) {
                vdpa.iotlbInvalidate(0, mapped.get(i), mapped.get(i + 1));
            }
        } catch (ErrnoException | RuntimeException e) {
            log.log(System.Logger.Level.WARNING, "virtio-mmio: reset or IOTLB invalidate failed", e);
        }
    }
}
