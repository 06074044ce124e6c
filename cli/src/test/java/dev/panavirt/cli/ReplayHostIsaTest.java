package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code panavirt replay --device riscv-vector --host-isa}: the host's extensions decide which ISA_EXT ids exist. */
class ReplayHostIsaTest {
    @TempDir
    Path dir;

    @Test
    void hostIsaOptionReachesTheModel() throws Exception {
        Path s = Files.writeString(dir.resolve("isa.pvs"), """
                reg-get 0 0x803000000700000d expect 1
                reg-get 0 0x803000000700000f expect ENOENT
                """);
        ReplayCommandTest.Outcome o = ReplayCommandTest.replay(s.toString(), "--device", "riscv-vector",
                "--host-isa", "i,zbb");
        assertEquals(0, o.status(), o.out() + o.err());
        ReplayCommandTest.Outcome d = ReplayCommandTest.replay(s.toString(), "--device", "riscv-vector");
        assertEquals(1, d.status(), "the default host has V and no Zbb");
    }

    @Test
    void anUnknownExtensionIsAUsageError() throws Exception {
        Path s = Files.writeString(dir.resolve("empty.pvs"), "state\n");
        ReplayCommandTest.Outcome o = ReplayCommandTest.replay(s.toString(), "--device", "riscv-vector",
                "--host-isa", "i,q");
        assertEquals(2, o.status(), o.out() + o.err());
        assertTrue(o.err().contains("--host-isa: no RISC-V ISA extension named q"), o.err());
    }
}
