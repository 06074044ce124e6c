package dev.panavirt.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Linux boot tests' init program builds in the default run (a syntax error or a new warning shows here, not
 * first in the nested lane) as a static x86-64 executable the initramfs can hold alone, and its documented
 * output agrees with what {@link InitProgram} tells the host-side checks. It is never run here: as process 1
 * it mounts over /dev and reboots the machine.
 */
class InitProgramTest {
    static final int PT_INTERP = 3, PT_DYNAMIC = 2;

    @TempDir
    Path dir;

    @Test
    void buildsAsAStaticX8664Executable() throws Exception {
        Path init = InitProgram.compile(dir);
        assertTrue(Files.isExecutable(init));
        ByteBuffer elf = ByteBuffer.wrap(Files.readAllBytes(init)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x464c457f, elf.getInt(0), "ELF magic");
        assertEquals(2, elf.get(4), "ELFCLASS64");
        assertEquals(62, elf.getShort(18), "EM_X86_64");
        long phoff = elf.getLong(32);
        int phentsize = Short.toUnsignedInt(elf.getShort(54));
        int phnum = Short.toUnsignedInt(elf.getShort(56));
        assertTrue(phnum > 0, "program headers");
        for (int i = 0; i < phnum; i++) {
            int type = elf.getInt((int) (phoff + (long) i * phentsize));
            assertTrue(type != PT_INTERP && type != PT_DYNAMIC, "program header " + i + " of type " + type
                    + ": not a static executable");
        }
    }

    @Test
    void theSourceDocumentsWhatTheHostChecks() throws IOException {
        String source;
        try (var in = InitProgram.class.getResourceAsStream(InitProgram.SOURCE)) {
            source = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        assertTrue(source.contains("#define PATTERN \"" + InitProgram.SECTOR1_TEXT.replace("\n", "\\n") + "\""),
                "the sector 1 text in init.c is InitProgram.SECTOR1_TEXT");
        for (String line : new String[] {"panavirt-init: start", "disk-read: ", "disk-write: ok", "net-mac: ",
                "net-loopback: ok", "panavirt-init: done", "panavirt-init: FAIL "}) {
            assertTrue(source.contains(line.strip()), "init.c prints \"" + line + "\"");
        }
        assertTrue(source.contains("\"/" + InitProgram.MODULES_LIST + "\""), "the module list InitProgram names");
        assertTrue(source.contains("/" + InitProgram.MODULES_DIR + "/%s.ko"), "the module directory InitProgram names");
        byte[] s1 = InitProgram.sector1();
        assertEquals(512, s1.length);
        assertEquals("panavirt-init wrote sector 1\npanavirt", new String(s1, 0, 37, StandardCharsets.US_ASCII));
        assertEquals('\n', s1[28]);
        assertEquals(InitProgram.SECTOR1_TEXT.charAt(512 % 29 - 1), (char) s1[511]);
    }
}
