package dev.panavirt.vmm.virtio;

/**
 * A gcc-built guest driver for a virtio-net device on virtio-mmio (virtio 1.2 spec sections 3.1 and 4.2.3):
 * it checks the transport's magic, version and device id, negotiates VERSION_1 and MAC, reads the MAC from
 * config space, sets up the receive and transmit queues (16 entries each) in its RAM, posts one receive
 * buffer, sends one frame addressed to its own MAC, and halts until the used rings show the frame sent and
 * the same frame received (vdpa_sim_net loops transmit to receive). Interrupts arrive as vector 0x30 through
 * IOAPIC pin {@link #GSI}. GUEST_DONE reports the received length; the received frame stays at {@link #RX_BUF}
 * for the host to check.
 */
final class VirtioNetGuest {
    /** The transport's guest-physical address. */
    static final long BASE = 0xd000_0000L;
    /** The IOAPIC pin (and GSI) the device interrupts on. */
    static final int GSI = 5;
    /** Where the guest keeps its rings and buffers. */
    static final long RX_QUEUE = 0x60_0000, TX_QUEUE = 0x61_0000, RX_BUF = 0x62_0000, TX_BUF = 0x63_0000;
    /** The virtio-net header (VERSION_1: 12 bytes) and the frame the guest sends after it. */
    static final int HEADER = 12, FRAME = 60;

    private VirtioNetGuest() {
    }

    static String source() {
        return """
                #define VM 0x%xull
                #define GSI %d
                #define RXQ 0x%xull
                #define TXQ 0x%xull
                #define RXBUF 0x%xull
                #define TXBUF 0x%xull
                #define HDR %d
                #define FRAME %d
                #define QSZ 16
                #define R(off) mmio_read32(VM + (off))
                #define W(off, v) mmio_write32(VM + (off), (v))
                #define BARRIER() __asm__ volatile("" ::: "memory")
                struct desc { u64 addr; u32 len; u16 flags; u16 next; } __attribute__((packed));
                struct avail { u16 flags; u16 idx; u16 ring[QSZ]; u16 used_event; } __attribute__((packed));
                struct used_elem { u32 id; u32 len; } __attribute__((packed));
                struct used { u16 flags; u16 idx; struct used_elem ring[QSZ]; u16 avail_event; } __attribute__((packed));
                static void setup_queue(u32 q, u64 base) {
                    W(0x30, q);
                    GUEST_ASSERT(R(0x44) == 0);
                    GUEST_ASSERT(R(0x34) >= QSZ);
                    W(0x38, QSZ);
                    W(0x80, (u32)base); W(0x84, (u32)(base >> 32));
                    W(0x90, (u32)(base + 0x1000)); W(0x94, 0);
                    W(0xa0, (u32)(base + 0x2000)); W(0xa4, 0);
                    W(0x44, 1);
                    GUEST_ASSERT_EQ(R(0x44), 1);
                }
                int main(void) {
                    pv_irq_setup(0x30);
                    pv_ioapic_route(GSI, 0x30, 0);                   /* edge */

                    GUEST_ASSERT_EQ(R(0x000), 0x74726976);
                    GUEST_ASSERT_EQ(R(0x004), 2);
                    GUEST_ASSERT_EQ(R(0x008), 1);                    /* virtio-net */
                    W(0x070, 0);
                    W(0x070, 1);
                    W(0x070, 1 | 2);
                    W(0x014, 0); u32 f0 = R(0x010);
                    W(0x014, 1); u32 f1 = R(0x010);
                    GUEST_ASSERT(f0 & (1u << 5));                    /* VIRTIO_NET_F_MAC */
                    GUEST_ASSERT(f1 & 1u);                           /* VIRTIO_F_VERSION_1 */
                    GUEST_ASSERT((f1 & 2u) == 0);                    /* ACCESS_PLATFORM is the VMM's business */
                    W(0x024, 0); W(0x020, 1u << 5);
                    W(0x024, 1); W(0x020, 1u);
                    W(0x070, 1 | 2 | 8);
                    GUEST_ASSERT(R(0x070) & 8);                      /* FEATURES_OK stuck */
                    u8 mac[6];
                    for (int i = 0; i < 6; i++) mac[i] = mmio_read8(VM + 0x100 + i);

                    setup_queue(0, RXQ);
                    setup_queue(1, TXQ);
                    W(0x070, 1 | 2 | 8 | 4);                         /* DRIVER_OK */

                    volatile struct desc *rxd = (void *)RXQ, *txd = (void *)TXQ;
                    volatile struct avail *rxa = (void *)(RXQ + 0x1000), *txa = (void *)(TXQ + 0x1000);
                    volatile struct used *rxu = (void *)(RXQ + 0x2000), *txu = (void *)(TXQ + 0x2000);
                    rxd[0].addr = RXBUF; rxd[0].len = 2048; rxd[0].flags = 2; rxd[0].next = 0;
                    rxa->ring[0] = 0; BARRIER(); rxa->idx = 1; BARRIER();
                    W(0x050, 0);

                    volatile u8 *tx = (void *)TXBUF;
                    for (int i = 0; i < HDR; i++) tx[i] = 0;
                    for (int i = 0; i < 6; i++) tx[HDR + i] = mac[i];               /* to our own MAC */
                    u8 src[6] = {0x02, 0, 0, 0, 0, 0x01};
                    for (int i = 0; i < 6; i++) tx[HDR + 6 + i] = src[i];
                    tx[HDR + 12] = 0x88; tx[HDR + 13] = 0xb5;                        /* local experimental */
                    for (int i = 14; i < FRAME; i++) tx[HDR + i] = (u8)(i * 3);
                    txd[0].addr = TXBUF; txd[0].len = HDR + FRAME; txd[0].flags = 0; txd[0].next = 0;
                    txa->ring[0] = 0; BARRIER(); txa->idx = 1; BARRIER();
                    W(0x050, 1);

                    for (u64 spins = 0; rxu->idx != 1 || txu->idx != 1; spins++) {
                        GUEST_ASSERT(spins < 100000);
                        __asm__ volatile("sti; hlt; cli");
                    }
                    pv_wait_irqs(1);                                 /* the completion interrupt, even if the rings were done before the first halt */
                    GUEST_ASSERT_EQ(rxu->ring[0].id, 0);
                    GUEST_ASSERT_EQ(txu->ring[0].id, 0);
                    u32 len = rxu->ring[0].len;
                    GUEST_ASSERT_EQ(len, HDR + FRAME);
                    volatile u8 *rx = (void *)RXBUF;
                    for (u32 i = HDR; i < len; i++) GUEST_ASSERT_EQ(rx[i], tx[i]);
                    W(0x070, 0);                                                     /* reset */
                    GUEST_DONE(len);
                    return 0;
                }
                """.formatted(BASE, GSI, RX_QUEUE, TX_QUEUE, RX_BUF, TX_BUF, HEADER, FRAME);
    }
}
