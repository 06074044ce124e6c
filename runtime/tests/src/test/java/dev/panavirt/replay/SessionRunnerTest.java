package dev.panavirt.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The session protocol against a small fake device: parsing, results, expectations, errors. */
class SessionRunnerTest {

    /** Registers at 0..0xff, memory, one attribute group (1), an 8- and a 16-byte ONE_REG. */
    static class Fake implements SessionTarget {
        final Map<Long, Long> regs = new HashMap<>();
        final Map<Long, Byte> mem = new HashMap<>();
        long attr;
        byte[] wide = new byte[16];
        int lines;

        @Override public String name() { return "fake"; }

        @Override
        public long read(long address, int width) throws ErrnoException {
            if (address > 0xff) {
                throw new ErrnoException("read", Errno.EINVAL, null);
            }
            return regs.getOrDefault(address, 0L);
        }

        @Override
        public void write(long address, int width, long value) throws ErrnoException {
            if (address > 0xff) {
                throw new ErrnoException("write", Errno.EINVAL, null);
            }
            regs.put(address, value);
        }

        @Override
        public void memWrite(long gpa, byte[] data) {
            for (int i = 0; i < data.length; i++) {
                mem.put(gpa + i, data[i]);
            }
        }

        @Override
        public byte[] memRead(long gpa, int length) {
            byte[] b = new byte[length];
            for (int i = 0; i < length; i++) {
                b[i] = mem.getOrDefault(gpa + i, (byte) 0);
            }
            return b;
        }

        @Override
        public long getAttr(int group, long a, int size) throws ErrnoException {
            if (group != 1) {
                throw new ErrnoException("KVM_GET_DEVICE_ATTR", Errno.ENXIO, null);
            }
            return attr;
        }

        @Override
        public void setAttr(int group, long a, long value, int size) throws ErrnoException {
            if (group != 1) {
                throw new ErrnoException("KVM_SET_DEVICE_ATTR", Errno.ENXIO, null);
            }
            attr = value;
        }

        @Override public boolean hasAttr(int group, long a) { return group == 1; }

        @Override
        public byte[] getOneReg(int vcpu, long regId) throws ErrnoException {
            if (regId == 0x40) {
                return wide.clone();
            }
            throw new ErrnoException("KVM_GET_ONE_REG", Errno.ENOENT, null);
        }

        @Override
        public void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException {
            if (regId != 0x40 || value.length != 16) {
                throw new ErrnoException("KVM_SET_ONE_REG", Errno.EINVAL, null);
            }
            wide = value.clone();
        }

        @Override public void setIrq(int line, boolean level) { lines += level ? 1 : 0; }
        @Override public void vcpuLoad(int vcpu) { throw new UnsupportedOperationException(); }
        @Override public void vcpuPut(int vcpu) { throw new UnsupportedOperationException(); }
        @Override public int signalMsi(long address, int data, int devid) { return data == 0 ? 0 : 1; }
        @Override public String state() { return "lines=" + lines + " attr=" + attr; }

        @Override
        public OptionalLong symbol(String name) {
            return name.equals("CTLR") ? OptionalLong.of(0x10) : OptionalLong.empty();
        }
    }

    private static SessionRunner.Outcome run(String script) throws Exception {
        return new SessionRunner(new Fake()).run(Script.parse(script));
    }

    @Test
    void everyOperationProducesOneDeterministicLine() throws Exception {
        String script = """
                # a comment, then a blank line

                write CTLR 4 0x1            # symbol for the offset
                read CTLR 4 expect 0x1
                read CTLR+8 4 expect 0
                write 0x100 4 1 expect EINVAL
                mem-write 0x1000 8 0x1122334455667788
                mem-read 0x1004 4 expect 0x11223344
                attr-set 1 0 42 4
                attr-get 1 0 4 expect 42
                attr-get 2 0 expect ENXIO
                attr-has 2 0 expect 0
                reg-set 0 0x40 bytes:000102030405060708090a0b0c0d0e0f
                reg-get 0 0x40 expect bytes:000102030405060708090a0b0c0d0e0f
                reg-get 0 0x41 expect ENOENT
                irq 3 1
                msi 0xfee00000 0 0 expect 0
                vcpu-load 0 expect unsupported
                state expect "lines=1 attr=42"
                """;
        SessionRunner.Outcome a = run(script);
        assertTrue(a.passed(), a.failure());
        assertEquals(a.lines(), run(script).lines(), "two runs give identical output");
        assertEquals(List.of("L3 write CTLR 4 0x1 -> ok", "L4 read CTLR 4 -> 0x1"), a.lines().subList(0, 2));
        assertEquals("L6 write 0x100 4 1 -> EINVAL", a.lines().get(3));
        assertEquals(17, a.lines().size());
    }

