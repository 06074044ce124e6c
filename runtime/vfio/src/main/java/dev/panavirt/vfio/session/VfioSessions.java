package dev.panavirt.vfio.session;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.models.vfio.KernelProfile;
import dev.panavirt.models.vfio.Type1Iommu;
import dev.panavirt.vfio.EduModelDevice;
import dev.panavirt.vfio.KernelVfioDevice;
import dev.panavirt.vfio.ModelIommu;
import dev.panavirt.vfio.VfioContainer;
import dev.panavirt.vfio.VfioGroup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The two ways a session script reaches a type1 IOMMU with QEMU's edu device behind it: the kernel's (the edu
 * device bound to vfio-pci, as in the nested lane) and the models'. The model is set up as the lane's platform
 * is, so a script gives the same output on both: QEMU's intel-iommu (VT-d) with a 39-bit aperture minus the
 * MSI window (IOVA ranges 0x0-0xfedfffff and 0xfef00000-0x7fffffffff), page sizes 4 KiB, 2 MiB and 1 GiB, no
 * snoop control ({@code VFIO_DMA_CC_IOMMU} answers 0), and edu's completion seen by a polling driver on its
 * next status read.
 */
public final class VfioSessions {
    /** The vendor and device id of QEMU's edu device. */
    public static final String EDU_VENDOR = "0x1234", EDU_DEVICE = "0x11e8";

    /** The IOVA ranges of QEMU's intel-iommu as the lane's 6.12 kernel reports them. */
    public static final List<Type1Iommu.IovaRange> VTD_39BIT_RANGES = List.of(
            new Type1Iommu.IovaRange(0, 0xfedf_ffffL), new Type1Iommu.IovaRange(0xfef0_0000L, 0x7f_ffff_ffffL));

    private VfioSessions() {
    }

    /** Whether this host has the kernel's VFIO container and an edu device to bind. */
    public static boolean kernelAvailable() {
        return Files.exists(Path.of(VfioContainer.PATH)) && findEdu().isPresent();
    }

    /** The PCI name of the first edu device under /sys/bus/pci/devices, if any. */
    public static Optional<String> findEdu() {
        Path devices = Path.of("/sys/bus/pci/devices");
        if (!Files.isDirectory(devices)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(devices)) {
            return s.filter(d -> read(d.resolve("vendor")).equals(EDU_VENDOR) && read(d.resolve("device")).equals(EDU_DEVICE))
                    .map(d -> d.getFileName().toString()).sorted().findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * The edu device through the kernel: a container, the device's group in it, type1v2, the device, with
     * memory decoding and bus mastering on (edu DMAs only as a bus master).
     *
     * @throws IOException when there is no edu device or its group cannot be found
     * @throws ErrnoException from any VFIO ioctl on the way
     */
    public static VfioSessionTarget kernel() throws IOException {
        String name = findEdu().orElseThrow(() -> new IOException(
                "no QEMU edu device (1234:11e8) under /sys/bus/pci/devices"));
        VfioContainer container = VfioContainer.open();
        try {
            VfioGroup group = VfioGroup.open(VfioGroup.groupNumberOf(name));
            try {
                group.setContainer(container);
            } catch (ErrnoException | RuntimeException e) {
                group.close();
                throw e;
            }
            container.setIommu(3 /* VFIO_TYPE1v2_IOMMU */);
            KernelVfioDevice device = group.device(name);
            device.enablePciMemoryAndBusMaster();
            return new VfioSessionTarget("vfio-type1-kernel", container, device, VfioSessionTarget.DEFAULT_BUFFER,
                    container);
        } catch (IOException | RuntimeException e) {
            container.close();
            throw e;
        }
    }

    /** The profile names {@link #model(String)} takes: {@code latest} and {@code 6.12}. */
    public static final List<String> PROFILES = List.of("latest", "6.12");

    /**
     * {@link #model(KernelProfile)} by the profile's name, as a command line takes it.
     *
     * @throws IllegalArgumentException for a name not in {@link #PROFILES}
     */
    public static VfioSessionTarget model(String profile) throws ErrnoException {
        return model(switch (profile) {
            case "latest" -> KernelProfile.LATEST;
            case "6.12" -> KernelProfile.V6_12;
            default -> throw new IllegalArgumentException("profile takes latest or 6.12, not " + profile);
        });
    }

    /**
     * The type1 model with the edu model behind it (an IOMMU-backed group, like vfio-pci), as the lane's platform.
     *
     * @param profile which kernel's behaviour the type1 model follows
     */
    public static VfioSessionTarget model(KernelProfile profile) throws ErrnoException {
        Type1Iommu.Options options = new Type1Iommu.Options(profile, Type1Iommu.DEFAULT_DMA_ENTRY_LIMIT,
                Type1Iommu.X86_DOMAIN_PGSIZES, VTD_39BIT_RANGES, false, -1);
        ModelIommu iommu = ModelIommu.open(3 /* VFIO_TYPE1v2_IOMMU */, options);
        EduModelDevice device = EduModelDevice.create(iommu, false, EduDevice.Timing.POLLED);
        device.enablePciMemoryAndBusMaster();
        return new VfioSessionTarget("vfio-type1-model-" + profile, iommu, device, VfioSessionTarget.DEFAULT_BUFFER,
                device, iommu);
    }
}
