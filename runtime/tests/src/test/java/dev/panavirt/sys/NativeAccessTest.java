package dev.panavirt.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A JVM that denies native access gets an error naming the flag to add. */
class NativeAccessTest {

    /** Run in a child JVM: makes one downcall. */
    public static void main(String[] args) {
        try {
            System.out.println("pid " + Libc.getpid());
        } catch (Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                System.out.println("refused: " + c);
            }
            System.exit(3);
        }
    }

    @Test
    void deniedNativeAccessNamesTheFlag() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--illegal-native-access=deny", "-cp",
                System.getProperty("java.class.path"), NativeAccessTest.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(3, p.exitValue(), out);
        assertTrue(out.contains("refused: java.lang.IllegalCallerException: panavirt calls the C library"), out);
        assertTrue(out.contains("--enable-native-access=ALL-UNNAMED"), out);
    }

    @Test
    void thisTestJvmHasNativeAccess() {
        assertTrue(NativeAccess.enabled(), "surefire passes --enable-native-access=ALL-UNNAMED");
    }
}
