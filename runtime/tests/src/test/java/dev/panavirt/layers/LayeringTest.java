package dev.panavirt.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.ClassReferences;
import dev.panavirt.testsupport.Layers;
import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The layers as README.md's "Layers" table draws them are the layers the module descriptors declare, and the
 * rules no {@code requires} line can state hold in the byte code.
 */
class LayeringTest {

    /** The modules on this class path; the cli's row is checked by the cli's own tests. */
    private static final Set<String> RUNTIME = Set.of("dev.panavirt.bindings", "dev.panavirt.base", "dev.panavirt.sys",
            "dev.panavirt.kvm", "dev.panavirt.models", "dev.panavirt.vfio", "dev.panavirt.vhost", "dev.panavirt.vmm", "dev.panavirt.testkit");

    @Test
    void moduleGraphIsTheReadmesTable() throws IOException {
        Map<String, Set<String>> drawn = Layers.readmeTable();
        Map<String, ModuleDescriptor> modules = Layers.descriptors();
        for (String m : RUNTIME) {
            assertTrue(drawn.containsKey(m), "README.md's Layers table has no row for " + m);
            assertTrue(modules.containsKey(m), m + " is not on the class path");
        }
        Map<String, Set<String>> declared = new TreeMap<>();
        Map<String, Set<String>> table = new TreeMap<>();
        for (String m : RUNTIME) {
            declared.put(m, Layers.requires(modules.get(m)));
            table.put(m, drawn.get(m));
        }
        assertEquals(table, declared, "README.md's Layers table against the module descriptors");
    }

    @Test
    void onlyTheKernelObjectLayersSeeTheSyscallLayer() throws IOException {
        ModuleDescriptor sys = Layers.descriptors().get("dev.panavirt.sys");
        Map<String, Set<String>> exports = new TreeMap<>();
        sys.exports().forEach(e -> exports.put(e.source(), e.targets()));
        assertEquals(Map.of("dev.panavirt.fd", Set.of(), "dev.panavirt.sys", Set.of("dev.panavirt.kvm", "dev.panavirt.vfio", "dev.panavirt.vhost")), exports);
    }

    @Test
    void modelsUsePlainJavaTypesAndOnlyTheBindingsConstants() throws IOException {
        var refs = ClassReferences.of(dev.panavirt.models.gicv3.Vgic.class);
        assertTrue(refs.size() > 50, "models' classes found: " + refs.size());
        assertEquals(Set.of(), ClassReferences.matching(refs, "java/lang/foreign/", "dev/panavirt/sys/",
                "dev/panavirt/fd/", "dev/panavirt/kvm/", "dev/panavirt/vmm/", "dev/panavirt/machine/",
                "dev/panavirt/testkit/"));
        Set<String> bindings = ClassReferences.matching(refs, "dev/panavirt/bindings/");
        assertTrue(!bindings.isEmpty(), "the models take uapi constants from the bindings");
        assertEquals(Set.of(), bindings.stream().filter(r -> !r.endsWith("/kvm_h") && !r.endsWith("/vfio_h") && !r.endsWith("/vhost_h")
                && !r.endsWith("/virtio_h")).collect(Collectors.toSet()),
                "bindings classes other than the constants' header classes");
        var models = new java.util.TreeMap<>(refs);
        models.keySet().removeIf(cls -> !cls.startsWith("dev/panavirt/models/"));
        assertTrue(models.size() > 40, "model classes found: " + models.size());
        assertEquals(Set.of(), ClassReferences.matching(models, "dev/panavirt/replay/"),
                "the models know nothing of the replay engine; its targets adapt them");
    }

    @Test
    void baseIsPlainJava() throws IOException {
        var refs = ClassReferences.of(dev.panavirt.base.Errno.class);
        assertEquals(Set.of(), ClassReferences.matching(refs, "java/lang/foreign/", "dev/panavirt/bindings/",
                "dev/panavirt/sys/", "dev/panavirt/kvm/"));
    }
}
