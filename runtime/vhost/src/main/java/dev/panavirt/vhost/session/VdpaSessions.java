package dev.panavirt.vhost.session;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vdpa.VdpaProfile;
import dev.panavirt.models.vdpa.VdpaSim;
import dev.panavirt.vhost.ModelVdpa;
import dev.panavirt.vhost.VdpaDevice;
import dev.panavirt.vhost.VhostVdpa;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The two ways a session script reaches a vdpa_sim device through vhost-vdpa: the kernel's (the nested lane
 * creates {@code vdpasim_net} first, as {@code /dev/vhost-vdpa-0} with MAC 52:54:00:12:34:56, then
 * {@code vdpasim_blk} as {@code /dev/vhost-vdpa-1}) and the model's, set up as the lane's are: the same MAC, and
 * vdpa_sim's default module parameters ({@code batch_mapping=1}, {@code max_iotlb_entries=2048}).
 */
public final class VdpaSessions {
    /** The device kinds {@link #kernel(String)} and {@link #model(String, String)} take. */
    public static final List<String> KINDS = List.of("net", "blk");

    /** The profile names {@link #model(String, String)} takes: {@code latest} and {@code 6.12}. */
    public static final List<String> PROFILES = List.of("latest", "6.12");

    /** The MAC the lane gives its net simulator ({@code vdpa dev add ... mac 52:54:00:12:34:56}). */
    public static final byte[] LANE_MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

    private VdpaSessions() {
    }

    /** The node the lane's simulator of {@code kind} has. */
    public static String path(String kind) {
        return VhostVdpa.PATH_PREFIX + switch (checkKind(kind)) {
            case "net" -> 0;
            default -> 1;
        };
    }

    /** Whether this host has the lane's vhost-vdpa node for {@code kind}. */
    public static boolean kernelAvailable(String kind) {
        return Files.exists(Path.of(path(kind)));
    }

    /**
     * The lane's simulator of {@code kind} through the kernel.
     *
     * @throws IOException when the node is missing or is a device of another kind
     */
    public static VdpaSessionTarget kernel(String kind) throws IOException {
        String path = path(kind);
        if (!Files.exists(Path.of(path))) {
            throw new IOException("no " + path + " (vdpa_sim's " + kind + " device bound to vhost-vdpa)");
        }
        VhostVdpa device = VhostVdpa.open(path);
        try {
            int id = device.deviceId();
            int want = kind.equals("net") ? 1 : 2;
            if (id != want) {
                throw new IOException(path + " is virtio device " + id + ", not " + kind);
            }
            return new VdpaSessionTarget("vdpa-" + kind + "-kernel", device, VdpaSessionTarget.DEFAULT_BUFFER);
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /**
     * {@link #model(String, VdpaProfile)} by the profile's name, as a command line takes it.
     *
     * @throws IllegalArgumentException for a kind not in {@link #KINDS} or a profile not in {@link #PROFILES}
     */
    public static VdpaSessionTarget model(String kind, String profile) throws ErrnoException {
        return model(kind, switch (profile) {
            case "latest" -> VdpaProfile.LATEST;
            case "6.12" -> VdpaProfile.V6_12;
            default -> throw new IllegalArgumentException("profile takes latest or 6.12, not " + profile);
        });
    }

    /**
     * The vDPA model of {@code kind} as the lane's simulator.
     *
     * @param profile which kernel's vhost-vdpa and vdpa_sim the model answers as
     */
    public static VdpaSessionTarget model(String kind, VdpaProfile profile) throws ErrnoException {
        VdpaSim.Options options = VdpaSim.Options.defaults().withProfile(profile);
        VdpaDevice device = checkKind(kind).equals("net") ? ModelVdpa.net(LANE_MAC, options) : ModelVdpa.blk(options);
        try {
            return new VdpaSessionTarget("vdpa-" + kind + "-model-" + profile, device, VdpaSessionTarget.DEFAULT_BUFFER);
        } catch (ErrnoException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    private static String checkKind(String kind) {
        if (!KINDS.contains(kind)) {
            throw new IllegalArgumentException("kind takes net or blk, not " + kind);
        }
        return kind;
    }
}
