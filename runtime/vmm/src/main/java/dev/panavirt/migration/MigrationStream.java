package dev.panavirt.migration;

import dev.panavirt.kvm.MemoryRegion;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The precopy stream: what the source writes and the destination reads, big-endian throughout.
 *
 * <pre>
 * header   "PVMIGRAT" (8 bytes), u32 version (1)
 * RAM      0x01  u32 n (1..{@value #MAX_REGIONS}), n x { u32 slot, u64 gpa, u64 size }  (page-aligned, first record)
 * PAGE     0x02  u64 gpa, 4096 bytes                    (gpa page-aligned, inside a RAM region)
 * ZERO     0x03  u64 gpa                                (the page is all zeroes)
 * ROUND    0x04  u32 round, u64 pages in the round      (closes one copy round)
 * STATE    0x05  u16 name length (1..{@value #MAX_NAME}), name (UTF-8), u32 length (0..{@value #MAX_STATE}), bytes
 * END      0x06  u64 pages sent in all                  (the last record; the guest may resume)
 * </pre>
 *
 * <p>The reader checks every length and address before it touches memory or allocates: a hostile or
 * truncated stream is refused with a {@link StreamRefusedException} naming the byte offset, never
 * written outside the destination's RAM and never allowed to allocate more than one state section's
 * declared (bounded) size.
 */
public final class MigrationStream {
    /** The stream's first 8 bytes. */
    public static final byte[] MAGIC = "PVMIGRAT".getBytes(StandardCharsets.US_ASCII);
    /** The format version this class writes and reads. */
    public static final int VERSION = 1;
    /** Record tags. */
    public static final int RAM = 0x01, PAGE = 0x02, ZERO = 0x03, ROUND = 0x04, STATE = 0x05, END = 0x06;
    /** At most this many RAM regions. */
    public static final int MAX_REGIONS = 64;
    /** A state section's name is at most this many bytes. */
    public static final int MAX_NAME = 128;
    /** A state section is at most this many bytes (16 MiB). */
    public static final int MAX_STATE = 16 << 20;
    private static final int PAGE_BYTES = (int) DirtyPages.PAGE_SIZE;
    private static final MemorySegment ZERO_PAGE = MemorySegment.ofArray(new byte[PAGE_BYTES]);

    private MigrationStream() {
    }

    /** Writes a stream. Not thread-safe; one page buffer, reused. */
    public static final class Writer implements AutoCloseable {
        private final DataOutputStream out;
        private final byte[] page = new byte[PAGE_BYTES];
        private long pages;

        /** Writes the header to {@code out} (buffer it: records are small). */
        public Writer(OutputStream out) throws IOException {
            this.out = new DataOutputStream(out);
            this.out.write(MAGIC);
            this.out.writeInt(VERSION);
        }

        /** The RAM layout record. */
        public void ram(List<MemoryRegion> regions) throws IOException {
            out.writeByte(RAM);
            out.writeInt(regions.size());
            for (MemoryRegion r : regions) {
                out.writeInt(r.slot());
                out.writeLong(r.guestPhysAddr());
                out.writeLong(r.size());
            }
        }

        /**
         * The page at {@code gpa} from {@code memory} (its 4096 bytes at {@code offset}): a ZERO record when every
         * byte is zero, else a PAGE record.
         *
         * @return whether it went as a ZERO record
         */
        public boolean page(long gpa, MemorySegment memory, long offset) throws IOException {
            pages++;
            if (MemorySegment.mismatch(memory, offset, offset + PAGE_BYTES, ZERO_PAGE, 0, PAGE_BYTES) < 0) {
                out.writeByte(ZERO);
                out.writeLong(gpa);
                return true;
            }
            MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, offset, page, 0, PAGE_BYTES);
            out.writeByte(PAGE);
            out.writeLong(gpa);
            out.write(page);
            return false;
        }

        /** Closes copy round {@code round}, which sent {@code pagesInRound} pages. */
        public void round(int round, long pagesInRound) throws IOException {
            out.writeByte(ROUND);
            out.writeInt(round);
            out.writeLong(pagesInRound);
        }

        /** A named state section. */
        public void state(String name, byte[] bytes) throws IOException {
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            if (n.length == 0 || n.length > MAX_NAME || bytes.length > MAX_STATE) {
                throw new IllegalArgumentException("state section '" + name + "' of " + bytes.length
                        + " bytes is outside the format's limits");
            }
            out.writeByte(STATE);
            out.writeShort(n.length);
            out.write(n);
            out.writeInt(bytes.length);
            out.write(bytes);
        }

        /** The END record, then a flush. */
        public void end() throws IOException {
            out.writeByte(END);
            out.writeLong(pages);
            out.flush();
        }

        /** Pages written so far. */
        public long pages() {
            return pages;
        }

        /** Flushes what is buffered. */
        public void flush() throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    /** What a {@link Reader} hands each record to. */
    public interface Receiver {
        /** The RAM layout, already bounds-checked as a list of (slot, gpa, size). */
        void ram(int[] slots, long[] gpas, long[] sizes) throws StreamRefusedException;

        /**
         * The page at {@code gpa}: {@code bytes} (4096, reused between calls) or, when {@code zero}, all zeroes.
         * {@code gpa} is page-aligned and inside the layout.
         */
        void page(long gpa, byte[] bytes, boolean zero);

        /** The end of a copy round. */
        void round(int round, long pages);

        /** A state section. */
        void state(String name, byte[] bytes);
    }

    /** Reads one stream, checking each record. Not thread-safe. */
    public static final class Reader {
        private final DataInputStream in;
        private final byte[] page = new byte[PAGE_BYTES];
        private long offset;
        private long[] gpas;
        private long[] sizes;

        /** Reads from {@code in} (buffer it). */
        public Reader(InputStream in) {
            this.in = new DataInputStream(in);
        }

        /**
         * Reads records up to and including END, handing each to {@code receiver}.
         *
         * @return the pages the stream carried
         * @throws StreamRefusedException for anything the format does not allow, including a stream that
         *                                ends before END
         * @throws IOException when the transport fails
         */
        public long read(Receiver receiver) throws IOException {
            long pages = 0;
            try {
                byte[] magic = new byte[MAGIC.length];
                in.readFully(magic);
                if (!java.util.Arrays.equals(magic, MAGIC)) {
                    throw new StreamRefusedException(0, "not a panavirt migration stream (bad magic)");
                }
                int version = in.readInt();
                offset = 12;
                if (version != VERSION) {
                    throw new StreamRefusedException(8, "version " + version + ", this reader takes " + VERSION);
                }
                while (true) {
                    long at = offset;
                    int tag = in.read();
                    offset++;
                    if (tag < 0) {
                        throw new StreamRefusedException(at, "the stream ended before its END record");
                    }
                    if (tag != RAM && gpas == null) {
                        throw new StreamRefusedException(at, "record 0x" + Integer.toHexString(tag)
                                + " before the RAM layout");
                    }
                    switch (tag) {
                        case RAM -> readRam(at, receiver);
                        case PAGE, ZERO -> {
                            long gpa = readLong();
                            check(at, gpa);
                            if (tag == PAGE) {
                                in.readFully(page);
                                offset += PAGE_BYTES;
                            }
                            receiver.page(gpa, page, tag == ZERO);
                            pages++;
                        }
                        case ROUND -> {
                            int round = readInt();
                            long n = readLong();
                            receiver.round(round, n);
                        }
                        case STATE -> readState(at, receiver);
                        case END -> {
                            long declared = readLong();
                            if (declared != pages) {
                                throw new StreamRefusedException(at, "END says " + declared + " pages, the stream carried "
                                        + pages);
                            }
                            return pages;
                        }
                        default -> throw new StreamRefusedException(at, "unknown record tag 0x" + Integer.toHexString(tag));
                    }
                }
            } catch (EOFException e) {
                throw new StreamRefusedException(offset, "the stream ended inside a record");
            }
        }

        private void readRam(long at, Receiver receiver) throws IOException {
            if (gpas != null) {
                throw new StreamRefusedException(at, "a second RAM layout");
            }
            int n = readInt();
            if (n < 1 || n > MAX_REGIONS) {
                throw new StreamRefusedException(at, n + " RAM regions, the format allows 1.." + MAX_REGIONS);
            }
            int[] slots = new int[n];
            long[] g = new long[n];
            long[] s = new long[n];
            for (int i = 0; i < n; i++) {
                slots[i] = readInt();
                g[i] = readLong();
                s[i] = readLong();
                if (g[i] < 0 || s[i] <= 0 || g[i] % PAGE_BYTES != 0 || s[i] % PAGE_BYTES != 0
                        || g[i] + s[i] < g[i]) {
                    throw new StreamRefusedException(at, "RAM region " + i + " 0x" + Long.toHexString(g[i]) + "+0x"
                            + Long.toHexString(s[i]) + " is not whole pages of the address space");
                }
            }
            receiver.ram(slots, g, s);
            gpas = g;
            sizes = s;
        }

        private void readState(long at, Receiver receiver) throws IOException {
            int nameLength = in.readUnsignedShort();
            offset += 2;
            if (nameLength < 1 || nameLength > MAX_NAME) {
                throw new StreamRefusedException(at, "state name of " + nameLength + " bytes (1.." + MAX_NAME + ")");
            }
            byte[] name = new byte[nameLength];
            in.readFully(name);
            offset += nameLength;
            int length = readInt();
            if (length < 0 || length > MAX_STATE) {
                throw new StreamRefusedException(at, "state section of " + Integer.toUnsignedString(length)
                        + " bytes (at most " + MAX_STATE + ")");
            }
            byte[] bytes = in.readNBytes(length);
            offset += bytes.length;
            if (bytes.length != length) {
                throw new StreamRefusedException(offset, "the stream ended inside a state section");
            }
            receiver.state(new String(name, StandardCharsets.UTF_8), bytes);
        }

        private void check(long at, long gpa) throws StreamRefusedException {
            if (gpa % PAGE_BYTES == 0) {
                for (int i = 0; i < gpas.length; i++) {
                    if (gpa >= gpas[i] && gpa - gpas[i] < sizes[i]) {
                        return;
                    }
                }
            }
            throw new StreamRefusedException(at, "page 0x" + Long.toHexString(gpa)
                    + " is not a page of the declared RAM");
        }

        private int readInt() throws IOException {
            int v = in.readInt();
            offset += 4;
            return v;
        }

        private long readLong() throws IOException {
            long v = in.readLong();
            offset += 8;
            return v;
        }
    }
}
