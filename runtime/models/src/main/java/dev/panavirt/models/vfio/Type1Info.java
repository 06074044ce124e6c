package dev.panavirt.models.vfio;

import java.util.List;

/**
 * What {@code VFIO_IOMMU_GET_INFO} reports ({@code drivers/vfio/vfio_iommu_type1.c},
 * {@code vfio_iommu_type1_get_info}), as values and as the bytes the kernel writes.
 *
 * <p>The capability chain is always MIGRATION, then DMA_AVAIL, then IOVA_RANGE when the IOVA list is not
 * empty, each padded to 8 bytes ({@code drivers/vfio/vfio_main.c}, {@code vfio_info_cap_add}), placed at
 * offset 24 with absolute next offsets ({@code vfio_info_cap_shift}).
 *
 * @param iovaPgsizes        {@code iova_pgsizes}: the container's page-size bitmap
 * @param migrationPgsizes   MIGRATION cap's {@code pgsize_bitmap}: the smallest page size only
 * @param maxDirtyBitmapSize MIGRATION cap's {@code max_dirty_bitmap_size} (256 MiB)
 * @param dmaAvail           DMA_AVAIL cap's {@code avail}
 * @param iovaRanges         IOVA_RANGE cap's ranges (empty: no such cap)
 */
public record Type1Info(long iovaPgsizes, long migrationPgsizes, long maxDirtyBitmapSize, int dmaAvail,
        List<Type1Iommu.IovaRange> iovaRanges) {

    /** {@code sizeof(struct vfio_iommu_type1_info)}. */
    public static final int HEADER = 24;
    /** {@code offsetofend(struct vfio_iommu_type1_info, iova_pgsizes)}: the smallest argsz accepted. */
    public static final int MINSZ = 16;
    /** {@code VFIO_IOMMU_INFO_PGSIZES}. */
    public static final int FLAG_PGSIZES = 1;
    /** {@code VFIO_IOMMU_INFO_CAPS}. */
    public static final int FLAG_CAPS = 2;
    /** Capability ids: IOVA_RANGE 1, MIGRATION 2, DMA_AVAIL 3. */
    public static final int CAP_IOVA_RANGE = 1, CAP_MIGRATION = 2, CAP_DMA_AVAIL = 3;

    /** @throws NullPointerException if {@code iovaRanges} is null */
    public Type1Info {
        iovaRanges = List.copyOf(iovaRanges);
    }

    /** Bytes of the capability chain: 32 + 16, plus 16 + 16 per range when there are ranges. */
    public int capsSize() {
        return 32 + 16 + (iovaRanges.isEmpty() ? 0 : 16 + 16 * iovaRanges.size());
    }

    /** The {@code argsz} a caller needs for the whole chain. */
    public int fullSize() {
        return HEADER + capsSize();
    }

    /**
     * The bytes {@code VFIO_IOMMU_GET_INFO} writes into a zeroed buffer of {@code argsz} bytes ({@code argsz}
     * ≥ {@link #MINSZ}, checked by {@link Type1Iommu#getInfo}): the caps at 24 only when {@code argsz} holds
     * them all (else the header's argsz is raised to {@link #fullSize()} and cap_offset stays 0), then the
     * first {@code min(argsz, 24)} header bytes. The array is as long as the bytes written reach:
     * {@link #fullSize()} when the chain fits, else {@code min(argsz, 24)}.
     */
    public byte[] toBytes(int argsz) {
        long in = Integer.toUnsignedLong(argsz);
        int full = fullSize();
        boolean caps = in >= full;
        byte[] out = new byte[caps ? full : (int) Math.min(in, HEADER)];
        if (caps) {
            int at = HEADER;
            int next = iovaRanges.isEmpty() ? 0 : HEADER + 48;
            // MIGRATION
            putInt(out, at, CAP_MIGRATION | 1 << 16);
            putInt(out, at + 4, HEADER + 32);
            putInt(out, at + 8, 0);
            putLong(out, at + 16, migrationPgsizes);
            putLong(out, at + 24, maxDirtyBitmapSize);
            at += 32;
            putInt(out, at, CAP_DMA_AVAIL | 1 << 16);
            putInt(out, at + 4, next);
            putInt(out, at + 8, dmaAvail);
            at += 16;
            if (!iovaRanges.isEmpty()) {
                putInt(out, at, CAP_IOVA_RANGE | 1 << 16);
                putInt(out, at + 4, 0);
                putInt(out, at + 8, iovaRanges.size());
                for (int i = 0; i < iovaRanges.size(); i++) {
                    putLong(out, at + 16 + 16 * i, iovaRanges.get(i).start());
                    putLong(out, at + 24 + 16 * i, iovaRanges.get(i).end());
                }
            }
        }
        byte[] header = new byte[HEADER];
        putInt(header, 0, caps ? argsz : full);
        putInt(header, 4, FLAG_PGSIZES | FLAG_CAPS);
        putLong(header, 8, iovaPgsizes);
        putInt(header, 16, caps ? HEADER : 0);
        System.arraycopy(header, 0, out, 0, (int) Math.min(in, HEADER));
        return out;
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
