package dev.panavirt.headers;

import dev.panavirt.headers.model.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Naming, value normalisation and the manifest: the generator's pieces that need no libclang. */
class GeneratorPiecesTest {

    @Test
    void keywordsGetAnUnderscore() {
        assertEquals("default_", Names.memberName("default"));
        assertEquals("rax", Names.memberName("rax"));
        assertEquals("record_", Names.typeName("record"));
        assertEquals("record", Names.memberName("record"));
        Record outer = new Record("io", "struct io", "x.h", false, 8, 8);
        assertEquals("io_", Names.nestedName("io", outer));
        assertEquals("port", Names.nestedName("port", outer));
    }

    @Test
    void valuesAreNormalisedToTheirCWidth() {
        assertEquals(0xffffffffL, Parser.normalize(-1, 4, true));
        assertEquals(-1L, Parser.normalize(0xffffffffL, 4, false));
        assertEquals(0x80L, Parser.normalize(0x80, 1, true));
        assertEquals(-128L, Parser.normalize(0x80, 1, false));
        assertEquals(0x8090ae81L, Parser.normalize(0x8090ae81L, 8, true));
    }

    @Test
    void manifestRoundTripAndCheck(@TempDir Path dir) throws Exception {
        Path m = dir.resolve("headers.manifest");
        Path f = dir.resolve("x86/include/linux/kvm.h");
        Files.createDirectories(f.getParent());
        Files.writeString(f, "#define KVMIO 0xAE\n");
        String sum = Manifest.sha256(f);
        Manifest.write(m, "linux-source-6.12", "6.12.117-1~deb12u1", List.of("p x86 linux/kvm.h"),
                Map.of("x86/include/linux/kvm.h", sum));
        Manifest read = Manifest.read(m);
        assertEquals("linux-source-6.12", read.packageName());
        assertEquals("6.12.117-1~deb12u1", read.version());
        assertTrue(read.check(Map.of("x86/include/linux/kvm.h", sum)).isEmpty());
        assertEquals(1, read.check(Map.of("x86/include/linux/kvm.h", "00")).size());
        assertEquals(1, read.check(Map.of("x86/include/linux/other.h", sum)).size());
    }

    @Test
    void everyPackageOfTheModuleIsGenerated() {
        List<String> pkgs = Spec.all().stream().map(Spec::packageName).distinct().toList();
        assertEquals(List.of("dev.panavirt.bindings.kvm.x86_64", "dev.panavirt.bindings.kvm.arm64",
                "dev.panavirt.bindings.kvm.riscv64", "dev.panavirt.bindings.kvm.loongarch64",
                "dev.panavirt.bindings.kvm", "dev.panavirt.bindings.vfio", "dev.panavirt.bindings.vhost", "dev.panavirt.bindings.virtio"), pkgs);
    }
}
