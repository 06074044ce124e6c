package dev.panavirt.vhost.driver;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.fd.EventFd;
import dev.panavirt.vhost.IovaRange;
import dev.panavirt.vhost.VdpaDevice;
import java.lang.foreign.MemorySegment;

/**
 * A device that offers {@code VIRTIO_F_INDIRECT_DESC} on top of one that does not, for driving the driver's
 * indirect tables through a device's real ring walker: vdpa_sim (and the model after it) offers no indirect
 * descriptors, yet its ring code (the kernel's vringh, the model's {@code Vring}) follows the
 * {@code VRING_DESC_F_INDIRECT} flag regardless. The bit is added to {@link #features()} and removed from
 * {@link #setFeatures} before the inner device sees it; everything else is delegated.
 */
final class IndirectOffering implements VdpaDevice {
    private static final long INDIRECT = 1L << SplitVirtqueue.F_INDIRECT_DESC;
    private final VdpaDevice inner;

    /** The device behind the offer. */
    VdpaDevice inner() {
        return inner;
    }

    IndirectOffering(VdpaDevice inner) {
        this.inner = inner;
    }

    @Override public long features() throws ErrnoException { return inner.features() | INDIRECT; }
    @Override public void setFeatures(long f) throws ErrnoException { inner.setFeatures(f & ~INDIRECT); }
    @Override public int deviceId() throws ErrnoException { return inner.deviceId(); }
    @Override public int status() throws ErrnoException { return inner.status(); }
    @Override public void setStatus(int s) throws ErrnoException { inner.setStatus(s); }
    @Override public long backendFeatures() throws ErrnoException { return inner.backendFeatures(); }
    @Override public void setBackendFeatures(long f) throws ErrnoException { inner.setBackendFeatures(f); }
    @Override public int configSize() throws ErrnoException { return inner.configSize(); }
    @Override public void readConfig(int o, MemorySegment d) throws ErrnoException { inner.readConfig(o, d); }
    @Override public void writeConfig(int o, MemorySegment s) throws ErrnoException { inner.writeConfig(o, s); }
    @Override public int vringNumMax() throws ErrnoException { return inner.vringNumMax(); }
    @Override public int vqsCount() throws ErrnoException { return inner.vqsCount(); }
    @Override public int groupCount() throws ErrnoException { return inner.groupCount(); }
    @Override public int addressSpaceCount() throws ErrnoException { return inner.addressSpaceCount(); }
    @Override public IovaRange iovaRange() throws ErrnoException { return inner.iovaRange(); }
    @Override public void setConfigCall(EventFd c) throws ErrnoException { inner.setConfigCall(c); }
    @Override public void suspend() throws ErrnoException { inner.suspend(); }
    @Override public void resume() throws ErrnoException { inner.resume(); }
    @Override public void setOwner() throws ErrnoException { inner.setOwner(); }
    @Override public void setVringNum(int i, int n) throws ErrnoException { inner.setVringNum(i, n); }
    @Override public void setVringAddr(int i, long d, long a, long u) throws ErrnoException { inner.setVringAddr(i, d, a, u); }
    @Override public void setVringBase(int i, int b) throws ErrnoException { inner.setVringBase(i, b); }
    @Override public int vringBase(int i) throws ErrnoException { return inner.vringBase(i); }
    @Override public void setVringKick(int i, EventFd k) throws ErrnoException { inner.setVringKick(i, k); }
    @Override public void setVringCall(int i, EventFd c) throws ErrnoException { inner.setVringCall(i, c); }
    @Override public void setVringEnable(int i, boolean e) throws ErrnoException { inner.setVringEnable(i, e); }
    @Override public int vringGroup(int i) throws ErrnoException { return inner.vringGroup(i); }
    @Override public int vringDescGroup(int i) throws ErrnoException { return inner.vringDescGroup(i); }
    @Override public int vringSize(int i) throws ErrnoException { return inner.vringSize(i); }
    @Override public void setGroupAsid(int g, int a) throws ErrnoException { inner.setGroupAsid(g, a); }
    @Override public void iotlbUpdate(int asid, long iova, MemorySegment m, int p) throws ErrnoException { inner.iotlbUpdate(asid, iova, m, p); }
    @Override public void iotlbInvalidate(int asid, long iova, long s) throws ErrnoException { inner.iotlbInvalidate(asid, iova, s); }
    @Override public void iotlbBatchBegin(int asid) throws ErrnoException { inner.iotlbBatchBegin(asid); }
    @Override public void iotlbBatchEnd(int asid) throws ErrnoException { inner.iotlbBatchEnd(asid); }
    @Override public void close() { inner.close(); }
}
