package dev.panavirt.vfio.session;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.replay.SessionTarget;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.IommuInfo;
import dev.panavirt.vfio.VfioDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A session script's view of a VFIO IOMMU and, optionally, a device behind it: the {@code dma-*},
 * {@code dirty-*}, {@code ext} and {@code iommu-info} operations go to the {@link Iommu}; {@code read} and
 * {@code write} reach the device's BAR0 and {@code region-*} any of its regions; {@code mem-write} and
 * {@code mem-read} reach a host buffer that {@code dma-map} maps slices of (by offset), so a script names
 * memory the same way on the kernel and on the model. The same class serves both: it is written against the
 * interfaces only.
 *
 * <p>Symbols: the VFIO extension and region-index constants ({@code VFIO_TYPE1v2_IOMMU}, {@code VFIO_UNMAP_ALL},
 * {@code VFIO_PCI_CONFIG_REGION_INDEX}, ...) and the edu device's registers ({@code EDU_ID},
 * {@code EDU_FACTORIAL}, {@code EDU_DMA_CMD}, ... as QEMU's hw/misc/edu.c lays them out).
 */
public final class VfioSessionTarget implements SessionTarget, AutoCloseable {
    /** The host buffer's size unless asked otherwise: 16 MiB. */
    public static final long DEFAULT_BUFFER = 16L << 20;

    private static final Map<String, Long> SYMBOLS = Map.ofEntries(
            Map.entry("VFIO_TYPE1_IOMMU", (long) vfio_h.VFIO_TYPE1_IOMMU()),
            Map.entry("VFIO_TYPE1v2_IOMMU", (long) vfio_h.VFIO_TYPE1v2_IOMMU()),
            Map.entry("VFIO_TYPE1_NESTING_IOMMU", (long) vfio_h.VFIO_TYPE1_NESTING_IOMMU()),
            Map.entry("VFIO_DMA_CC_IOMMU", (long) vfio_h.VFIO_DMA_CC_IOMMU()),
            Map.entry("VFIO_UNMAP_ALL", (long) vfio_h.VFIO_UNMAP_ALL()),
            Map.entry("VFIO_UPDATE_VADDR", (long) vfio_h.VFIO_UPDATE_VADDR()),
            Map.entry("VFIO_NOIOMMU_IOMMU", (long) vfio_h.VFIO_NOIOMMU_IOMMU()),
            Map.entry("VFIO_PCI_BAR0_REGION_INDEX", (long) vfio_h.VFIO_PCI_BAR0_REGION_INDEX()),
            Map.entry("VFIO_PCI_CONFIG_REGION_INDEX", (long) vfio_h.VFIO_PCI_CONFIG_REGION_INDEX()),
            Map.entry("EDU_ID", 0x00L), Map.entry("EDU_LIVENESS", 0x04L), Map.entry("EDU_FACTORIAL", 0x08L),
            Map.entry("EDU_STATUS", 0x20L), Map.entry("EDU_IRQ_STATUS", 0x24L), Map.entry("EDU_IRQ_RAISE", 0x60L),
            Map.entry("EDU_IRQ_ACK", 0x64L), Map.entry("EDU_DMA_SRC", 0x80L), Map.entry("EDU_DMA_DST", 0x88L),
            Map.entry("EDU_DMA_COUNT", 0x90L), Map.entry("EDU_DMA_CMD", 0x98L), Map.entry("EDU_DMA_BUFFER", 0x40000L));

    private final String name;
    private final Iommu iommu;
    private final VfioDevice device;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;
    private final AutoCloseable[] owned;

