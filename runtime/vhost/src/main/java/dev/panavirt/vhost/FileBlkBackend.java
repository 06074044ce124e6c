package dev.panavirt.vhost;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.vdpa.BlkBackend;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Libc;
import dev.panavirt.sys.Scratch;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A disk image file as the block simulator's sectors ({@link BlkBackend}): what a VMM's {@code --disk FILE[,ro]}
 * gives a guest's virtio-blk device.
 *
 * <ul>
 *   <li><b>Capacity</b> = file size / 512, fixed when opened; an empty file, or one whose size is not a whole
 *       number of sectors, is refused (as QEMU's raw format would round it down and lose the tail).</li>
 *   <li><b>Writes</b> go to the file with {@code pwrite(2)} as each request completes (the host's page cache is
 *       the device's write cache); {@code VIRTIO_BLK_T_FLUSH} is {@code fdatasync(2)}, so what the guest
 *       flushed is on disk when the flush completes (virtio 1.2 section 5.2.6: a FLUSH persists every write
 *       completed before it).</li>
 *   <li><b>Read-only</b> opens use {@code O_RDONLY}; the device offers {@code VIRTIO_BLK_F_RO} and answers
 *       writes with IOERR.</li>
 *   <li><b>GET_ID</b> answers the file name, its first 20 bytes (non-ASCII bytes as {@code '?'}).</li>
 * </ul>
 *
 * <p>I/O goes through {@code pread}/{@code pwrite} on a descriptor of its own and one native bounce buffer of
 * {@link #MAX_TRANSFER} bytes: nothing is allocated per request, and an interrupt of the serving thread does
 * not close the file (a {@code FileChannel} would). A short read (the file shrank under the device) or a
 * failing call is an {@link ErrnoException} naming the call, which the device reports as IOERR.
 *
 * <p>Thread-safe; {@link #close} closes the file, after which every call fails with {@code EBADF}.
 */
public final class FileBlkBackend implements BlkBackend {
    private final Path file;
    private final Fd fd;
    private final long capacity;
    private final boolean readOnly;
    private final byte[] id;
    private final MemorySegment buffer = Arena.ofAuto().allocate(MAX_TRANSFER, 4096);
    private boolean closed;

    private FileBlkBackend(Path file, Fd fd, long capacity, boolean readOnly) {
        this.file = file;
        this.fd = fd;
        this.capacity = capacity;
        this.readOnly = readOnly;
        byte[] name = String.valueOf(file.getFileName()).getBytes(StandardCharsets.US_ASCII);
        this.id = Arrays.copyOf(name, Math.min(name.length, ID_BYTES));
    }

    /**
     * Opens {@code file}, read-write or read-only.
     *
     * @throws IllegalArgumentException when it is not a regular file, is empty, or its size is not a multiple of
     *         512 bytes
     * @throws NoSuchFileException      when there is no such file
     * @throws ErrnoException naming {@code open} when the file cannot be opened as asked
     */
    public static FileBlkBackend open(Path file, boolean readOnly) throws IOException {
        if (Files.notExists(file)) {
            throw new NoSuchFileException(file.toString(), null, "disk image");
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("disk image " + file + ": not a regular file");
        }
        long size = Files.size(file);
        if (size == 0) {
            throw new IllegalArgumentException("disk image " + file + ": empty (0 bytes)");
        }
        if (size % SECTOR != 0) {
            throw new IllegalArgumentException("disk image " + file + ": " + size
                    + " bytes is not a whole number of 512-byte sectors");
        }
        Fd fd = Fd.open(file.toString(), readOnly ? Libc.O_RDONLY : Libc.O_RDWR);
        return new FileBlkBackend(file, fd, size / SECTOR, readOnly);
    }

    /** The image file. */
    public Path file() {
        return file;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public byte[] id() {
        return id.clone();
    }

    /** pread or pwrite of {@code len} bytes between the buffer and the file at {@code offset}; resumes short ones. */
    private void transfer(boolean write, long offset, int len) throws ErrnoException {
        String call = write ? "pwrite" : "pread";
        MemorySegment capture = Scratch.capture();
        for (int done = 0; done < len; ) {
            MemorySegment at = done == 0 ? buffer : buffer.asSlice(done);   // no slice on the usual path
            long rc = write ? Libc.pwrite(capture, fd.raw(), at, len - done, offset + done)
                    : Libc.pread(capture, fd.raw(), at, len - done, offset + done);
            if (rc == -Errno.EINTR) {
                continue;
            }
            if (rc <= 0) {
                throw new ErrnoException(call, rc == 0 ? Errno.EIO : (int) -rc, file + ": " + (len - done)
                        + " bytes at " + (offset + done)
                        + (rc == 0 && !write ? " (end of file: the image shrank)" : ""));
            }
            done += (int) rc;
        }
    }

    @Override
    public synchronized void read(long offset, byte[] dst, int off, int len) throws IOException {
        check("pread", offset, len);
        transfer(false, offset, len);
        MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, dst, off, len);
    }

    @Override
    public synchronized void write(long offset, byte[] src, int off, int len) throws IOException {
        check("pwrite", offset, len);
        if (readOnly) {
            throw new ErrnoException("pwrite", Errno.EBADF, file + " is open read-only");
        }
        MemorySegment.copy(src, off, buffer, ValueLayout.JAVA_BYTE, 0, len);
        transfer(true, offset, len);
    }

    @Override
    public synchronized void flush() throws IOException {
        check("fdatasync", 0, 0);
        if (readOnly) {
            return;                                   // nothing was written through this descriptor
        }
        int rc;
        do {
            rc = Libc.fdatasync(Scratch.capture(), fd.raw());
        } while (rc == -Errno.EINTR);
        if (rc < 0) {
            throw new ErrnoException("fdatasync", -rc, file.toString());
        }
    }

    /** Writes zeros piece by piece through the bounce buffer (bounded memory whatever the length). */
    @Override
    public synchronized void zero(long offset, long length) throws IOException {
        check("pwrite", offset, 0);
        if (readOnly) {
            throw new ErrnoException("pwrite", Errno.EBADF, file + " is open read-only");
        }
        MemorySegment capture = Scratch.capture();
        buffer.fill((byte) 0);
        for (long done = 0; done < length; ) {
            long n = Math.min(MAX_TRANSFER, length - done);
            long rc = Libc.pwrite(capture, fd.raw(), buffer, n, offset + done);
            if (rc == -Errno.EINTR) {
                continue;
            }
            if (rc <= 0) {
                throw new ErrnoException("pwrite", rc == 0 ? Errno.EIO : (int) -rc, file + ": zeros at "
                        + (offset + done));
            }
            done += rc;
        }
    }

    /** Closes the file; idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        fd.close();
    }

    /** Refuses calls after close and transfers the bounce buffer cannot hold or the disk does not have. */
    private void check(String op, long offset, int len) throws ErrnoException {
        if (closed) {
            throw new ErrnoException(op, Errno.EBADF, file + " is closed");
        }
        if (len < 0 || len > MAX_TRANSFER || offset < 0 || offset > (capacity << 9) - len) {
            throw new ErrnoException(op, Errno.EINVAL, file + ": " + len + " bytes at " + offset + " of a "
                    + (capacity << 9) + "-byte disk");
        }
    }

    @Override
    public String toString() {
        return "disk image " + file + (readOnly ? " (read-only)" : "") + ", " + capacity + " sectors";
    }
}
