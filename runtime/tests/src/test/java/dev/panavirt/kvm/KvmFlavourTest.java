package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KvmFlavourTest {

    @Test
    void theVendorModuleNamesTheFlavour(@TempDir Path sys) throws IOException {
        assertEquals(KvmFlavour.UNKNOWN, KvmFlavour.detect(sys));
        Files.createDirectories(sys.resolve("kvm"));
        assertEquals(KvmFlavour.UNKNOWN, KvmFlavour.detect(sys), "kvm alone names no vendor");
        Files.createDirectories(sys.resolve("kvm_pvm"));
        assertEquals(KvmFlavour.PARAVIRTUAL, KvmFlavour.detect(sys));
        Files.createDirectories(sys.resolve("kvm_amd"));
        assertEquals(KvmFlavour.SVM, KvmFlavour.detect(sys), "a hardware vendor module wins over a built-in kvm_pvm");
    }

    @Test
    void intelIsVmx(@TempDir Path sys) throws IOException {
        Files.createDirectories(sys.resolve("kvm_intel"));
        assertEquals(KvmFlavour.VMX, KvmFlavour.detect(sys));
        assertEquals("kvm_intel", KvmFlavour.VMX.module());
    }
}