    @Test
    void firstUnmetExpectationStopsTheRunAndNamesTheLine() throws Exception {
        SessionRunner.Outcome o = run("""
                write 0 4 5
                read 0 4 expect 6
                read 0 4
                """);
        assertFalse(o.passed());
        assertEquals("line 2: expected 6, got 0x5", o.failure());
        assertEquals(3, o.lines().size(), "two results and the FAIL line; line 3 never ran");
        assertTrue(o.lines().get(2).startsWith("FAIL line 2"));
    }

    @Test
    void malformedScriptsAreRejectedWithTheLine() {
        var e = assertThrows(Script.ScriptException.class, () -> Script.parse("read 0 4\nfrobnicate 1"));
        assertEquals("line 2: unknown operation 'frobnicate'", e.getMessage());
        assertThrows(Script.ScriptException.class, () -> Script.parse("write 0 4"));
        assertThrows(Script.ScriptException.class, () -> Script.parse("read 0 4 expect "));
    }

    @Test
    void badArgumentsAreResultsNotCrashes() throws Exception {
        SessionRunner.Outcome o = run("""
                read 0 3
                read NOPE 4
                """);
        assertTrue(o.passed());
        assertTrue(o.lines().get(0).contains("error: width must be 1, 2, 4 or 8"), o.lines().get(0));
        assertTrue(o.lines().get(1).contains("error: not a number or a name fake knows: NOPE"), o.lines().get(1));
    }

    /** An IOMMU-ish fake: records what the runner passes and answers with fixed shapes. */
    static final class FakeIommu extends Fake {
        final List<String> calls = new java.util.ArrayList<>();
        long polls;

        @Override public int checkExtension(int id) { return id == 3 ? 1 : 0; }
        @Override public String iommuInfo() { return "pgsizes 0x1000"; }

        @Override
        public void dmaMap(long iova, long size, long buffer, int access) throws ErrnoException {
            if (size == 0) {
                throw new ErrnoException("VFIO_IOMMU_MAP_DMA", Errno.EINVAL, null);
            }
            calls.add("map " + iova + " " + size + " " + buffer + " " + access);
        }

        @Override public long dmaUnmap(long iova, long size) { return size; }

        @Override
        public long dmaUnmapDirty(long iova, long size, long pageSize, byte[] bitmap) {
            bitmap[0] = 0x05;
            return size;
        }

        @Override
        public void dirtyBitmap(long iova, long size, long pageSize, byte[] bitmap) {
            bitmap[bitmap.length - 1] = (byte) 0x80;
        }

        @Override
        public long regionRead(int region, long offset, int width) {
            return ++polls >= 3 ? 0 : 1;   // "busy" twice, then done
        }
    }

    @Test
    void iommuOperationsFormatTheirResults() throws Exception {
        FakeIommu t = new FakeIommu();
        SessionRunner.Outcome o = new SessionRunner(t).run(Script.parse("""
                ext 3 expect 1
                iommu-info expect "pgsizes 0x1000"
                dma-map 0x1000 0x2000 0 rw expect ok
                dma-map 0x1000 0 0 r expect EINVAL
                dma-unmap 0x1000 0x2000 expect 0x2000
                dma-unmap-dirty 0 0x2000 0x1000 8 expect "0x2000 bytes:0500000000000000"
                dirty-get 0 0x2000 0x1000 2 expect bytes:0080
                region-poll 0 0x20 4 1 0 1000 expect 0x0
                dirty-start expect unsupported
                """));
        assertTrue(o.passed(), o.failure());
        assertEquals(List.of("map 4096 8192 0 3"), t.calls);
        assertEquals(3, t.polls, "polled until the busy bit cleared");
    }

    @Test
    void oversizedBitmapsAndPollTimesAreRefused() throws Exception {
        SessionRunner.Outcome o = new SessionRunner(new FakeIommu()).run(Script.parse("""
                dirty-get 0 0x1000 0x1000 0x100001
                region-poll 0 0 4 1 1 60001
                """));
        assertTrue(o.lines().get(0).contains("error: bitmap bytes must be 0 to 1048576"), o.lines().get(0));
        assertTrue(o.lines().get(1).contains("error: poll time must be 0 to 60000 ms"), o.lines().get(1));
    }
}
