package dev.panavirt.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testsupport.Layers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code java} block of README.md compiles, as written, against the runtime: each becomes the body of a
 * method whose parameters are the few names the examples leave to the reader ({@code myDevice}).
 */
class ReadmeExamplesTest {

    private static final Pattern BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final String IMPORTS = """
            import static org.junit.jupiter.api.Assertions.*;
            import dev.panavirt.bindings.kvm.x86_64.*;
            import dev.panavirt.bindings.vfio.vfio_h;
            import dev.panavirt.fd.EventFd;
            import dev.panavirt.kvm.*;
            import dev.panavirt.vfio.*;
            import dev.panavirt.vhost.*;
            import dev.panavirt.vhost.driver.*;
            import java.lang.foreign.ValueLayout;
            import java.lang.foreign.Arena;
            import java.lang.foreign.MemorySegment;
            import dev.panavirt.machine.*;
            import dev.panavirt.testkit.*;
            import dev.panavirt.vmm.*;
            import java.time.Duration;
            """;

    @Test
    void everyJavaBlockCompiles(@TempDir Path dir) throws IOException {
        String readme = Files.readString(Layers.repositoryRoot().resolve("README.md"));
        Matcher m = BLOCK.matcher(readme);
        List<Path> sources = new ArrayList<>();
        while (m.find()) {
            int n = sources.size();
            Path src = dir.resolve("src/readme/Example" + n + ".java");
            Files.createDirectories(src.getParent());
            Files.writeString(src, "package readme;\n" + IMPORTS + "class Example" + n
                    + " {\n    void example(BusDevice myDevice) throws Exception {\n" + m.group(1) + "\n    }\n}\n");
            sources.add(src);
        }
        assertTrue(sources.size() >= 2, "java blocks in README.md: " + sources.size());
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<String> args = new ArrayList<>(List.of("-d", dir.resolve("classes").toString(),
                "-cp", System.getProperty("java.class.path"), "-proc:none", "-Xlint:none"));
        sources.forEach(s -> args.add(s.toString()));
        int rc = javac.run(null, out, out, args.toArray(String[]::new));
        assertEquals(0, rc, "README.md's examples do not compile:\n" + out.toString(StandardCharsets.UTF_8));
    }
}
