package dev.panavirt.vfio;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.BitmapWords;
import dev.panavirt.models.vfio.HostMemory;
import dev.panavirt.models.vfio.IommuGroupKind;
import dev.panavirt.models.vfio.Type1Info;
import dev.panavirt.models.vfio.Type1Iommu;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * {@link Iommu} served by the software type1 model ({@link Type1Iommu}, which follows
 * {@code drivers/vfio/vfio_iommu_type1.c}): same checks, errnos and dirty-page rules as a kernel container, on
 * any host. The model reaches process memory only inside the segments mapped through {@link #map} (bounds
 * checked; anything else is {@code EFAULT}), and writes dirty bitmaps straight into the caller's segment,
 * allocating nothing per report.
 *
 * <p>A fresh container has no group: mappings are recorded but nothing is pinned, like an emulated-only
 * container. Devices attach through {@link #attachGroup} ({@link EduModelDevice} does it for itself).
 */
public final class ModelIommu implements Iommu {

    private final SegmentMemory memory = new SegmentMemory();
    private final SegmentBitmap bitmapWords = new SegmentBitmap();
    private final Type1Iommu model;
    private boolean closed;

    private ModelIommu(int type, Type1Iommu.Options options) throws ErrnoException {
        this.model = Type1Iommu.open(type, options, memory);
    }

    /** A v2 container with the model's default options (latest kernel, 65535 entries). */
    public static ModelIommu open() {
        try {
            return new ModelIommu(Type1Iommu.TYPE1V2, Type1Iommu.Options.defaults());
        } catch (ErrnoException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * A container of IOMMU {@code type} ({@code VFIO_SET_IOMMU}: 1, 3 or 6) with {@code options}.
     *
     * @throws ErrnoException {@code EINVAL} for another type, as {@code vfio_iommu_type1_open}
     */
    public static ModelIommu open(int type, Type1Iommu.Options options) throws ErrnoException {
        return new ModelIommu(type, options);
    }

    /** The model behind this container, for what the interface does not say (groups, pinning, inspection). */
    public Type1Iommu model() {
        return model;
    }

    /** Attaches a group of {@code kind} to the model ({@link Type1Iommu#attachGroup}). */
    public Type1Iommu.Group attachGroup(IommuGroupKind kind) throws ErrnoException {
        ensureOpen();
        return model.attachGroup(kind);
    }

    @Override
    public int checkExtension(int extension) {
        ensureOpen();
        return model.checkExtension(Integer.toUnsignedLong(extension));
    }

    @Override
    public IommuInfo info() throws ErrnoException {
        ensureOpen();
        Type1Info i = model.getInfo(Type1Info.HEADER);
        List<IommuInfo.IovaRange> ranges = new ArrayList<>();
        for (Type1Iommu.IovaRange r : i.iovaRanges()) {
            ranges.add(new IommuInfo.IovaRange(r.start(), r.end()));
        }
        return new IommuInfo(i.iovaPgsizes(), ranges,
                Optional.of(new IommuInfo.Migration(0, i.migrationPgsizes(), i.maxDirtyBitmapSize())),
                OptionalInt.of(i.dmaAvail()));
    }

    @Override
    public void map(long iova, MemorySegment buffer, int access) throws ErrnoException {
        ensureOpen();
        if (!buffer.isNative()) {
            throw new IllegalArgumentException("DMA buffers are native segments");
        }
        memory.add(iova, buffer);
        try {
            model.map(iova, buffer.address(), buffer.byteSize(), access);
        } catch (ErrnoException | RuntimeException e) {
            memory.remove(iova, buffer);
            throw e;
        }
    }

    @Override
    public long unmap(long iova, long size) throws ErrnoException {
        ensureOpen();
        try {
            return model.unmap(iova, size);
        } finally {
            prune();
        }
    }

    @Override
    public long unmapAll() throws ErrnoException {
        ensureOpen();
        try {
            return model.unmapAll();
        } finally {
            prune();
        }
    }

    @Override
    public long unmapAndReadDirty(long iova, long size, long pageSize, MemorySegment bitmap) throws ErrnoException {
        ensureOpen();
        try {
            synchronized (bitmapWords) {
                SegmentBitmap words = bitmapWords.of(bitmap);
                try {
                    return model.unmapDma(Type1Iommu.UNMAP_SIZE + Type1Iommu.BITMAP_SIZE,
                            Type1Iommu.UNMAP_GET_DIRTY_BITMAP, iova, size, pageSize, bitmap.byteSize(),
                            bitmap.address(), words);
                } finally {
                    words.done();
                }
            }
        } finally {
            prune();
        }
    }

    @Override
    public void startDirtyTracking() throws ErrnoException {
        ensureOpen();
        model.startDirtyTracking();
    }

    @Override
    public void stopDirtyTracking() throws ErrnoException {
        ensureOpen();
        model.stopDirtyTracking();
    }

    @Override
    public void readDirty(long iova, long size, long pageSize, MemorySegment bitmap) throws ErrnoException {
        ensureOpen();
        synchronized (bitmapWords) {
            SegmentBitmap words = bitmapWords.of(bitmap);
            try {
                model.getDirtyBitmap(iova, size, pageSize, bitmap.byteSize(), bitmap.address(), words);
            } finally {
                words.done();
            }
        }
    }

    /** Unmaps everything and forgets the mapped segments; idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            model.unmapAll();
        } catch (ErrnoException e) {
            throw new AssertionError("UNMAP_DMA ALL cannot fail", e);
        }
        memory.clear();
    }

    private void ensureOpen() {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the IOMMU is closed");
            }
        }
    }

    /** Forgets the segments whose mappings are gone. */
    private void prune() {
        memory.retain(model);
    }

    /** Process memory = the mapped segments; anything else faults. */
    private static final class SegmentMemory implements HostMemory {
        private final List<long[]> keys = new ArrayList<>();          // {iova}
        private final List<MemorySegment> segments = new ArrayList<>();

        synchronized void add(long iova, MemorySegment s) {
            keys.add(new long[] {iova});
            segments.add(s);
        }

        synchronized void remove(long iova, MemorySegment s) {
            for (int i = segments.size() - 1; i >= 0; i--) {
                if (segments.get(i) == s && keys.get(i)[0] == iova) {
                    segments.remove(i);
                    keys.remove(i);
                    return;
                }
            }
        }

        /** Keeps the segments that still back a mapping; takes the model's lock first, never inside this one. */
        void retain(Type1Iommu model) {
            var live = model.mappings();
            synchronized (this) {
                for (int i = segments.size() - 1; i >= 0; i--) {
                    long iova = keys.get(i)[0];
                    long vaddr = segments.get(i).address();
                    if (live.stream().noneMatch(m -> m.iova() == iova && m.vaddr() == vaddr)) {
                        segments.remove(i);
                        keys.remove(i);
                    }
                }
            }
        }

        synchronized void clear() {
            segments.clear();
            keys.clear();
        }

        private MemorySegment find(long vaddr, long length) {
            for (int i = 0, n = segments.size(); i < n; i++) {
                MemorySegment s = segments.get(i);
                long off = vaddr - s.address();
                if (off >= 0 && length >= 0 && off <= s.byteSize() - length) {
                    return s;
                }
            }
            return null;
        }

        @Override
        public synchronized void read(long vaddr, byte[] dst, int offset, int length) throws ErrnoException {
            MemorySegment s = find(vaddr, length);
            if (s == null) {
                throw new ErrnoException("copy_from_user", Errno.EFAULT, length + " bytes at 0x"
                        + Long.toHexString(vaddr) + " outside every mapped segment");
            }
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, vaddr - s.address(), dst, offset, length);
        }

        @Override
        public synchronized void write(long vaddr, byte[] src, int offset, int length) throws ErrnoException {
            MemorySegment s = find(vaddr, length);
            if (s == null) {
                throw new ErrnoException("copy_to_user", Errno.EFAULT, length + " bytes at 0x"
                        + Long.toHexString(vaddr) + " outside every mapped segment");
            }
            MemorySegment.copy(src, offset, s, ValueLayout.JAVA_BYTE, vaddr - s.address(), length);
        }

        @Override
        public synchronized boolean backed(long vaddr, long size) {
            return find(vaddr, size) != null;
        }
    }

    /** The caller's bitmap segment as words; one instance reused, so a report allocates nothing. */
    private static final class SegmentBitmap implements BitmapWords {
        private MemorySegment segment = MemorySegment.NULL;

        SegmentBitmap of(MemorySegment s) {
            if (!s.isNative()) {
                throw new IllegalArgumentException("dirty bitmaps are native segments");
            }
            segment = s;
            return this;
        }

        void done() {
            segment = MemorySegment.NULL;
        }

        @Override
        public long read(long index) throws ErrnoException {
            return segment.get(ValueLayout.JAVA_LONG_UNALIGNED, offset(index));
        }

        @Override
        public void write(long index, long value) throws ErrnoException {
            segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset(index), value);
        }

        /** All-clear and all-set runs as one bulk fill; anything else, or a run that faults, word by word. */
        @Override
        public void fill(long index, long count, long value) throws ErrnoException {
            if ((value == 0 || value == -1L) && index >= 0 && count >= 0
                    && count <= (segment.byteSize() >>> 3) - index) {
                segment.asSlice(index << 3, count << 3).fill((byte) value);
            } else {
                BitmapWords.super.fill(index, count, value);
            }
        }

        private long offset(long index) throws ErrnoException {
            if (index < 0 || index >= segment.byteSize() >>> 3) {
                throw new ErrnoException("copy_to_user", Errno.EFAULT, "bitmap word " + index + " outside the "
                        + segment.byteSize() + "-byte bitmap");
            }
            return index << 3;
        }
    }
}
