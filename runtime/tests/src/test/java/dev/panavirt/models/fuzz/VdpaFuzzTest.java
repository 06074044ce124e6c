package dev.panavirt.models.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vdpa.VdpaProfile;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.testsupport.HeapHostMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What a vhost-vdpa user controls in the vDPA model: ioctl arguments, IOTLB messages (raw bytes and
 * contents), config writes, and every byte of the rings and buffers (descriptor chains, indexes, flags,
 * indirect tables, requests). Only ErrnoExceptions with a documented errno come out; every kick returns
 * (bounded work); the device touches host memory only where one of its tables maps it.
 */
class VdpaFuzzTest {
    static final long BASE = 0x7000_0000L;
    static final int SIZE = 1 << 14;
    static final Set<Integer> DOCUMENTED = Set.of(Errno.EPERM, Errno.EBUSY, Errno.EINVAL, Errno.EFAULT,
            Errno.ENOBUFS, Errno.EOPNOTSUPP);

    @FuzzTest(maxDuration = "10s")
    void ioctlsIotlbAndRings(FuzzedDataProvider data) throws Exception {
        VdpaProfile profile = data.consumeBoolean() ? VdpaProfile.LATEST : VdpaProfile.V6_12;
        VdpaSim.Options options = new VdpaSim.Options(profile, data.consumeBoolean(), data.pickValue(new int[] {0, 2, 2048}));
        VdpaSim[] holder = new VdpaSim[1];
        // The device tables as of the current step, copied once per step: copying them (up to 2,048 entries each)
        // on every access was where the long run's timed-out input spent its time. A miss is checked again against
        // the live tables, so a mapping made within the step is still seen (one removed within it counts until the
        // next step).
        List<List<VdpaSim.Mapping>> tables = new ArrayList<>();
        HeapHostMemory mem = new HeapHostMemory(BASE, SIZE, (vaddr, length) -> assertTrue(
                mapped(tables, vaddr, length) || mapped(tablesOf(holder[0]), vaddr, length),
                "access to 0x" + Long.toHexString(vaddr) + "+" + length + " that no device table maps"));
        byte[] ram = mem.bytes;
        byte[] mac = data.consumeBytes(6);
        VdpaSim s = mac.length == 6 && data.consumeBoolean() ? VdpaSim.net(mac, options, mem) : VdpaSim.blk(options, mem);
        holder[0] = s;
        int steps = data.consumeInt(1, 80);
        for (int i = 0; i < steps && data.remainingBytes() > 0; i++) {
            tables.clear();
            tables.addAll(tablesOf(s));
            int vq = data.consumeInt(-1, 3);
            try {
                switch (data.consumeInt(0, 15)) {
                    case 0 -> s.setOwner();
                    case 1 -> s.setStatus(data.consumeInt(0, 255));
                    case 2 -> s.setFeatures(data.consumeBoolean() ? s.features() : data.consumeLong());
                    case 3 -> s.setBackendFeatures(data.consumeBoolean() ? VdpaSim.BACKEND_FEATURES : data.consumeLong(0, 0x3ff));
                    case 4 -> s.setVringNum(vq, data.pickValue(new int[] {1, 2, 4, 8, 16, 3, 0, 512}));
                    case 5 -> s.setVringAddr(vq, data.consumeInt(0, 2), BASE + data.consumeLong(0, SIZE),
                            BASE + data.consumeLong(0, SIZE), BASE + data.consumeLong(0, SIZE), 0);
                    case 6 -> s.setVringBase(vq, data.consumeInt(0, 0x10001));
                    case 7 -> s.setVringEnable(vq, data.consumeBoolean());
                    case 8 -> s.setGroupAsid(vq, data.consumeInt(0, 2));
                    case 9 -> {
                        byte[] m = data.consumeBytes(80);
                        s.write(m, m.length);
                    }
                    case 10 -> s.iotlb(data.consumeInt(0, 2), data.consumeInt(0, 7),
                            data.consumeBoolean() ? BASE + data.consumeLong(0, SIZE) : data.consumeLong(),
                            data.consumeBoolean() ? data.consumeLong(0, SIZE) : data.consumeLong(),
                            BASE + data.consumeLong(-0x100, SIZE), data.consumeInt(0, 3));
                    case 11 -> {
                        byte[] c = data.consumeBytes(100);
                        s.setConfig(data.consumeInt(0, 120), c, data.consumeInt(0, c.length));
                    }
                    case 12 -> {
                        int at = data.consumeInt(0, SIZE - 1);
                        byte[] b = data.consumeBytes(64);
                        System.arraycopy(b, 0, ram, at, Math.min(b.length, SIZE - at));
                    }
                    case 13 -> {
                        if (data.consumeBoolean()) {
                            s.suspend();
                        } else {
                            s.resume();
                        }
                    }
                    case 14 -> s.getConfig(data.consumeInt(0, 120), new byte[128], data.consumeInt(0, 128));
                    default -> {
                        s.kick(vq);
                        for (int p = 0; p < 300 && s.runPendingWork(); p++) {
                            // bounded
                        }
                    }
                }
            } catch (ErrnoException e) {
                if (!DOCUMENTED.contains(e.errno())) {
                    throw new AssertionError("undocumented errno " + e.getMessage(), e);
                }
            }
        }
        s.release();
    }

    private static List<List<VdpaSim.Mapping>> tablesOf(VdpaSim s) {
        List<List<VdpaSim.Mapping>> out = new ArrayList<>();
        for (int as = 0; as < s.addressSpaceCount(); as++) {
            out.add(s.deviceMappings(as));
        }
        return out;
    }

    private static boolean mapped(List<List<VdpaSim.Mapping>> tables, long uaddr, int length) {
        for (List<VdpaSim.Mapping> maps : tables) {
            for (VdpaSim.Mapping m : maps) {
                long off = uaddr - m.uaddr();
                long entry = m.last() - m.start();
                if (Long.compareUnsigned(off, entry) <= 0 && Long.compareUnsigned(length - 1, entry - off) <= 0) {
                    return true;
                }
            }
        }
        return false;
    }
}
