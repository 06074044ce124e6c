package dev.panavirt.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.MemoryRegion;
import dev.panavirt.models.vfio.EduDevice;
import dev.panavirt.testsupport.KvmTest;
import dev.panavirt.vfio.EduModelDevice;
import dev.panavirt.vfio.Iommu;
import dev.panavirt.vfio.ModelIommu;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The VFIO edu model's state moves with the guest: before the migration a driver (this test) leaves values in the
 * device's registers, a factorial's result and its interrupt pending, and a DMA transfer started but not finished
 * (the model's {@code STEPPED} timing holds it). The guest keeps dirtying memory while its RAM moves; at the stop the
 * device's state goes as the {@code edu} section. On the destination's own edu model the driver reads back what it
 * wrote, and the transfer finishes into the destination's RAM. Without the section the same checks fail.
 */
@KvmTest
class EduStateMigrationTest {
    static final String SECTION = "vfio.edu";
    static final long WINDOW = PrecopyMigrationTest.DEVICE, WINDOW_SIZE = PrecopyMigrationTest.DEVICE_SIZE;
    /** The page the driver fills with a pattern, DMAs into the device's buffer, then starts a DMA back out to TARGET. */
    static final long PATTERN = WINDOW, TARGET = WINDOW + 0x80000;
    static final int LIVENESS = 0x1234_5678, FACTORIAL_N = 10, FACTORIAL = 3_628_800;

    @Test
    void theDeviceStateSectionCarriesRegistersAndAnInFlightDma() throws Exception {
        Moved m = migrate(true);
        assertEquals(List.of(), m.differing, "pages that differ at the stop point");
        assertEquals(List.of(), m.deviceFailures, "the driver's checks on the destination's device");
        assertEquals(PrecopyMigrationTest.unmigrated(m.stoppedAt + PrecopyMigrationTest.MORE), m.resumed,
                "the migrated guest's result against the unmigrated run's");
    }

    @Test
    void withoutTheSectionTheDriversChecksFail() throws Exception {
        Moved m = migrate(false);
        assertEquals(List.of(), m.differing, "RAM alone still arrives whole");
        assertTrue(m.loadRefusal instanceof IOException e && e.getMessage().contains(SECTION),
                "the destination refuses a stream without the device's section: " + m.loadRefusal);
        assertEquals(List.of("liveness", "factorial", "interrupt status", "in-flight DMA"), m.deviceFailures);
    }

    @Test
    void aDamagedSectionIsRefusedAndLeavesTheDeviceAsItWas() throws Exception {
        try (ModelIommu iommu = ModelIommu.open();
                EduModelDevice edu = EduModelDevice.create(iommu, true, EduDevice.Timing.STEPPED)) {
            edu.write(0, EduDevice.LIVENESS, 4, 7);
            byte[] good = DeviceSection.save(asDeviceState(edu.model()));
            byte[] badMagic = good.clone();
            badMagic[3] ^= 1;
            byte[] inconsistent = good.clone();
            inconsistent[4 + 16 + 32 + 1] = 1;            // DMA pending, command's run bit clear
            byte[] longer = java.util.Arrays.copyOf(good, good.length + 1);
            byte[] shorter = java.util.Arrays.copyOf(good, good.length - 1);
            for (byte[] bad : List.of(badMagic, inconsistent, longer, shorter)) {
                edu.write(0, EduDevice.LIVENESS, 4, 9);
                assertThrows(IOException.class, () -> DeviceSection.load(Map.of(SECTION, bad), SECTION, asDeviceState(edu.model())));
                if (bad != longer) {                       // read whole and checked before anything changed
                    assertEquals(~9 & 0xffff_ffffL, edu.read(0, EduDevice.LIVENESS, 4));
                }
            }
            DeviceSection.load(Map.of(SECTION, good), SECTION, asDeviceState(edu.model()));
            assertEquals(~7 & 0xffff_ffffL, edu.read(0, EduDevice.LIVENESS, 4));
        }
    }

    /**
     * @param differing      pages differing at the stop point
     * @param deviceFailures the names of the driver's checks the destination's device failed
     * @param loadRefusal    what loading the section threw, or null
     * @param resumed        the moved guest's result
     */
    record Moved(List<Long> differing, List<String> deviceFailures, Exception loadRefusal, Object resumed,
            long stoppedAt) {}

    /** The edu model as a {@link DeviceState} (vfio and the models sit below vmm, which declares the interface). */
    static DeviceState asDeviceState(EduDevice edu) {
        return new DeviceState() {
            @Override
            public void saveState(DataOutput out) throws IOException {
                edu.saveState(out);
            }

            @Override
            public void loadState(DataInput in) throws IOException {
                edu.loadState(in);
            }
        };
    }

    private static Moved migrate(boolean sendSection) throws Exception {
        try (DirtyingGuest src = new DirtyingGuest(PrecopyMigrationTest.IMAGE, PrecopyMigrationTest.RAM, 0,
                PrecopyMigrationTest.ENDLESS);
                ModelIommu iommu = ModelIommu.open();
                EduModelDevice edu = EduModelDevice.create(iommu, true, EduDevice.Timing.STEPPED);
                PrecopyMigrationTest.InProcess destination = new PrecopyMigrationTest.InProcess();
                ModelIommu dstIommu = ModelIommu.open();
                EduModelDevice dstEdu = EduModelDevice.create(dstIommu, true, EduDevice.Timing.STEPPED)) {
            List<MemoryRegion> ram = src.guest().memory().regions();
            iommu.map(WINDOW, src.guest().memory().slice(WINDOW, WINDOW_SIZE), Iommu.READ | Iommu.WRITE);
            MemorySegment dstRam = destination.dst.guest().memory().slice(0, PrecopyMigrationTest.RAM);
            dstIommu.map(WINDOW, dstRam.asSlice(WINDOW, WINDOW_SIZE), Iommu.READ | Iommu.WRITE);
            List<DirtySource> sources = List.of(new DirtyLogSource(src.guest().vm(), ram),
                    new IommuDirtySource(iommu, WINDOW, WINDOW_SIZE, WINDOW));

            src.start();
            // the driver's work, while the guest runs
            for (int i = 0; i < 4096; i += 8) {
                src.guest().memory().writeLong(PATTERN + i, 0x5eed_0000_0000_0000L + i);
            }
            edu.write(0, EduDevice.LIVENESS, 4, LIVENESS);
            edu.write(0, EduDevice.STATUS, 4, EduDevice.STATUS_IRQFACT);
            edu.write(0, EduDevice.FACTORIAL, 4, FACTORIAL_N);
            edu.model().step();
            dma(edu, PATTERN, EduDevice.DMA_BUFFER, 0);
            edu.model().step();
            dma(edu, EduDevice.DMA_BUFFER, TARGET, EduDevice.DMA_TO_RAM | EduDevice.DMA_IRQ);   // left in flight
            for (long deadline = System.nanoTime() + 10_000_000_000L; src.progress() == 0; ) {
                assertTrue(System.nanoTime() - deadline < 0, "the guest did not start within 10 s");
                Thread.sleep(1);
            }

            try (OutputStream out = destination.stream()) {
                new PrecopySource(ram, sources, PrecopyMigrationTest.POLICY, r -> System.out.println("[edu-state] " + r))
                        .migrate(out, new PrecopySource.Switchover() {
                            @Override
                            public void pause() throws InterruptedException {
                                src.pause();
                            }

                            @Override
                            public Map<String, byte[]> state() throws ErrnoException {
                                Map<String, byte[]> m = src.machineState();
                                if (sendSection) {
                                    try {
                                        m.put(SECTION, DeviceSection.save(asDeviceState(edu.model())));
                                    } catch (IOException e) {
                                        throw new IllegalStateException(e);
                                    }
                                }
                                return m;
                            }
                        });
            }
            PrecopyMigrationTest.Arrived in = destination.arrived();
            for (DirtySource s : sources) {
                s.close();
            }
            assertEquals(0, src.guest().memory().readLong(TARGET), "the transfer had not run on the source");
            List<Long> differing = new ArrayList<>();
            RamCompare.differingPages(ram, in.ram(), differing::add);

            Exception refusal = null;
            try {
                DeviceSection.load(destination.incoming.get().state(), SECTION, asDeviceState(dstEdu.model()));
            } catch (IOException e) {
                refusal = e;
            }
            dstEdu.model().step();                            // the device runs on: the transfer in flight finishes
            List<String> failures = driverChecks(dstEdu, dstRam);
            return new Moved(differing, failures, refusal, destination.resume(), src.progress());
        }
    }

    /** What the driver reads back on the destination: the names of the checks that fail. */
    private static List<String> driverChecks(EduModelDevice edu, MemorySegment ram) throws ErrnoException {
        List<String> failed = new ArrayList<>();
        if (edu.read(0, EduDevice.LIVENESS, 4) != (~LIVENESS & 0xffff_ffffL)) {
            failed.add("liveness");
        }
        if (edu.read(0, EduDevice.FACTORIAL, 4) != FACTORIAL) {
            failed.add("factorial");
        }
        if (edu.read(0, EduDevice.IRQ_STATUS, 4) != (EduDevice.FACT_IRQ | EduDevice.DMA_IRQ_BIT)) {
            failed.add("interrupt status");
        }
        for (int i = 0; i < 4096; i += 8) {
            if (ram.get(ValueLayout.JAVA_LONG_UNALIGNED, TARGET + i) != 0x5eed_0000_0000_0000L + i) {
                failed.add("in-flight DMA");
                break;
            }
        }
        return failed;
    }

    private static void dma(EduModelDevice edu, long from, long to, long cmd) throws ErrnoException {
        edu.write(0, EduDevice.DMA_SRC, 8, from);
        edu.write(0, EduDevice.DMA_DST, 8, to);
        edu.write(0, EduDevice.DMA_COUNT, 8, 4096);
        edu.write(0, EduDevice.DMA_CMD, 8, cmd | EduDevice.DMA_RUN);
    }
}
