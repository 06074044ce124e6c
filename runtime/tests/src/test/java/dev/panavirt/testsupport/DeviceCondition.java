package dev.panavirt.testsupport;

import dev.panavirt.kvm.KvmFlavour;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/** Implements {@link RequiresDevice}: skip with a reason, or fail when the device is required. */
public final class DeviceCondition implements BeforeEachCallback {

    @Override
    public void beforeEach(ExtensionContext context) {
        for (String device : devices(context)) {
            Optional<String> missing = missing(device);
            if (missing.isPresent()) {
                if (required().contains(device)) {
                    Assertions.fail("device '" + device + "' is required (-Dpanavirt.require) but " + missing.get());
                }
                Assumptions.abort("skipped: " + missing.get()
                        + " (set -Dpanavirt.require=" + device + " to make this a failure)");
            }
        }
    }

    private static Set<String> devices(ExtensionContext context) {
        Stream<RequiresDevice> onMethod = context.getTestMethod()
                .flatMap(m -> AnnotationSupport.findAnnotation(m, RequiresDevice.class)).stream();
        Stream<RequiresDevice> onClass = context.getTestClass()
                .flatMap(c -> AnnotationSupport.findAnnotation(c, RequiresDevice.class)).stream();
        return Stream.concat(onMethod, onClass).flatMap(a -> Arrays.stream(a.value())).collect(Collectors.toSet());
    }

    /** The devices named by {@code -Dpanavirt.require}. */
    public static Set<String> required() {
        String prop = System.getProperty("panavirt.require", "");
        return Arrays.stream(prop.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
    }

    /** Why {@code device} cannot be used here, or empty when it can. */
    public static Optional<String> missing(String device) {
        return switch (device) {
            case "kvm" -> usable(Path.of("/dev/kvm"));
            case "kvm-hw" -> usable(Path.of("/dev/kvm")).or(DeviceCondition::paravirtual);
            case "vfio" -> usable(Path.of("/dev/vfio/vfio"));
            case "vdpa" -> firstVdpa().map(DeviceCondition::usable)
                    .orElse(Optional.of("no /dev/vhost-vdpa-* device node on this host"));
            default -> throw new IllegalArgumentException("unknown device in @RequiresDevice: " + device);
        };
    }

    /**
     * Why the usable /dev/kvm cannot stand for hardware virtualization: it is the paravirtual KVM, which has no
     * VT-x/SVM underneath (its instruction emulator cannot run XGETBV/XSETBV or SSE, and stock Linux does not boot).
     */
    private static Optional<String> paravirtual() {
        return KvmFlavour.detect() == KvmFlavour.PARAVIRTUAL
                ? Optional.of("this host's /dev/kvm is the paravirtual KVM (kvm_pvm), not hardware virtualization;"
                        + " ./run-tests runs the tests tagged kvm-hw in the nested lane")
                : Optional.empty();
    }

    private static Optional<Path> firstVdpa() {
        try (Stream<Path> s = Files.list(Path.of("/dev"))) {
            return s.filter(p -> p.getFileName().toString().startsWith("vhost-vdpa-")).sorted().findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> usable(Path node) {
        if (!Files.exists(node)) {
            return Optional.of(node + " does not exist on this host");
        }
        if (!Files.isReadable(node) || !Files.isWritable(node)) {
            return Optional.of(node + " exists but is not readable and writable by this user");
        }
        return Optional.empty();
    }
}
