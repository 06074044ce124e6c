package dev.panavirt.migration;

import dev.panavirt.kvm.MemoryRegion;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The receiving end of a precopy migration: writes each page of the stream into the destination VM's RAM,
 * which must have the source's layout (same guest-physical regions and sizes), and collects the state
 * sections for the caller to apply before it resumes the vCPUs. The destination's vCPUs must not run
 * while it receives.
 */
public final class PrecopyDestination {
    /**
     * What arrived.
     *
     * @param pages  pages written (ZERO records included)
     * @param rounds copy rounds the source closed
     * @param state  the state sections, in stream order
     * @param time   from the first byte read to the END record
     */
    public record Incoming(long pages, int rounds, Map<String, byte[]> state, Duration time) {}

    private final List<MemoryRegion> ram;

    /** A destination writing into {@code ram}. */
    public PrecopyDestination(List<MemoryRegion> ram) {
        this.ram = List.copyOf(ram);
    }

    /**
     * Reads one stream from {@code in} to its END record.
     *
     * @throws StreamRefusedException when the stream breaks the format or its layout differs from this RAM
     * @throws IOException when the transport fails
     */
    public Incoming receive(InputStream in) throws IOException {
        long start = System.nanoTime();
        Map<String, byte[]> state = new LinkedHashMap<>();
        int[] rounds = {0};
        long pages = new MigrationStream.Reader(in).read(new MigrationStream.Receiver() {
            @Override
            public void ram(int[] slots, long[] gpas, long[] sizes) throws StreamRefusedException {
                if (gpas.length != ram.size()) {
                    throw new StreamRefusedException(12, "the source has " + gpas.length + " RAM regions, this VM "
                            + ram.size());
                }
                for (int i = 0; i < gpas.length; i++) {
                    MemoryRegion r = ram.get(i);
                    if (gpas[i] != r.guestPhysAddr() || sizes[i] != r.size()) {
                        throw new StreamRefusedException(12, "source RAM region " + i + " is 0x" + Long.toHexString(gpas[i])
                                + "+0x" + Long.toHexString(sizes[i]) + ", this VM's 0x"
                                + Long.toHexString(r.guestPhysAddr()) + "+0x" + Long.toHexString(r.size()));
                    }
                }
            }

            @Override
            public void page(long gpa, byte[] bytes, boolean zero) {
                for (MemoryRegion r : ram) {
                    long off = gpa - r.guestPhysAddr();
                    if (off >= 0 && off < r.size()) {
                        if (zero) {
                            r.memory().asSlice(off, DirtyPages.PAGE_SIZE).fill((byte) 0);
                        } else {
                            MemorySegment.copy(bytes, 0, r.memory(), ValueLayout.JAVA_BYTE, off, bytes.length);
                        }
                        return;
                    }
                }
                throw new IllegalStateException("page 0x" + Long.toHexString(gpa) + " passed the layout check");
            }

            @Override
            public void round(int round, long n) {
                rounds[0] = round;
            }

            @Override
            public void state(String name, byte[] bytes) {
                state.put(name, bytes);
            }
        });
        return new Incoming(pages, rounds[0], state, Duration.ofNanos(System.nanoTime() - start));
    }
}
