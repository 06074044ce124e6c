package dev.panavirt.vmm.virtio;

/**
 * A gcc-built guest driver for a virtio-blk device on virtio-mmio (virtio 1.2 spec sections 4.2.3 and 5.2): it
 * checks the transport's magic, version and device id, negotiates VERSION_1, FLUSH and RO where offered, reads
 * the capacity from config space, sets up queue 0 (16 entries) in its RAM and posts four requests at once: IN
 * of sector 0, OUT of a pattern to sector 1, FLUSH, GET_ID; then halts until all four are used. Interrupts arrive
 * as vector 0x30 through IOAPIC pin {@link #GSI}.
 *
 * <p>It leaves for the host, at {@link #RESULT}: device features 0-31 and 32-63 (u32 each), the capacity (u64),
 * and the four used lengths (u32 each); the sector read at {@link #DATA}, the sector written at
 * {@link #DATA} + 0x1000 (byte i = i * 7 + 3), the id at {@link #DATA} + 0x2000. GUEST_DONE reports the four
 * status bytes, request i in bits 8i..8i+7.
 */
final class VirtioBlkGuest {
    /** The transport's guest-physical address. */
    static final long BASE = 0xd000_0000L;
    /** The IOAPIC pin (and GSI) the device interrupts on. */
    static final int GSI = 5;
    /** Queue (descriptors, avail +0x1000, used +0x2000), request headers and statuses, buffers, results. */
    static final long QUEUE = 0x60_0000, HEADERS = 0x61_0000, DATA = 0x62_0000, RESULT = 0x63_0000;

    private VirtioBlkGuest() {
    }

    /** The bytes the guest writes to sector 1. */
    static byte[] written() {
        byte[] b = new byte[512];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 7 + 3);
        }
        return b;
    }

    static String source() {
        return """
                #define VM 0x%xull
                #define GSI %d
                #define Q 0x%xull
                #define HDRS 0x%xull
                #define DATA 0x%xull
                #define RESULT 0x%xull
                #define QSZ 16
                #define R(off) mmio_read32(VM + (off))
                #define W(off, v) mmio_write32(VM + (off), (v))
                #define BARRIER() __asm__ volatile("" ::: "memory")
                struct desc { u64 addr; u32 len; u16 flags; u16 next; } __attribute__((packed));
                struct avail { u16 flags; u16 idx; u16 ring[QSZ]; u16 used_event; } __attribute__((packed));
                struct used_elem { u32 id; u32 len; } __attribute__((packed));
                struct used { u16 flags; u16 idx; struct used_elem ring[QSZ]; u16 avail_event; } __attribute__((packed));
                struct hdr { u32 type; u32 ioprio; u64 sector; } __attribute__((packed));
                static volatile struct desc *d = (void *)Q;
                static volatile struct avail *av = (void *)(Q + 0x1000);
                static volatile struct used *us = (void *)(Q + 0x2000);
                static volatile u8 *status = (void *)(HDRS + 0x100);
                /* Request i: descriptors 3i (header), 3i+1 (data, if any), 3i+2 (status). */
                static void request(int i, u32 type, u64 sector, u64 data, u32 len, int device_writes) {
                    volatile struct hdr *h = (void *)(HDRS + 16 * i);
                    h->type = type; h->ioprio = 0; h->sector = sector;
                    status[i] = 0xff;
                    int n = 3 * i;
                    d[n].addr = (u64)h; d[n].len = 16; d[n].flags = 1; d[n].next = n + 1;
                    if (len) {
                        d[n + 1].addr = data; d[n + 1].len = len; d[n + 1].flags = 1 | (device_writes ? 2 : 0);
                        d[n + 1].next = n + 2;
                    } else {
                        d[n].next = n + 2;
                    }
                    d[n + 2].addr = (u64)&status[i]; d[n + 2].len = 1; d[n + 2].flags = 2; d[n + 2].next = 0;
                    av->ring[i] = n;
                }
                int main(void) {
                    pv_irq_setup(0x30);
                    pv_ioapic_route(GSI, 0x30, 0);                   /* edge */

                    GUEST_ASSERT_EQ(R(0x000), 0x74726976);
                    GUEST_ASSERT_EQ(R(0x004), 2);
                    GUEST_ASSERT_EQ(R(0x008), 2);                    /* virtio-blk */
                    W(0x070, 0);
                    W(0x070, 1);
                    W(0x070, 1 | 2);
                    W(0x014, 0); u32 f0 = R(0x010);
                    W(0x014, 1); u32 f1 = R(0x010);
                    volatile u32 *result = (void *)RESULT;
                    result[0] = f0; result[1] = f1;
                    GUEST_ASSERT(f1 & 1u);                           /* VIRTIO_F_VERSION_1 */
                    GUEST_ASSERT(f0 & (1u << 9));                    /* VIRTIO_BLK_F_FLUSH */
                    W(0x024, 0); W(0x020, f0 & ((1u << 9) | (1u << 5)));     /* FLUSH, RO */
                    W(0x024, 1); W(0x020, 1u);
                    W(0x070, 1 | 2 | 8);
                    GUEST_ASSERT(R(0x070) & 8);                      /* FEATURES_OK stuck */
                    *(volatile u64 *)(RESULT + 8) = R(0x100) | (u64)R(0x104) << 32;

                    W(0x030, 0);
                    GUEST_ASSERT(R(0x044) == 0);
                    GUEST_ASSERT(R(0x034) >= QSZ);
                    W(0x038, QSZ);
                    W(0x080, (u32)Q); W(0x084, 0);
                    W(0x090, (u32)(Q + 0x1000)); W(0x094, 0);
                    W(0x0a0, (u32)(Q + 0x2000)); W(0x0a4, 0);
                    W(0x044, 1);
                    W(0x070, 1 | 2 | 8 | 4);                         /* DRIVER_OK */

                    volatile u8 *out = (void *)(DATA + 0x1000);
                    for (int i = 0; i < 512; i++) out[i] = (u8)(i * 7 + 3);
                    request(0, 0, 0, DATA, 512, 1);                  /* IN sector 0 */
                    request(1, 1, 1, DATA + 0x1000, 512, 0);         /* OUT sector 1 */
                    request(2, 4, 0, 0, 0, 0);                       /* FLUSH */
                    request(3, 8, 0, DATA + 0x2000, 20, 1);          /* GET_ID */
                    BARRIER(); av->idx = 4; BARRIER();
                    W(0x050, 0);

                    for (u64 spins = 0; us->idx != 4; spins++) {
                        GUEST_ASSERT(spins < 100000);
                        __asm__ volatile("sti; hlt; cli");
                    }
                    pv_wait_irqs(1);
                    for (int i = 0; i < 4; i++) {
                        GUEST_ASSERT_EQ(us->ring[i].id, 3 * i);      /* served in order */
                        result[4 + i] = us->ring[i].len;
                    }
                    W(0x070, 0);                                     /* reset */
                    GUEST_DONE(status[0] | status[1] << 8 | status[2] << 16 | (u32)status[3] << 24);
                    return 0;
                }
                """.formatted(BASE, GSI, QUEUE, HEADERS, DATA, RESULT);
    }
}
