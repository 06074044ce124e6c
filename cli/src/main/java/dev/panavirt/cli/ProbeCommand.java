package dev.panavirt.cli;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Cap;
import dev.panavirt.kvm.DeviceType;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.KvmFlavour;
import dev.panavirt.kvm.Vm;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code panavirt probe}: what this host offers and what panavirt will use for each subsystem. */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = "Report the host's KVM version and capabilities, VFIO and vhost-vdpa device nodes, "
                + "and whether panavirt uses the kernel or a software model for each subsystem.")
final class ProbeCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Map<String, Object> report = new LinkedHashMap<>();
        Map<String, Object> kvm = new LinkedHashMap<>();
        report.put("kvm", kvm);
        boolean haveKvm = Files.exists(Kvm.DEVICE);
        kvm.put("device", Kvm.DEVICE.toString());
        kvm.put("present", haveKvm);
        // lane/run and ./panavirt set panavirt.where=nested for programs they run in the nested host.
        kvm.put("host", "nested".equals(System.getProperty("panavirt.where"))
                ? "nested (the lane's Debian 6.12 guest under QEMU)" : "local");
        if (haveKvm) {
            KvmFlavour flavour = KvmFlavour.detect();
            kvm.put("flavour", flavour.description());
            kvm.put("vendor_module", flavour.module().isEmpty() ? "unknown" : flavour.module());
        }
        boolean itsInKernel = false, eiointcInKernel = false;
        if (haveKvm) {
            try (Kvm k = Kvm.open(); Vm vm = k.createVm()) {
                kvm.put("api_version", k.apiVersion());
                kvm.put("vcpu_mmap_size", k.vcpuMmapSize());
                Map<String, Object> caps = new LinkedHashMap<>();
                caps.put("irqchip", vm.checkExtension(Cap.IRQCHIP) > 0);
                caps.put("irqfd", vm.checkExtension(Cap.IRQFD) > 0);
                caps.put("irqfd_resample", vm.checkExtension(Cap.IRQFD_RESAMPLE) > 0);
                caps.put("ioeventfd", vm.checkExtension(Cap.IOEVENTFD) > 0);
                caps.put("dirty_ring_max_bytes", vm.checkExtension(Cap.DIRTY_LOG_RING));
                caps.put("manual_dirty_log_protect", vm.checkExtension(Cap.MANUAL_DIRTY_LOG_PROTECT2));
                caps.put("max_vcpus", vm.checkExtension(Cap.MAX_VCPUS));
                caps.put("recommended_vcpus", vm.checkExtension(Cap.NR_VCPUS));
                caps.put("memslots", vm.checkExtension(Cap.NR_MEMSLOTS));
                caps.put("memslot_v2", vm.checkExtension(Cap.USER_MEMORY2) > 0);
                caps.put("signal_msi", vm.checkExtension(Cap.SIGNAL_MSI) > 0);
                caps.put("guest_memfd", vm.checkExtension(Cap.GUEST_MEMFD) > 0);
                kvm.put("capabilities", caps);
                itsInKernel = vm.supportsDevice(DeviceType.ARM_VGIC_ITS);
                eiointcInKernel = vm.supportsDevice(DeviceType.LOONGARCH_EIOINTC);
            } catch (ErrnoException e) {
                kvm.put("error", e.getMessage());
            }
        }
        Map<String, Object> vfio = new LinkedHashMap<>();
        vfio.put("container", "/dev/vfio/vfio");
        vfio.put("present", Files.exists(Path.of("/dev/vfio/vfio")));
        vfio.put("groups", list(Path.of("/dev/vfio"), n -> !n.equals("vfio") && !n.equals("devices")));
        report.put("vfio", vfio);
        Map<String, Object> vdpa = new LinkedHashMap<>();
        List<String> nodes = list(Path.of("/dev"), n -> n.startsWith("vhost-vdpa-"));
        vdpa.put("devices", nodes);
        vdpa.put("present", !nodes.isEmpty());
        report.put("vhost_vdpa", vdpa);

        Map<String, Object> backends = new LinkedHashMap<>();
        backends.put("kvm", haveKvm ? "kernel" : "unavailable (no /dev/kvm)");
        backends.put("gicv3_its", itsInKernel ? "kernel" : "model");
        backends.put("loongarch_eiointc", eiointcInKernel ? "kernel" : "model");
        backends.put("riscv_vector", "riscv64".equals(System.getProperty("os.arch")) ? "kernel" : "model");
        backends.put("vfio", (Boolean) vfio.get("present") ? "kernel" : "model (type1 IOMMU and edu device)");
        backends.put("vhost_vdpa", !nodes.isEmpty() ? "kernel" : "model (vdpa_sim net and blk)");
        report.put("backends", backends);

        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(report));
        } else {
            Text.write(report, out, "");
        }
        out.flush();
        return 0;
    }

    private static List<String> list(Path dir, java.util.function.Predicate<String> keep) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<String> out = new ArrayList<>();
            s.map(p -> p.getFileName().toString()).filter(keep).sorted().forEach(n -> out.add(dir + "/" + n));
            return out;
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Indented "key: value" text. */
    static final class Text {
        private Text() {}

        @SuppressWarnings("unchecked")
        static void write(Map<String, Object> map, PrintWriter out, String indent) {
            for (Map.Entry<String, Object> e : map.entrySet()) {
                if (e.getValue() instanceof Map<?, ?> m) {
                    out.println(indent + e.getKey() + ":");
                    write((Map<String, Object>) m, out, indent + "  ");
                } else if (e.getValue() instanceof List<?> l) {
                    out.println(indent + e.getKey() + ": " + (l.isEmpty() ? "none" : String.join(", ",
                            l.stream().map(String::valueOf).toList())));
                } else {
                    out.println(indent + e.getKey() + ": " + e.getValue());
                }
            }
        }
    }
}
