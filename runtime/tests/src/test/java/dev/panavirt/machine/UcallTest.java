package dev.panavirt.machine;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
import dev.panavirt.testsupport.KvmTest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Ucall blocks read from guest memory, including ones a buggy guest points outside RAM. */
@KvmTest
class UcallTest {
    @Test
    void readsABlockAndRejectsBadOnes() throws Exception {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.addMemory(0, 0, 1 << 20, 0);
            long at = 0x2000;
            vm.memory().writeInt(at, 2);
            vm.memory().writeInt(at + 4, 17);
            vm.memory().writeLong(at + 8, 99);
            vm.memory().write(at + Ucall.OFF_FILE, "g.c\0".getBytes(StandardCharsets.UTF_8));
            byte[] longMessage = new byte[400];
            java.util.Arrays.fill(longMessage, (byte) 'x');
            vm.memory().write(at + Ucall.OFF_MSG, java.util.Arrays.copyOf(longMessage, 256));   // no NUL
            Ucall u = Ucall.read(vm.memory(), at);
            assertEquals(Ucall.Command.ASSERT, u.command());
            assertEquals("g.c", u.file());
            assertEquals(17, u.line());
            assertEquals(99, u.value());
            assertEquals(256, u.message().length(), "an unterminated message stops at its field's end");

            assertThrows(IllegalArgumentException.class, () -> Ucall.read(vm.memory(), (1 << 20) - 8));
            assertThrows(IllegalArgumentException.class, () -> Ucall.read(vm.memory(), 0xffff_ffff_0000L));
            vm.memory().writeInt(at, 77);
            assertThrows(IllegalArgumentException.class, () -> Ucall.read(vm.memory(), at));
        }
    }
}
