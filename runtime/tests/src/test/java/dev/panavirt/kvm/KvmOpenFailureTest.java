package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** A failed {@link Kvm#open(Path)} leaves no descriptor behind (no KVM needed: /dev/null refuses the ioctls). */
class KvmOpenFailureTest {

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void aNodeThatIsNotKvmIsRefusedAndClosed() throws Exception {
        ErrnoException e = assertThrows(ErrnoException.class, () -> Kvm.open(Path.of("/dev/null")));
        assertEquals("KVM_GET_API_VERSION", e.operation());
        assertEquals(Errno.ENOTTY, e.errno());
        long before = openFds();
        for (int i = 0; i < 10_000; i++) {
            assertThrows(ErrnoException.class, () -> Kvm.open(Path.of("/dev/null")));
        }
        // used to leave all 10,000 open
        assertEquals(before, openFds(), "descriptors left open by failed opens");
    }
}
