package dev.panavirt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The bad-file probes, end to end through the command line: each ends in one line on stderr and
 * status 65, before KVM is looked at (so on any host), never in a stack trace, an OutOfMemoryError or a
 * read that does not end.
 */
class BadInputTest {
    @TempDir
    Path dir;

    record Outcome(int status, String err) {}

    static Outcome panavirt(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        return new Outcome(Main.execute(cl, args), err.toString());
    }

    private static void badInput(String expected, String... args) {
        Outcome o = panavirt(args);
        String what = String.join(" ", args) + ": " + o.err();
        assertEquals(Main.EXIT_BAD_INPUT, o.status(), what);
        assertEquals(expected, o.err().strip(), what);
    }

    private Path sparse(String name, long size) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);   // nothing written: no disk used
        }
        return p;
    }

    private Path fifo() throws Exception {
        Path p = dir.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo");
        return p;
    }

    @Test
    void devicesFifosDirectoriesAndHugeFilesAreRefusedBeforeReading() throws Exception {
        // each used to be read whole: an OutOfMemoryError with a raw stack trace, or no end at all (a FIFO)
        badInput("panavirt: cannot read /dev/zero: not a regular file", "run", "/dev/zero");
        badInput("panavirt: cannot read /dev/zero: not a regular file", "replay", "/dev/zero", "--device", "its");
        badInput("panavirt: cannot read /dev/zero: not a regular file", "run", "--kernel", "/dev/zero");
        Path fifo = fifo();
        badInput("panavirt: cannot read " + fifo + ": not a regular file", "run", fifo.toString());
        badInput("panavirt: cannot read " + fifo + ": not a regular file", "replay", fifo.toString(), "--device", "its");
        badInput("panavirt: cannot read " + dir + ": is a directory", "run", dir.toString());
        Path tenGiB = sparse("big.img", 10L << 30);
        badInput("panavirt: cannot read " + tenGiB + ": is 10737418240 bytes; at most 1073741824 are accepted",
                "run", tenGiB.toString());
        badInput("panavirt: cannot read " + tenGiB + ": is 10737418240 bytes; at most 16777216 are accepted",
                "replay", tenGiB.toString(), "--device", "eiointc");
        Path kernel = Files.write(dir.resolve("k.elf"), new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0});
        badInput("panavirt: cannot read /dev/zero: not a regular file", "run", "--kernel", kernel.toString(),
                "--initrd", "/dev/zero");
        badInput("panavirt: cannot read " + dir.resolve("none") + ": no such file", "run", dir.resolve("none").toString());
    }

    @Test
    void aBinaryScriptIsNamedByItsFirstByteThatIsNotText() throws Exception {
        Path elf = Files.write(dir.resolve("guest.pvs"), new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0});
        // used to say "Input length = 1"
        badInput("panavirt: cannot read " + elf + ": not a text file (byte 7 is NUL)", "replay", elf.toString(),
                "--device", "its");
        Path latin1 = Files.write(dir.resolve("l.pvs"), new byte[] {'#', ' ', (byte) 0xe9, '\n'});
        badInput("panavirt: cannot read " + latin1 + ": not a text file (byte 2 is not UTF-8)", "replay",
                latin1.toString(), "--device", "riscv-vector");
    }

    /** A 64-bit ELF with one PT_LOAD segment of {@code filesz} bytes at file offset {@code offset}. */
    private static byte[] elf64(long offset, long filesz) {
        ByteBuffer b = ByteBuffer.allocate(64 + 56 + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 0x3e).putInt(20, 1).putLong(24, 0x100000);
        b.putLong(32, 64).putShort(52, (short) 64).putShort(54, (short) 56).putShort(56, (short) 1);
        b.putInt(64, 1).putLong(64 + 8, offset).putLong(64 + 16, 0x100000).putLong(64 + 24, 0x100000);
        b.putLong(64 + 32, filesz).putLong(64 + 40, filesz);
        return b.array();
    }

    @Test
    void malformedElfFilesAreOneLineNotAStackTrace() throws Exception {
        // p_offset near 2^63 used to pass the bounds check by overflow and end in ArrayIndexOutOfBounds,
        // NegativeArraySize or an OutOfMemoryError trace
        for (long offset : new long[] {Long.MAX_VALUE - 4, Long.MAX_VALUE - 0x100, Long.MIN_VALUE, -1}) {
            Path f = Files.write(dir.resolve("big-offset.elf"), elf64(offset, 0x200));
            Outcome o = panavirt("run", f.toString());
            assertEquals(Main.EXIT_BAD_INPUT, o.status(), o.err());
            assertTrue(o.err().startsWith("panavirt: " + f + ": ELF segment 0 is malformed"), o.err());
            assertEquals(1, o.err().lines().count(), o.err());
        }
        // a 64-bit header cut to 52..63 bytes passed the 32-bit length check and ended as "panavirt: null"
        byte[] whole = elf64(0x100, 0x10);
        for (int n = 52; n < 64; n++) {
            Path f = Files.write(dir.resolve("cut.elf"), java.util.Arrays.copyOf(whole, n));
            badInput("panavirt: " + f + ": ELF header cut short: " + n + " of 64 bytes", "run", f.toString());
        }
    }
}
