package dev.panavirt.machine;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.GuestMemory;
import dev.panavirt.kvm.state.StateFormatException;
import dev.panavirt.kvm.state.UnsavedStateException;
import dev.panavirt.kvm.state.X86MachineState;
import dev.panavirt.vmm.DeviceState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@link Machine} written to a file while its vCPUs are parked, and a new machine built from such a file, in
 * this process or another: the guest resumes where it stopped, its console output continuing.
 *
 * <h2>The file</h2>
 * Little-endian throughout:
 * <pre>
 *   0  8 bytes  magic "PVSNAPSH"
 *   8  u16      version ({@value #VERSION}), u16 flags (0), u32 0
 *  16  u64      offset of the description, u64 its length (at most {@value #MAX_DESCRIPTION} bytes)
 *  32  u64      offset of guest RAM (a multiple of 4096), u64 its length (the machine's RAM size)
 *  48  u64      bytes of RAM written (the pages that are not all zero), u64 0
 *  64  the description
 *      RAM, as an image of guest-physical 0 up; pages of zeros are not written, so they are holes of a sparse file
 * </pre>
 * The description (Java {@code DataOutput} encoding, big-endian inside it): the {@link Machine.Config} (RAM size,
 * vCPUs, irqchip, hypervisor CPUID, shared memory, time limit in ns), the guest's run time so far in ns, the boot's
 * changes to the ports (which device answers port 0xe0, whether the PCI configuration ports and the UART's
 * interrupt are there), the KVM state ({@link X86MachineState}, length-prefixed), then the device models: a count
 * and per device its name, length and {@link DeviceState} bytes.
 *
 * <h2>What is saved, and what refuses</h2>
 * RAM, the KVM state of every vCPU and of the VM (with its own list of what it does not hold and refuses), and the
 * state of every device model of the machine: the UART's registers and unread input, port 0x92, the keyboard
 * controller, the PIC stand-ins (without the in-kernel irqchip), fw_cfg, pc-testdev, the PCI host bridge and
 * pci-testdev. {@link Machine#snapshotRefusals()} names what refuses a snapshot: virtio-mmio devices (a kernel
 * vhost-vdpa device or the vDPA model; their ring state is not saved) and devices added on the buses that do not
 * implement {@link DeviceState}. A vCPU that left its run for good (a HLT without the in-kernel irqchip) refuses
 * too. Not carried over: the machine's exit counters and the console input not yet queued in the UART (the host's
 * stdin stays with the host).
 *
 * <p>Restore: {@link #restore} builds a machine from the saved configuration, applies the boot's port changes,
 * copies the non-zero pages of RAM, loads the device models, and restores the KVM state in the order
 * {@link X86MachineState} gives. The run's time limit continues: the time already run counts.
 */
public final class MachineSnapshot {
    /** The file's magic. */
    public static final String MAGIC = "PVSNAPSH";
    /** The only version this class writes and reads. */
    public static final int VERSION = 1;
    /** The largest description a file may have: 64 MiB. */
    public static final int MAX_DESCRIPTION = 64 << 20;
    static final int HEADER = 64;
    private static final long PAGE = 4096;

    private MachineSnapshot() {
    }

    /** A file that is not a snapshot this version can restore; the message says what is wrong. */
    public static final class FormatException extends IOException {
        private static final long serialVersionUID = 1L;

        /** A refusal naming the problem. */
        public FormatException(String message) {
            super(message);
        }
    }

    /** What a save wrote: the file's size, the bytes of RAM written (non-zero pages), and the time it took. */
    public record Saved(Path file, long fileSize, long ramBytes, long ramWritten, Duration took) {}

    /**
     * Writes {@code machine} to {@code file} (replaced atomically: first written beside it, then moved). Every
     * vCPU must be outside {@code KVM_RUN}, as {@link Machine}'s pause leaves them; {@link Machine#snapshotAfter}
     * does all of that during a run.
     *
     * @param elapsed how long the guest has run, which the restored run's time limit counts
     * @throws UnsavedStateException when something refuses (see the class description); nothing is written
     * @throws ErrnoException naming the ioctl that failed while reading the KVM state
     * @throws IOException when the file cannot be written
     */
    public static Saved save(Machine machine, Path file, Duration elapsed) throws ErrnoException, IOException {
        long t0 = System.nanoTime();
        var refused = machine.snapshotRefusals();
        if (!refused.isEmpty()) {
            throw new UnsavedStateException("cannot snapshot this machine: " + String.join("; ", refused));
        }
        if (machine.haltedVcpus() > 0) {
            throw new UnsavedStateException(machine.haltedVcpus() + " vCPU(s) halted without the in-kernel irqchip"
                    + " and left their run: a restored machine could not resume them as they are");
        }
        X86MachineState kvmState = X86MachineState.capture(machine.vm(), machine.vcpus());
        Machine.Config c = machine.config();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(bytes);
        writeConfig(d, c);
        d.writeLong(elapsed.toNanos());
        d.writeInt(machine.bootChanges());
        byte[] k = kvmState.encode();
        d.writeInt(k.length);
        d.write(k);
        Map<String, byte[]> devices = deviceStates(machine);
        d.writeInt(devices.size());
        for (var e : devices.entrySet()) {
            d.writeUTF(e.getKey());
            d.writeInt(e.getValue().length);
            d.write(e.getValue());
        }
        d.flush();
        byte[] description = bytes.toByteArray();
        long ramOffset = align(HEADER + description.length);
        MemorySegment ram = machine.memory().slice(0, c.memorySize());

        Path tmp = file.resolveSibling(file.getFileName() + ".partial");
        long written = 0;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            written = writeNonZeroPages(ch, ram, ramOffset);
            ch.truncate(ramOffset + c.memorySize());
            if (ch.size() < ramOffset + c.memorySize()) {
                // extend to full length without writing: the tail of zero pages stays a hole
                ch.write(ByteBuffer.allocate(1), ramOffset + c.memorySize() - 1);
            }
            ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            h.put(MAGIC.getBytes(StandardCharsets.US_ASCII)).putShort((short) VERSION).putShort((short) 0).putInt(0)
                    .putLong(HEADER).putLong(description.length).putLong(ramOffset).putLong(c.memorySize())
                    .putLong(written).putLong(0).flip();
            ch.write(h, 0);
            ch.write(ByteBuffer.wrap(description), HEADER);
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Saved(file, Files.size(file), c.memorySize(), written,
                Duration.ofNanos(System.nanoTime() - t0));
    }

    /** Writes the settings a restored machine is built with (the time limit in ns; not the dirty ring). */
    static void writeConfig(DataOutputStream d, Machine.Config c) throws IOException {
        d.writeLong(c.memorySize());
        d.writeInt(c.vcpus());
        d.writeBoolean(c.irqchip());
        d.writeBoolean(c.hypervisorCpuid());
        d.writeBoolean(c.sharedMemory());
        d.writeLong(c.timeout().toNanos());
    }

    /**
     * Reads what {@link #writeConfig} wrote, checked; {@code ramLength} is the RAM the container holds (-1: any).
     *
     * @throws FormatException naming {@code where} when the settings do not add up
     */
    static Machine.Config readConfig(DataInputStream d, long ramLength, String where) throws IOException {
        long mem = d.readLong();
        int vcpus = d.readInt();
        boolean irqchip = d.readBoolean(), hv = d.readBoolean(), shared = d.readBoolean();
        long timeout = d.readLong();
        if ((ramLength >= 0 && mem != ramLength) || vcpus < 1 || vcpus > X86MachineState.MAX_VCPUS || timeout <= 0) {
            throw new FormatException(where + ": the saved machine does not add up (RAM " + mem
                    + (ramLength >= 0 ? " against " + ramLength + " in the file" : "") + ", " + vcpus
                    + " vCPUs, time limit " + timeout + " ns)");
        }
        try {
            return new Machine.Config(mem, vcpus, irqchip, Duration.ofNanos(timeout), hv, shared);
        } catch (IllegalArgumentException e) {
            throw new FormatException(where + ": " + e.getMessage());
        }
    }

    /** Every device model's state, by name: the machine's own, then those a caller added. */
    static Map<String, byte[]> deviceStates(Machine machine) throws IOException {
        Map<String, DeviceState> devices = new LinkedHashMap<>(machine.ownDevices());
        devices.putAll(machine.addedDevices());
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (var e : devices.entrySet()) {
            ByteArrayOutputStream one = new ByteArrayOutputStream();
            e.getValue().saveState(new DataOutputStream(one));
            out.put(e.getKey(), one.toByteArray());
        }
        return out;
    }

    /** Writes each run of pages that are not all zero at {@code base} + their address; returns the bytes written. */
    private static long writeNonZeroPages(FileChannel ch, MemorySegment ram, long base) throws IOException {
        MemorySegment zero = Arena.global().allocate(PAGE);
        long pages = ram.byteSize() / PAGE, written = 0;
        long p = 0;
        while (p < pages) {
            if (isZero(ram, p, zero)) {
                p++;
                continue;
            }
            long start = p;
            while (p < pages && !isZero(ram, p, zero)) {
                p++;
            }
            ByteBuffer run = ram.asSlice(start * PAGE, (p - start) * PAGE).asByteBuffer();
            long at = base + start * PAGE;
            while (run.hasRemaining()) {
                at += ch.write(run, at);
            }
            written += (p - start) * PAGE;
        }
        return written;
    }

    private static boolean isZero(MemorySegment ram, long page, MemorySegment zero) {
        return MemorySegment.mismatch(ram, page * PAGE, (page + 1) * PAGE, zero, 0, PAGE) < 0;
    }

    private static long align(long n) {
        return (n + PAGE - 1) & -PAGE;
    }

    /** A restored machine, ready to {@link Machine#run()}, and what the restore took. */
    public record Restored(Machine machine, long ramCopied, Duration took) {}

    /**
     * Builds a new machine from {@code file} with its console on {@code consoleOut}, ready to {@link Machine#run()}.
     *
     * @throws FormatException for a file that is not a complete snapshot of this version: every offset, length
     *         and count is checked against the file before it is used
     * @throws UnsavedStateException when this host's KVM differs from the one saved on in a way the state needs
     * @throws ErrnoException naming the ioctl this host's KVM refused
     * @throws IOException when the file cannot be read
     */
    public static Restored restore(Path file, OutputStream consoleOut) throws ErrnoException, IOException {
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            long size = ch.size();
            if (size < HEADER) {
                throw new FormatException(file + ": " + size + " bytes, shorter than the " + HEADER + "-byte header");
            }
            ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            while (h.hasRemaining() && ch.read(h, h.position()) > 0) {
                // read the whole header
            }
            h.flip();
            byte[] magic = new byte[8];
            h.get(magic);
            if (!MAGIC.equals(new String(magic, StandardCharsets.ISO_8859_1))) {
                throw new FormatException(file + ": not a panavirt snapshot (no \"" + MAGIC + "\" magic)");
            }
            int version = Short.toUnsignedInt(h.getShort()), flags = Short.toUnsignedInt(h.getShort());
            h.getInt();
            if (version != VERSION || flags != 0) {
                throw new FormatException(file + ": snapshot version " + version + " flags " + flags
                        + "; this panavirt reads version " + VERSION + " with flags 0");
            }
            long descOffset = h.getLong(), descLength = h.getLong(), ramOffset = h.getLong(), ramLength = h.getLong();
            if (descOffset != HEADER || descLength < 0 || descLength > MAX_DESCRIPTION
                    || ramOffset < HEADER + descLength || (ramOffset & (PAGE - 1)) != 0 || ramLength < 0
                    || ramOffset > size || ramLength > size - ramOffset) {
                throw new FormatException(file + ": offsets and lengths do not fit a " + size + "-byte file"
                        + " (description " + descOffset + "+" + descLength + ", RAM " + ramOffset + "+" + ramLength + ")");
            }
            ByteBuffer desc = ByteBuffer.allocate((int) descLength);
            while (desc.hasRemaining() && ch.read(desc, descOffset + desc.position()) > 0) {
                // read the whole description
            }
            if (desc.hasRemaining()) {
                throw new FormatException(file + ": the description is cut short");
            }
            DataInputStream d = new DataInputStream(new ByteArrayInputStream(desc.array()));
            try {
                Machine.Config config = readConfig(d, ramLength, file.toString());
                long timeout = config.timeout().toNanos(), elapsed = d.readLong();
                int bootChanges = d.readInt();
                if (elapsed < 0 || (bootChanges & ~0xf) != 0) {
                    throw new FormatException(file + ": the saved machine does not add up (run " + elapsed
                            + " ns, boot changes 0x" + Integer.toHexString(bootChanges) + ")");
                }
                byte[] k = new byte[checkedLength(d.readInt(), d.available(), "KVM state", file.toString())];
                d.readFully(k);
                X86MachineState kvmState = X86MachineState.decode(k);
                if (kvmState.vcpus().size() != config.vcpus()) {
                    throw new FormatException(file + ": " + kvmState.vcpus().size() + " vCPU records for "
                            + config.vcpus() + " vCPUs");
                }
                Map<String, byte[]> devices = new LinkedHashMap<>();
                int n = d.readInt();
                if (n < 0 || n > 1024) {
                    throw new FormatException(file + ": " + n + " device records");
                }
                for (int i = 0; i < n; i++) {
                    String name = d.readUTF();
                    byte[] b = new byte[checkedLength(d.readInt(), d.available(), "device " + name, file.toString())];
                    d.readFully(b);
                    devices.put(name, b);
                }
                if (d.available() > 0) {
                    throw new FormatException(file + ": " + d.available() + " bytes after the last device record");
                }
                MemorySegment image = ch.map(FileChannel.MapMode.READ_ONLY, ramOffset, ramLength, arena);
                Machine m = new Machine(config, consoleOut);
                try {
                    m.applyBootChanges(bootChanges);
                    long copied = copyNonZeroPages(image, m.memory());
                    loadDevices(m, devices, file.toString());
                    kvmState.restore(m.vm(), m.vcpus());
                    m.setElapsedBefore(Duration.ofNanos(Math.min(elapsed, timeout - 1)));
                    return new Restored(m, copied, Duration.ofNanos(System.nanoTime() - t0));
                } catch (IOException | RuntimeException e) {
                    m.close();
                    throw e;
                }
            } catch (EOFException e) {
                throw new FormatException(file + ": the description ends early");
            } catch (StateFormatException e) {
                throw new FormatException(file + ": " + e.getMessage());
            }
        }
    }

    static int checkedLength(int length, int available, String what, String file) throws FormatException {
        if (length < 0 || length > available) {
            throw new FormatException(file + ": " + what + " claims " + length + " bytes, " + available + " are left");
        }
        return length;
    }

    /** Copies the pages of {@code image} that are not all zero (a fresh machine's RAM is zero already). */
    private static long copyNonZeroPages(MemorySegment image, GuestMemory memory) {
        MemorySegment ram = memory.slice(0, image.byteSize());
        MemorySegment zero = Arena.global().allocate(PAGE);
        long copied = 0;
        for (long p = 0; p < image.byteSize() / PAGE; p++) {
            if (!isZero(image, p, zero)) {
                MemorySegment.copy(image, p * PAGE, ram, p * PAGE, PAGE);
                copied += PAGE;
            }
        }
        return copied;
    }

    /** Loads every device model of {@code m} from {@code saved}, which must name exactly those ({@code file}: for messages). */
    static void loadDevices(Machine m, Map<String, byte[]> saved, String file) throws IOException {
        Map<String, DeviceState> devices = new LinkedHashMap<>(m.ownDevices());
        devices.putAll(m.addedDevices());
        if (!devices.keySet().equals(saved.keySet())) {
            throw new FormatException(file + ": the saved devices " + saved.keySet() + " are not this machine's "
                    + devices.keySet());
        }
        for (var e : devices.entrySet()) {
            byte[] b = saved.get(e.getKey());
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
            try {
                e.getValue().loadState(in);
            } catch (EOFException x) {
                throw new FormatException(file + ": device " + e.getKey() + ": its state ends early");
            } catch (IOException x) {
                throw new FormatException(file + ": device " + e.getKey() + ": " + x.getMessage());
            }
            if (in.available() > 0) {
                throw new FormatException(file + ": device " + e.getKey() + ": " + in.available()
                        + " bytes after its state");
            }
        }
    }
}
