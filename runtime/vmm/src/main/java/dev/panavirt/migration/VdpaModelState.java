package dev.panavirt.migration;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vdpa.VdpaSim;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The vDPA model's state at the stop point, as a STATE section: device status, the features the driver took,
 * the acked backend features, and per virtqueue its size, ring addresses, enable and next available index. It is
 * taken from a suspended device ({@code VHOST_VDPA_SUSPEND}: {@code drivers/vhost/vdpa.c},
 * {@code vhost_vdpa_suspend}; the simulator stops serving, {@code drivers/vdpa/vdpa_sim/vdpa_sim.c},
 * {@code vdpasim_suspend}), so the index {@code VHOST_GET_VRING_BASE} answers ({@code vhost_vdpa_vring_ioctl}
 * through {@code get_vq_state}) cannot move afterwards.
 *
 * <p>{@link #restore} replays the driver's bring-up on the destination's model in the order the virtio spec's
 * device initialization asks (section 3.1.1: ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK), with
 * {@code VHOST_SET_VRING_BASE} before each queue is enabled: enabling a queue makes the simulator's used index the
 * available one ({@code vdpasim_queue_ready}), which is right because a suspended simulator has used every chain
 * it took. Not carried: the IOTLB (its user addresses belong to the source process; the destination maps its own
 * memory at the same IOVAs before {@link #restore}) and a kick that came while suspended (the destination kicks each
 * queue once after restoring, which serves any chain the driver made available meanwhile and is a no-op otherwise).
 *
 * @param status          the virtio status byte
 * @param features        the driver features ({@code VHOST_SET_FEATURES})
 * @param backendFeatures the acked {@code VHOST_BACKEND_F_*} bits
 * @param queues          one entry per virtqueue
 */
public record VdpaModelState(int status, long features, long backendFeatures, List<Queue> queues) {
    /** The first word of the encoding: "VDPA" version 1 is 0x56445001. */
    public static final int MAGIC = 0x56445001;

    /**
     * One virtqueue.
     *
     * @param num   the queue size
     * @param desc  the descriptor table's IOVA
     * @param avail the driver area's IOVA
     * @param used  the device area's IOVA
     * @param ready whether the queue is enabled
     * @param base  the next available index ({@code VHOST_GET_VRING_BASE})
     */
    public record Queue(int num, long desc, long avail, long used, boolean ready, int base) {}

    public VdpaModelState {
        queues = List.copyOf(queues);
    }

    /**
     * Captures a suspended device's state.
     *
     * @throws IllegalStateException when the device runs (DRIVER_OK and not suspended): its indexes could move
     */
    public static VdpaModelState capture(VdpaSim sim) throws ErrnoException {
        synchronized (sim) {
            if ((sim.status() & VdpaSim.DRIVER_OK) != 0 && !sim.suspended()) {
                throw new IllegalStateException("the vDPA device runs: suspend it (VHOST_VDPA_SUSPEND) first");
            }
            List<Queue> qs = new ArrayList<>();
            for (int i = 0; i < sim.vqsCount(); i++) {
                long[] a = sim.vringAddr(i);
                qs.add(new Queue(sim.vringNum(i), a[0], a[1], a[2], sim.vringReady(i), sim.vringBase(i)));
            }
            return new VdpaModelState(sim.status(), sim.driverFeatures(), sim.ackedBackendFeatures(), qs);
        }
    }

    /**
     * Brings the destination's freshly reset model to this state; it is left running (DRIVER_OK) when the source
     * had DRIVER_OK. Each refused step is the model's {@link ErrnoException}, naming the ioctl.
     */
    public void restore(VdpaSim sim) throws ErrnoException {
        if (!sim.owned()) {
            sim.setOwner();
        }
        sim.setBackendFeatures(backendFeatures);
        if (status == 0) {
            return;
        }
        int s = status & (VdpaSim.ACKNOWLEDGE | VdpaSim.DRIVER);
        sim.setStatus(s);
        sim.setFeatures(features);
        if ((status & VdpaSim.FEATURES_OK) != 0) {
            s |= VdpaSim.FEATURES_OK;
            sim.setStatus(s);
        }
        if (queues.size() != sim.vqsCount()) {
            throw new IllegalArgumentException(queues.size() + " queues for a device with " + sim.vqsCount());
        }
        for (int i = 0; i < queues.size(); i++) {
            Queue q = queues.get(i);
            if (q.num() != 0) {
                sim.setVringNum(i, q.num());
            }
            sim.setVringAddr(i, 0, q.desc(), q.avail(), q.used(), 0);
            sim.setVringBase(i, q.base());
            sim.setVringEnable(i, q.ready());
        }
        sim.setStatus(status);
    }

    /** {@return the big-endian encoding {@link #decode} reads} */
    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(status);
            out.writeLong(features);
            out.writeLong(backendFeatures);
            out.writeInt(queues.size());
            for (Queue q : queues) {
                out.writeInt(q.num());
                out.writeLong(q.desc());
                out.writeLong(q.avail());
                out.writeLong(q.used());
                out.writeBoolean(q.ready());
                out.writeInt(q.base());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * Reads what {@link #encode} wrote.
     *
     * @throws IOException on a wrong magic, a status beyond 8 bits, more than 64 queues, an index beyond 16 bits,
     *                     a short or a longer record
     */
    public static VdpaModelState decode(byte[] bytes) throws IOException {
        ByteArrayInputStream raw = new ByteArrayInputStream(bytes);
        DataInputStream in = new DataInputStream(raw);
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new IOException(String.format("vDPA state: magic/version 0x%08x, expected 0x%08x", magic, MAGIC));
        }
        int status = in.readInt();
        if ((status & ~0xff) != 0) {
            throw new IOException("vDPA state: status 0x" + Integer.toHexString(status));
        }
        long features = in.readLong(), backend = in.readLong();
        int n = in.readInt();
        if (n < 0 || n > 64) {
            throw new IOException("vDPA state: " + n + " queues");
        }
        List<Queue> qs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Queue q = new Queue(in.readInt(), in.readLong(), in.readLong(), in.readLong(), in.readBoolean(), in.readInt());
            if ((q.base() & ~0xffff) != 0) {
                throw new IOException("vDPA state: queue " + i + " base " + q.base());
            }
            qs.add(q);
        }
        if (raw.available() != 0) {
            throw new IOException("vDPA state: " + raw.available() + " bytes after the record");
        }
        return new VdpaModelState(status, features, backend, qs);
    }
}
