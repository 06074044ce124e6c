package dev.panavirt.lane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.vfio.vfio_group_status;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import dev.panavirt.sys.Libc;
import dev.panavirt.testsupport.DeviceCondition;
import dev.panavirt.testsupport.RequiresDevice;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The genuine VFIO container and the group of QEMU's edu device (1234:11e8), which the nested lane
 * binds to vfio-pci. Skipped with a reason on a host without /dev/vfio/vfio; a failure where
 * -Dpanavirt.require lists vfio (the lane guest does).
 */
@Tag("vfio")
@RequiresDevice("vfio")
class VfioSmokeTest {

    @Test
    void containerSpeaksTheUapiVersion() throws ErrnoException {
        try (Fd container = Fd.open("/dev/vfio/vfio", Libc.O_RDWR | Libc.O_CLOEXEC)) {
            assertEquals(vfio_h.VFIO_API_VERSION(),
                    Ioctl.call(container, "VFIO_GET_API_VERSION", vfio_h.VFIO_GET_API_VERSION()));
        }
    }

    @Test
    void containerOffersType1v2() throws ErrnoException {
        try (Fd container = Fd.open("/dev/vfio/vfio", Libc.O_RDWR | Libc.O_CLOEXEC)) {
            assertEquals(1, Ioctl.call(container, "VFIO_CHECK_EXTENSION", vfio_h.VFIO_CHECK_EXTENSION(),
                    vfio_h.VFIO_TYPE1v2_IOMMU(), "VFIO_TYPE1v2_IOMMU"));
        }
    }

    @Test
    void eduGroupIsViable() throws IOException {
        Path device = eduDevice().orElseGet(() -> {
            String why = "no QEMU edu device (1234:11e8) under /sys/bus/pci/devices";
            if (DeviceCondition.required().contains("vfio")) {
                Assertions.fail(why + " although vfio is required (-Dpanavirt.require)");
            }
            Assumptions.abort(why);
            return null;
        });
        Path group = Files.readSymbolicLink(device.resolve("iommu_group")).getFileName();
        try (Fd fd = Fd.open("/dev/vfio/" + group, Libc.O_RDWR | Libc.O_CLOEXEC); Arena arena = Arena.ofConfined()) {
            MemorySegment status = vfio_group_status.allocate(arena);
            vfio_group_status.argsz(status, (int) vfio_group_status.sizeof());
            Ioctl.call(fd, "VFIO_GROUP_GET_STATUS", vfio_h.VFIO_GROUP_GET_STATUS(), status, "group " + group);
            int flags = vfio_group_status.flags(status);
            assertTrue((flags & vfio_h.VFIO_GROUP_FLAGS_VIABLE()) != 0,
                    "group " + group + " of " + device.getFileName() + " is not viable: flags " + flags);
        }
    }

    private static Optional<Path> eduDevice() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/sys/bus/pci/devices"))) {
            return s.filter(d -> read(d.resolve("vendor")).equals("0x1234") && read(d.resolve("device")).equals("0x11e8"))
                    .sorted().findFirst();
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
