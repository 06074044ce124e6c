package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.ClassReferences;
import dev.panavirt.testsupport.Layers;
import java.io.IOException;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The command line sits on the VMM layer: README.md's Layers row, and no model, binding or syscall class. */
class CliLayeringTest {

    @Test
    void requiresWhatTheReadmeSays() throws IOException {
        assertEquals(Layers.readmeTable().get("dev.panavirt.cli"),
                Layers.requires(Layers.descriptors().get("dev.panavirt.cli")));
    }

    @Test
    void importsNoModelBindingOrSyscallClass() throws IOException {
        var refs = ClassReferences.of(Main.class);
        assertTrue(refs.size() > 5, "cli classes found: " + refs.size());
        assertEquals(Set.of(), ClassReferences.matching(refs, "dev/panavirt/models/", "dev/panavirt/bindings/",
                "dev/panavirt/sys/"));
    }
}