    /**
     * @param name   for reports, e.g. {@code vfio-type1-kernel}
     * @param iommu  the IOMMU the script maps through
     * @param device the device behind it, or {@code null} for an IOMMU-only session
     * @param bufferBytes the host buffer's size, a multiple of 4096
     * @param owned  what {@link #close()} closes after unmapping, in order (e.g. the device, then the container)
     */
    public VfioSessionTarget(String name, Iommu iommu, VfioDevice device, long bufferBytes, AutoCloseable... owned) {
        if (bufferBytes <= 0 || (bufferBytes & 0xfff) != 0) {
            throw new IllegalArgumentException("buffer bytes must be a positive multiple of 4096: " + bufferBytes);
        }
        this.name = name;
        this.iommu = iommu;
        this.device = device;
        this.buffer = arena.allocate(bufferBytes, 4096);
        this.owned = owned.clone();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public OptionalLong symbol(String symbol) {
        Long v = SYMBOLS.get(symbol);
        return v == null ? OptionalLong.empty() : OptionalLong.of(v);
    }

    private VfioDevice device() {
        if (device == null) {
            throw new UnsupportedOperationException("no device in this session");
        }
        return device;
    }

    @Override
    public long read(long address, int width) throws ErrnoException {
        return device().read(0, address, width);
    }

    @Override
    public void write(long address, int width, long value) throws ErrnoException {
        device().write(0, address, width, value);
    }

    @Override
    public long regionRead(int region, long offset, int width) throws ErrnoException {
        return device().read(region, offset, width);
    }

    @Override
    public void regionWrite(int region, long offset, int width, long value) throws ErrnoException {
        device().write(region, offset, width, value);
    }

    @Override
    public void memWrite(long offset, byte[] data) {
        MemorySegment.copy(data, 0, buffer, ValueLayout.JAVA_BYTE, offset, data.length);
    }

    @Override
    public byte[] memRead(long offset, int length) {
        return buffer.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public int checkExtension(int extension) throws ErrnoException {
        return iommu.checkExtension(extension);
    }

    @Override
    public String iommuInfo() throws ErrnoException {
        IommuInfo i = iommu.info();
        StringBuilder sb = new StringBuilder("pgsizes 0x").append(Long.toHexString(i.pageSizes()));
        sb.append(" ranges ").append(i.iovaRanges());
        i.migration().ifPresent(m -> sb.append(" migration pgsizes 0x").append(Long.toHexString(m.pageSizes()))
                .append(" max 0x").append(Long.toHexString(m.maxDirtyBitmapSize())));
        i.dmaAvail().ifPresent(n -> sb.append(" dma_avail ").append(n));
        return sb.toString();
    }

    @Override
    public void dmaMap(long iova, long size, long offset, int access) throws ErrnoException {
        iommu.map(iova, slice(offset, size), access);
    }

    @Override
    public long dmaUnmap(long iova, long size) throws ErrnoException {
        return iommu.unmap(iova, size);
    }

    @Override
    public long dmaUnmapAll() throws ErrnoException {
        return iommu.unmapAll();
    }

    @Override
    public long dmaUnmapDirty(long iova, long size, long pageSize, byte[] bitmap) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(Math.max(1, bitmap.length), 8).asSlice(0, bitmap.length);
            long unmapped = iommu.unmapAndReadDirty(iova, size, pageSize, b);
            MemorySegment.copy(b, ValueLayout.JAVA_BYTE, 0, bitmap, 0, bitmap.length);
            return unmapped;
        }
    }

    @Override
    public void dirtyTracking(boolean on) throws ErrnoException {
        if (on) {
            iommu.startDirtyTracking();
        } else {
            iommu.stopDirtyTracking();
        }
    }

    @Override
    public void dirtyBitmap(long iova, long size, long pageSize, byte[] bitmap) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(Math.max(1, bitmap.length), 8).asSlice(0, bitmap.length);
            iommu.readDirty(iova, size, pageSize, b);
            MemorySegment.copy(b, ValueLayout.JAVA_BYTE, 0, bitmap, 0, bitmap.length);
        }
    }

    private MemorySegment slice(long offset, long size) {
        if (offset < 0 || size < 0 || offset > buffer.byteSize() || size > buffer.byteSize() - offset) {
            throw new IllegalArgumentException("buffer slice 0x" + Long.toHexString(offset) + "+0x"
                    + Long.toHexString(size) + " is outside the 0x" + Long.toHexString(buffer.byteSize())
                    + "-byte host buffer");
        }
        return buffer.asSlice(offset, size);
    }

    /** The IOMMU as {@code iommu-info} prints it (page sizes, ranges, migration, available mappings). */
    @Override
    public String state() {
        try {
            return iommuInfo();
        } catch (ErrnoException e) {
            return "iommu-info " + e.getMessage();
        }
    }

    /**
     * Unmaps everything still mapped, closes what the target owns, then frees the host buffer (last, so no
     * device can still reach it).
     */
    @Override
    public void close() {
        try {
            iommu.unmapAll();
        } catch (ErrnoException | IllegalStateException e) {
            // already closed, or the container never got an IOMMU: nothing is mapped then
        }
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                // keep closing the rest; the buffer must go either way
            }
        }
        arena.close();
    }
}
