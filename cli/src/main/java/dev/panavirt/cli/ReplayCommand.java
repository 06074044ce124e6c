package dev.panavirt.cli;

import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.targets.SessionTargets;
import dev.panavirt.vfio.session.VfioSessionTarget;
import dev.panavirt.vfio.session.VfioSessions;
import dev.panavirt.vhost.session.VdpaSessionTarget;
import dev.panavirt.vhost.session.VdpaSessions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code panavirt replay SCRIPT --device D}: runs a scripted device session against a software model, or for
 * {@code vfio-type1} against the kernel's VFIO and for {@code vdpa-net} and {@code vdpa-blk} against the kernel's
 * vhost-vdpa, where the host has them.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Run a scripted device session (see README: \"Scripted device sessions\") against a "
                + "software model (or, for vfio-type1, the kernel's VFIO with QEMU's edu device, and for vdpa-net and "
                + "vdpa-blk the kernel's vhost-vdpa with vdpa_sim's devices, where present), "
                + "printing one result line per operation.",
                "Exits 1 at the first unmet expectation (naming its line)."},
        footer = {"", "Exit status:",
                "  0   every operation ran and met its expectation",
                "  1   an expectation was not met (the line is named)",
                "  2   a usage error (options out of range or that do not fit together)",
                "  65  the script is unreadable (not a regular file, over 16 MiB, not UTF-8 text) or malformed",
                "  70  an internal error of panavirt"})
final class ReplayCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SCRIPT", description = "The session script.")
    Path script;

    @Option(names = "--device", required = true, converter = DeviceConverter.class,
            description = "its, eiointc, riscv-vector, vfio-type1, vdpa-net or vdpa-blk.")
    String device;

    @Option(names = "--backend", defaultValue = "auto",
            description = "vfio-type1, vdpa-net and vdpa-blk only: kernel (/dev/vfio with an edu device; "
                    + "/dev/vhost-vdpa-0 for vdpa-net, -1 for vdpa-blk), model, or auto (the kernel where present; "
                    + "default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--profile", defaultValue = "latest",
            description = "vfio-type1, vdpa-net and vdpa-blk models only: the kernel whose behaviour the model "
                    + "follows, latest or 6.12 (default: ${DEFAULT-VALUE}).")
    String profile;

    @Option(names = "--vcpus", description = "vCPUs of the model, 1 to " + SessionTargets.MAX_VCPUS
            + " for every model (default: 4 for its and eiointc, 1 for riscv-vector).")
    Integer vcpus;

    @Option(names = "--vlenb", defaultValue = "" + SessionTargets.DEFAULT_VLENB,
            description = "RISC-V vector register bytes, a power of two from 4 to 8192 (default: ${DEFAULT-VALUE}).")
    int vlenb;

    @Option(names = "--host-isa", paramLabel = "EXT,...",
            description = "riscv-vector only: the host's ISA extensions as KVM names them (KVM_RISCV_ISA_EXT_*), "
                    + "comma-separated (default: a,c,d,f,h,i,m,v,zicsr,zifencei).")
    String hostIsa;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        SessionTargets.Options options;
        try {
            options = new SessionTargets.Options(vcpus == null ? OptionalInt.empty() : OptionalInt.of(vcpus), vlenb);
            options = hostIsa == null ? options : options.withHostIsa(hostIsa);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--" + e.getMessage());
        }
        Script parsed;
        try {
            parsed = Script.parse(InputFiles.text(script, InputFiles.MAX_SCRIPT));
        } catch (InputFiles.BadInputException e) {
            err.println("panavirt: cannot read " + script + ": " + e.getMessage());
            err.flush();
            return Main.EXIT_BAD_INPUT;
        } catch (Script.ScriptException e) {
            err.println("panavirt: " + script + ": " + e.getMessage());
            err.flush();
            return Main.EXIT_BAD_INPUT;
        }
        SessionRunner.Outcome outcome;
        if (VFIO.equals(device)) {
            try (VfioSessionTarget target = vfioTarget()) {
                outcome = new SessionRunner(target).run(parsed);
            }
        } else if (VDPA.contains(device)) {
            try (VdpaSessionTarget target = vdpaTarget(device.substring("vdpa-".length()))) {
                outcome = new SessionRunner(target).run(parsed);
            }
        } else {
            if (!"auto".equals(backend) && !"model".equals(backend)) {
                throw new ParameterException(spec.commandLine(), "--backend " + backend + ": " + device
                        + " has only a model here");
            }
            outcome = SessionTargets.runner(device, options).run(parsed);
        }
        outcome.lines().forEach(out::println);
        out.flush();
        if (!outcome.passed()) {
            err.println("panavirt: " + script + ": " + outcome.failure());
            err.flush();
            return 1;
        }
        return 0;
    }

    private static final String VFIO = "vfio-type1";
    private static final java.util.List<String> VDPA = java.util.List.of("vdpa-net", "vdpa-blk");

    private VfioSessionTarget vfioTarget() throws java.io.IOException {
        if (!VfioSessions.PROFILES.contains(profile)) {
            throw new ParameterException(spec.commandLine(), "--profile takes latest or 6.12, not " + profile);
        }
        String p = profile;
        return switch (backend) {
            case "kernel" -> VfioSessions.kernel();
            case "model" -> VfioSessions.model(p);
            case "auto" -> VfioSessions.kernelAvailable() ? VfioSessions.kernel() : VfioSessions.model(p);
            default -> throw new ParameterException(spec.commandLine(),
                    "--backend takes kernel, model or auto, not " + backend);
        };
    }

    private VdpaSessionTarget vdpaTarget(String kind) throws java.io.IOException {
        if (!VdpaSessions.PROFILES.contains(profile)) {
            throw new ParameterException(spec.commandLine(), "--profile takes latest or 6.12, not " + profile);
        }
        String p = profile;
        return switch (backend) {
            case "kernel" -> VdpaSessions.kernel(kind);
            case "model" -> VdpaSessions.model(kind, p);
            case "auto" -> VdpaSessions.kernelAvailable(kind) ? VdpaSessions.kernel(kind) : VdpaSessions.model(kind, p);
            default -> throw new ParameterException(spec.commandLine(),
                    "--backend takes kernel, model or auto, not " + backend);
        };
    }

    /** Accepts the device names as written on the command line. */
    static final class DeviceConverter implements picocli.CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            if (!SessionTargets.names().contains(value) && !VFIO.equals(value) && !VDPA.contains(value)) {
                throw new picocli.CommandLine.TypeConversionException("expected " + String.join(", ",
                        SessionTargets.names()) + ", " + VFIO + ", " + String.join(" or ", VDPA) + ", got " + value);
            }
            return value;
        }
    }
}
