package dev.panavirt.lane;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vhost.vhost_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.testsupport.RequiresDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The genuine vhost-vdpa character devices of the nested lane: /dev/vhost-vdpa-0 is the vdpa_sim
 * network simulator, /dev/vhost-vdpa-1 the block simulator (lane/guest/init creates them in that
 * order). Skipped with a reason on a host without vhost-vdpa; a failure where -Dpanavirt.require
 * lists vdpa (the lane guest does).
 */
@Tag("vdpa")
@RequiresDevice("vdpa")
class VdpaSmokeTest {
    /** Virtio device ids (include/uapi/linux/virtio_ids.h), the values GET_DEVICE_ID answers. */
    private static final int VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2;

    @Test
    void netSimulatorReportsVirtioNet() throws ErrnoException {
        assertEquals(VIRTIO_ID_NET, deviceId("/dev/vhost-vdpa-0"));
    }

    @Test
    void blockSimulatorReportsVirtioBlock() throws ErrnoException {
        assertEquals(VIRTIO_ID_BLOCK, deviceId("/dev/vhost-vdpa-1"));
    }

    private static int deviceId(String node) throws ErrnoException {
        try (Fd fd = Fd.open(node, Libc.O_RDWR | Libc.O_CLOEXEC); Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(ValueLayout.JAVA_INT);
            Ioctl.call(fd, "VHOST_VDPA_GET_DEVICE_ID", vhost_h.VHOST_VDPA_GET_DEVICE_ID(), id);
            return id.get(ValueLayout.JAVA_INT, 0);
        }
    }
}
