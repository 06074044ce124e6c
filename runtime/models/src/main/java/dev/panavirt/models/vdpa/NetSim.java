package dev.panavirt.models.vdpa;

/**
 * {@code vdpa_sim_net}'s worker: the control queue first (only {@code MAC_ADDR_SET}), then TX → RX loopback
 * of up to a page per frame, with the receive filter (broadcast, multicast or the config MAC after the
 * virtio-net header). TX buffers are returned with length 0, RX buffers with the bytes copied. Reuses one
 * page buffer; allocates nothing.
 */
final class NetSim {
    static final int RX = 0, TX = 1, CVQ = 2;
    static final int PAGE = 4096;
    static final int CTRL_MAC = 1, CTRL_MAC_ADDR_SET = 1, OK = 0, ERR = 1;

    private final VdpaSim sim;
    private final byte[] frame = new byte[PAGE];
    private final byte[] small = new byte[8];
    long txPkts, rxPkts, drops, overruns, errors;

    NetSim(VdpaSim sim) {
        this.sim = sim;
    }

    void work() {
        DeviceMemory mem = sim.dma;
        handleCvq(mem);
        Vring tx = sim.vqs[TX];
        Vring rx = sim.vqs[RX];
        if (!tx.usable() || !rx.usable()) {
            return;
        }
        for (int budget = VdpaSim.QUEUE_MAX; ; budget--) {
            if (budget == 0) {
                sim.pendingWork = true;
                return;
            }
            int r = tx.next(mem, true, false);
            if (r <= 0) {
                if (r < 0) {
                    refused(mem, tx);
                }
                return;
            }
            int read = tx.pull(mem, frame, 0, PAGE);
            if (read <= 0) {
                errors++;
                tx.completeAndNotify(mem, tx.head, 0);
                continue;
            }
            txPkts++;
            if (!receiveFilter(read)) {
                drops++;
                tx.completeAndNotify(mem, tx.head, 0);
                continue;
            }
            r = rx.next(mem, false, true);
            if (r <= 0) {
                overruns++;
                if (r < 0) {
                    refused(mem, rx);
                }
                tx.completeAndNotify(mem, tx.head, 0);
                return;
            }
            int written = rx.push(mem, frame, 0, read);
            if (written <= 0) {
                // The kernel leaves both buffers taken and unanswered here; the model returns them empty.
                errors++;
                sim.deviceErrors++;
                tx.completeAndNotify(mem, tx.head, 0);
                rx.completeAndNotify(mem, rx.head, 0);
                return;
            }
            rxPkts++;
            tx.completeAndNotify(mem, tx.head, 0);
            rx.completeAndNotify(mem, rx.head, written);
        }
    }

    private boolean receiveFilter(int len) {
        int hdr = (sim.features & 1L << VdpaSim.F_VERSION_1) != 0 ? 12 : 10;
        if (len < hdr + 6) {
            return false;
        }
        if ((frame[hdr] & 1) != 0) {
            return true;                                    // broadcast or multicast
        }
        for (int i = 0; i < 6; i++) {
            if (frame[hdr + i] != sim.config[i]) {
                return false;
            }
        }
        return true;
    }

    private void handleCvq(DeviceMemory mem) {
        if ((sim.features & 1L << VdpaSim.NET_F_CTRL_VQ) == 0) {
            return;
        }
        Vring cvq = sim.vqs[CVQ];
        if (!cvq.usable()) {
            return;
        }
        int status = ERR;                                   // not reset between requests, as upstream
        for (int budget = VdpaSim.QUEUE_MAX; ; budget--) {
            if (budget == 0) {
                sim.pendingWork = true;
                return;
            }
            int r = cvq.next(mem, true, true);
            if (r <= 0) {
                if (r < 0 && cvq.consumed) {
                    sim.deviceErrors++;
                    cvq.complete(mem, cvq.head, 0);
                    cvq.notifyDriver();
                }
                return;
            }
            if (cvq.pull(mem, small, 0, 2) != 2) {
                // Upstream stops without completing the request; the model returns it unanswered.
                sim.deviceErrors++;
                cvq.complete(mem, cvq.head, 0);
                cvq.notifyDriver();
                return;
            }
            if ((small[0] & 0xff) == CTRL_MAC) {
                status = ERR;
                if ((small[1] & 0xff) == CTRL_MAC_ADDR_SET) {
                    if (sim.profile == VdpaProfile.V6_12) {
                        // 6.12 pulls straight into the config: a short payload still overwrites its bytes.
                        if (cvq.pull(mem, sim.config, 0, 6) == 6) {
                            status = OK;
                        }
                    } else if (cvq.pull(mem, small, 2, 6) == 6) {
                        System.arraycopy(small, 2, sim.config, 0, 6);
                        status = OK;
                    }
                }
            }
            small[0] = (byte) status;
            int w = cvq.push(mem, small, 0, 1);
            cvq.complete(mem, cvq.head, Math.max(w, 0));
            cvq.notifyDriver();
        }
    }

    /** A chain the device refused after taking its head: returned empty (see {@link VdpaSim}). */
    private void refused(DeviceMemory mem, Vring vq) {
        errors++;
        if (vq.consumed) {
            sim.deviceErrors++;
            vq.completeAndNotify(mem, vq.head, 0);
        } else {
            sim.deviceErrors++;
        }
    }
}
