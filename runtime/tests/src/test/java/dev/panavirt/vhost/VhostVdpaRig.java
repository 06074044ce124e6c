package dev.panavirt.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.function.Executable;

/**
 * What the kernel tests of {@link VhostVdpa} share: the lane's two simulator nodes, virtio constants, vdpa_sim's
 * module parameters as the running kernel has them, and an errno assertion.
 */
final class VhostVdpaRig {
    private VhostVdpaRig() {
    }

    /** lane/guest/init creates vdpasim_net first, then vdpasim_blk. */
    static final String NET = "/dev/vhost-vdpa-0", BLK = "/dev/vhost-vdpa-1";

    /** virtio status bits (include/uapi/linux/virtio_config.h). */
    static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8;

    /** virtio feature bits. */
    static final long F_ANY_LAYOUT = 1L << 27, F_VERSION_1 = 1L << 32, F_ACCESS_PLATFORM = 1L << 33;

    /** VHOST_BACKEND_F_* as bits. */
    static final long B_IOTLB_MSG_V2 = 1L << 1, B_IOTLB_BATCH = 1L << 2, B_IOTLB_ASID = 1L << 3, B_SUSPEND = 1L << 4,
            B_RESUME = 1L << 5, B_ENABLE_AFTER_DRIVER_OK = 1L << 6, B_DESC_ASID = 1L << 7, B_IOTLB_PERSIST = 1L << 8;

    /**
     * A vdpa_sim module parameter as the running kernel has it ({@code /sys/module/vdpa_sim/parameters/NAME}); the
     * lane sets them with {@code lane/run --vdpa-sim-params}.
     */
    static String simParam(String name) {
        try {
            return Files.readString(Path.of("/sys/module/vdpa_sim/parameters", name)).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("vdpa_sim's parameter " + name + " (is vdpa_sim loaded?)", e);
        }
    }

    /** {@code batch_mapping=1} (the default): the simulators have {@code set_map}; 0: {@code dma_map}. */
    static boolean batchMapping() {
        return !simParam("batch_mapping").equals("0");
    }

    /** Asserts {@code call} fails with {@code errno}, and returns the exception. */
    static ErrnoException assertErrno(int errno, Executable call) {
        ErrnoException e = assertThrows(ErrnoException.class, call);
        assertEquals(Errno.name(errno), e.errnoName(), e.getMessage());
        return e;
    }

    /** Asserts {@code call} fails with {@code errno} and is not a {@link dev.panavirt.base.NotSupportedException}. */
    static ErrnoException assertPlainErrno(int errno, Executable call) {
        ErrnoException e = assertErrno(errno, call);
        assertEquals(ErrnoException.class, e.getClass(), e.getMessage());
        return e;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
