package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.kvm.MemoryRegion;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The stream format without KVM: a faithful round trip, and every malformed stream refused before it writes. */
class MigrationStreamTest {
    static final long BASE = 0x100000;
    static final long SIZE = 16 * 4096;

    static MemoryRegion region(byte[] bytes) {
        return new MemoryRegion(0, BASE, SIZE, 0, MemorySegment.ofArray(bytes));
    }

    @Test
    void pagesZeroPagesAndStateTravel() throws Exception {
        byte[] src = new byte[(int) SIZE];
        src[3 * 4096 + 17] = 42;
        src[15 * 4096 + 4095] = -1;
        byte[] dst = new byte[(int) SIZE];
        java.util.Arrays.fill(dst, (byte) 0x55);   // ZERO records must clear what was there
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationStream.Writer w = new MigrationStream.Writer(bytes);
        w.ram(List.of(region(src)));
        long zero = 0;
        for (int p = 0; p < 16; p++) {
            zero += w.page(BASE + p * 4096L, MemorySegment.ofArray(src), p * 4096L) ? 1 : 0;
        }
        w.round(1, 16);
        w.state("cpu", new byte[] {1, 2, 3});
        w.end();
        assertEquals(14, zero);
        // header 12, RAM 25, 14 ZERO records of 9, 2 PAGE records of 4105, ROUND 13, STATE 13, END 9
        assertEquals(12 + 25 + 14 * 9 + 2 * 4105 + 13 + 13 + 9, bytes.size());
        PrecopyDestination.Incoming in = new PrecopyDestination(List.of(region(dst)))
                .receive(new ByteArrayInputStream(bytes.toByteArray()));
        assertEquals(16, in.pages());
        assertEquals(1, in.rounds());
        assertEquals(List.of("cpu"), List.copyOf(in.state().keySet()));
        assertTrue(java.util.Arrays.equals(src, dst));
    }

    /** A stream builder for hostile inputs. */
    static byte[] stream(IoConsumer body) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.write(MigrationStream.MAGIC);
        d.writeInt(MigrationStream.VERSION);
        body.accept(d);
        d.flush();
        return b.toByteArray();
    }

    interface IoConsumer {
        void accept(DataOutputStream d) throws IOException;
    }

    static void ram(DataOutputStream d) throws IOException {
        d.writeByte(MigrationStream.RAM);
        d.writeInt(1);
        d.writeInt(0);
        d.writeLong(BASE);
        d.writeLong(SIZE);
    }

    StreamRefusedException refused(byte[] stream, String expect) {
        byte[] dst = new byte[(int) SIZE];
        StreamRefusedException e = assertThrows(StreamRefusedException.class,
                () -> new PrecopyDestination(List.of(region(dst))).receive(new ByteArrayInputStream(stream)));
        assertTrue(e.getMessage().contains(expect), e.getMessage());
        assertTrue(java.util.Arrays.equals(dst, new byte[(int) SIZE]), "nothing written before a refusal");
        return e;
    }

    @Test
    void hostileStreamsAreRefused() throws Exception {
        refused("NOTAMIGR\0\0\0\1".getBytes(), "bad magic");
        refused(stream(d -> { }), "before its END");
        byte[] badVersion = stream(d -> { });
        badVersion[11] = 9;
        refused(badVersion, "version 9");
        refused(stream(d -> { d.writeByte(MigrationStream.PAGE); d.writeLong(BASE); }), "before the RAM layout");
        refused(stream(d -> { d.writeByte(MigrationStream.RAM); d.writeInt(0); }), "0 RAM regions");
        refused(stream(d -> { d.writeByte(MigrationStream.RAM); d.writeInt(100_000); }), "100000 RAM regions");
        refused(stream(d -> { d.writeByte(MigrationStream.RAM); d.writeInt(1); d.writeInt(0); d.writeLong(BASE + 1);
            d.writeLong(SIZE); }), "not whole pages");
        refused(stream(d -> { d.writeByte(MigrationStream.RAM); d.writeInt(1); d.writeInt(0); d.writeLong(Long.MAX_VALUE - 4095);
            d.writeLong(1L << 40); }), "not whole pages");
        refused(stream(d -> { d.writeByte(MigrationStream.RAM); d.writeInt(1); d.writeInt(0); d.writeLong(0);
            d.writeLong(SIZE); }), "source RAM region 0 is 0x0");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.RAM); }), "a second RAM layout");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.ZERO); d.writeLong(BASE + SIZE); }), "not a page of the declared RAM");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.ZERO); d.writeLong(BASE + 8); }), "not a page of the declared RAM");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.ZERO); d.writeLong(BASE - 4096); }), "not a page of the declared RAM");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.PAGE); d.writeLong(BASE); d.write(new byte[100]); }),
                "ended inside");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.STATE); d.writeShort(0); }), "state name of 0 bytes");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.STATE); d.writeShort(1); d.writeByte('x');
            d.writeInt(-1); }), "4294967295 bytes");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.STATE); d.writeShort(1); d.writeByte('x');
            d.writeInt(MigrationStream.MAX_STATE); d.write(new byte[10]); }), "inside a state section");
        refused(stream(d -> { ram(d); d.writeByte(0x7f); }), "unknown record tag 0x7f");
        refused(stream(d -> { ram(d); d.writeByte(MigrationStream.ZERO); d.writeLong(BASE);
            d.writeByte(MigrationStream.END); d.writeLong(2); }), "END says 2 pages, the stream carried 1");
    }

    @Test
    void theRefusalNamesTheRecordsOffset() throws Exception {
        StreamRefusedException e = refused(stream(d -> { ram(d); d.writeByte(0x7f); }), "unknown record tag");
        assertEquals(12 + 1 + 4 + 20, e.offset());
    }

    @Test
    void oversizedStateIsRefusedByTheWriterToo() throws Exception {
        MigrationStream.Writer w = new MigrationStream.Writer(new ByteArrayOutputStream());
        assertThrows(IllegalArgumentException.class, () -> w.state("x".repeat(129), new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> w.state("", new byte[0]));
    }
}
