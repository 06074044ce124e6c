package dev.panavirt.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.bench.Via;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The report from synthetic samples, the command line, and the benchmark discovery; no KVM, no JMH run. */
class ReportTest {
    private static final String OP = "dev.panavirt.bench.ioctl.CheckExtension";

    private static Sample sample(String cls, String method, double mean, double alloc) {
        return sample(cls, method, Map.of(), mean, alloc);
    }

    private static Sample sample(String cls, String method, Map<String, String> params, double mean, double alloc) {
        Sample s = new Sample(Bench.of(cls, method, params));
        s.addFork(List.of(mean * 0.999, mean, mean * 1.001), List.of(alloc, alloc, alloc), "ns/op");
        return s;
    }

    private static Report report(Map<String, Sample> samples) {
        Environment env = new Environment("Test CPU", 2, true, "6.1", "JDK 25", new Properties(), "0 0 0");
        Instant t = Instant.parse("2025-01-01T00:00:00Z");
        return new Report(Settings.quick(), env, samples, t, t.plusSeconds(90), "1 1 1");
    }

    @Test
    void tableHasEveryPathWithItsRatioToC() {
        Map<String, Sample> m = new LinkedHashMap<>();
        for (Sample s : List.of(sample(OP, "c", 400, 0.05), sample(OP, "panavirt", 420, 0.05),
                sample(OP, "ffmErrno", 410, 0.05), sample(OP, "ffm", 405, 0.05), sample(OP, "jna", 800, 0.1),
                sample(OP, "jnr", 700, 0.1))) {
            m.put(s.bench().name(), s);
        }
        Report r = report(m);
        String md = r.markdown("chart.png");
        assertTrue(md.contains(
                "| Operation | C (gcc -O2) | panavirt | FFM + errno | FFM raw | JNA direct | jnr-ffi |"), md);
        assertTrue(md.contains("| KVM_CHECK_EXTENSION | 400 ± "), md);
        assertTrue(md.contains("420 ± ") && md.contains("(1.05×)"), md);
        assertTrue(md.contains("(2.00×)"), "JNA at twice C: " + md);
        assertTrue(md.contains("![Per-call cost relative to C](chart.png)"), md);
        assertTrue(md.contains("| panavirt ≤ 1.10× C on KVM_CHECK_EXTENSION | 1.05× (1.05–1.05) | yes |"), md);
        assertTrue(md.contains("| panavirt 0 B/op: KVM_CHECK_EXTENSION | ≈ 0 (0.05) | yes |"), md);
        assertTrue(md.contains("panavirt ≥ 3× faster than JNA per call: KVM_CHECK_EXTENSION | 1.90×"), md);
        assertTrue(md.contains("JNA +400 ns vs panavirt +20.0 ns = 20.00×"), md);
        assertEquals(2.0, r.ratio("KVM_CHECK_EXTENSION", Via.JNA).orElseThrow().value(), 1e-9);
        assertTrue(md.contains("## JMH's view: mean ns/op ± 99.9% error"), md);
        assertTrue(r.json().contains("\"path\": \"jna\""));
    }

    @Test
    void resultsJsonDrawsTheSameReportAgain(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Map<String, Sample> m = new LinkedHashMap<>();
        for (Sample s : List.of(sample(OP, "c", 400, 0.05), sample(OP, "panavirt", 420, 32),
                sample(OP, "jna", 800, 0.1))) {
            m.put(s.bench().name(), s);
        }
        Report r = report(m);
        Path json = dir.resolve("results-quick.json");
        java.nio.file.Files.writeString(json, r.json());
        Report again = ReportData.read(json, dir);
        assertEquals(r.markdown(null), again.markdown(null));
    }

    @Test
    void eachParamValueIsAnOperationOfItsOwn(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        String run = "dev.panavirt.bench.ioctl.KvmRun";
        Bench pio = Bench.of(run, "c", Map.of("exit", "pio"));
        assertEquals(run + ".c:exit=pio", pio.name());
        assertEquals("KvmRun.c:exit=pio", pio.shortName());
        assertEquals(run + ".c", pio.benchmark());
        assertEquals("KVM_RUN (PIO exit)", pio.operation());
        assertEquals(40, pio.order());
        assertEquals(1.05, pio.maxRatioToC());
        Bench mmio = Bench.of(run, "c", Map.of("exit", "mmio"));
        assertEquals("KVM_RUN (MMIO exit)", mmio.operation());
        assertEquals(50, mmio.order());
        assertEquals("KvmRun (exit=hlt)", Bench.of(run, "c", Map.of("exit", "hlt")).operation(),
                "a value without an @Operation of its own");
        Map<String, Sample> m = new LinkedHashMap<>();
        for (Sample s : List.of(sample(run, "c", Map.of("exit", "mmio"), 900, 2), sample(run, "panavirt",
                Map.of("exit", "mmio"), 990, 2), sample(run, "c", Map.of("exit", "pio"), 800, 2),
                sample(run, "panavirt", Map.of("exit", "pio"), 820, 2))) {
            m.put(s.bench().name(), s);
        }
        Report r = report(m);
        String md = r.markdown(null);
        assertTrue(md.indexOf("| KVM_RUN (PIO exit) | 800 ± ") < md.indexOf("| KVM_RUN (MMIO exit) | 900 ± "), md);
        assertTrue(md.contains("| panavirt ≤ 1.05× C on KVM_RUN (PIO exit) | 1.03× (1.02–1.03) | yes |"), md);
        assertTrue(md.contains("| panavirt ≤ 1.05× C on KVM_RUN (MMIO exit) | 1.10× (1.10–1.10) | **no** |"), md);
        assertTrue(r.json().contains("\"params\": {\"exit\": \"pio\"}"), r.json());
        Path json = dir.resolve("results-quick.json");
        java.nio.file.Files.writeString(json, r.json());
        assertEquals(md, ReportData.read(json, dir).markdown(null));
    }

    @Test
    void modelRowsShowTheirRatioToTheBaselineOfTheSameRun(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        String vfio = "dev.panavirt.bench.model.VfioType1";
        Bench all = Bench.of(vfio, "getBitmapAllDirty", Map.of());
        assertTrue(all.model());
        assertEquals("copyBitmap", all.ratioTo());
        assertEquals(2.0, all.ratioAtMost());
        assertEquals(vfio + ".copyBitmap", all.ratioToName().orElseThrow());
        assertTrue(Bench.of(vfio, "mapUnmap2m", Map.of()).ratioToName().isEmpty());
        Map<String, Sample> m = new LinkedHashMap<>();
        for (Sample s : List.of(sample(vfio, "copyBitmap", 100_000, 0.1), sample(vfio, "getBitmapAllDirty", 150_000, 0.1),
                sample(vfio, "getBitmapFewDirty", 300_000, 0.1), sample(vfio, "mapUnmap2m", 500, 80))) {
            m.put(s.bench().name(), s);
        }
        Report r = report(m);
        String md = r.markdown(null);
        assertTrue(md.contains("| VFIO type1 model | getBitmapAllDirty | 150,000 ± "), md);
        assertTrue(md.contains("| 1.50× (1.50–1.50) of copyBitmap | ≤ 2.00× copyBitmap: yes |"), md);
        assertTrue(md.contains("| 3.00× (") && md.contains("of copyBitmap | ≤ 2.00× copyBitmap: **no** |"), md);
        assertTrue(md.contains("| VFIO type1 model | mapUnmap2m | 500 ± ") && md.contains("| 80 |  |  |"), md);
        assertTrue(md.contains("**VFIO type1 model**: ModelIommu"), md);
        Path json = dir.resolve("results-quick.json");
        java.nio.file.Files.writeString(json, r.json());
        assertEquals(md, ReportData.read(json, dir).markdown(null));
    }

    @Test
    void throughputRatiosAreInvertedSoAboveOneIsSlower() {
        String its = "dev.panavirt.bench.model.ItsThroughput";
        Sample fast = new Sample(Bench.of(its, "mapIntDiscard", Map.of()));
        fast.addFork(List.of(2e6, 2e6, 2e6), List.of(0.0), "ops/s");
        Sample base = new Sample(new Bench(its + ".base", its, "base", new java.util.TreeMap<>(), "ITS", 10, "", 0,
                true, "", 0));
        base.addFork(List.of(1e6, 1e6, 1e6), List.of(0.0), "ops/s");
        Sample withBase = new Sample(new Bench(its + ".x", its, "x", new java.util.TreeMap<>(), "ITS", 10, "", 0,
                true, "base", 0));
        withBase.addFork(List.of(5e5, 5e5, 5e5), List.of(0.0), "ops/s");
        Map<String, Sample> m = new LinkedHashMap<>();
        for (Sample s : List.of(fast, base, withBase)) {
            m.put(s.bench().name(), s);
        }
        assertEquals(2.0, report(m).modelRatio(withBase).orElseThrow().value(), 1e-9);
    }

    @Test
    void medianIntervalUsesOrderStatistics() {
        List<Double> thirty = new java.util.ArrayList<>();
        for (int i = 1; i <= 30; i++) {
            thirty.add((double) i);
        }
        java.util.Collections.shuffle(thirty, new java.util.Random(1));
        Robust.Estimate m = Robust.median(thirty);
        assertEquals(15.5, m.value());
        assertEquals(10.0, m.low(), "x(10)");
        assertEquals(21.0, m.high(), "x(21)");
        Robust.Estimate few = Robust.median(List.of(3.0, 1.0, 2.0));
        assertEquals(2.0, few.value());
        assertEquals(1.0, few.low());
        assertEquals(3.0, few.high());
        Robust.Estimate outlier = Robust.median(List.of(100.0, 101.0, 99.0, 100.5, 5000.0, 100.2));
        assertTrue(outlier.value() < 101, "one burst does not move the median");
    }

    @Test
    void ratioOfMediansIsReproducibleAndCoversThePoint() {
        List<Double> a = List.of(210.0, 205.0, 220.0, 900.0, 207.0, 212.0);
        List<Double> b = List.of(100.0, 102.0, 98.0, 101.0, 400.0, 99.0);
        Robust.Estimate r1 = Robust.ratioOfMedians(a, b, 7);
        Robust.Estimate r2 = Robust.ratioOfMedians(a, b, 7);
        assertEquals(r1, r2);
        assertTrue(r1.low() <= r1.value() && r1.value() <= r1.high(), r1.toString());
        assertTrue(r1.value() > 2.0 && r1.value() < 2.2, r1.toString());
    }

    @Test
    void allocationVerdictAllowsForTheCFloor() {
        assertTrue(Report.allocatesNothing(0.4, 0.05));
        assertTrue(Report.allocatesNothing(3.2, 3.0), "slow operation: the C loop reads 3 B/op too");
        assertFalse(Report.allocatesNothing(42, 0.05));
        assertFalse(Report.allocatesNothing(5, 3.0));
    }

    @Test
    void missingPathsAndFailuresAreShown() {
        Map<String, Sample> m = new LinkedHashMap<>();
        Sample c = sample(OP, "c", 400, 0.05);
        Sample pv = new Sample(Bench.of(OP, "panavirt", Map.of()));
        pv.addFailure("round 1: boom");
        m.put(c.bench().name(), c);
        m.put(pv.bench().name(), pv);
        String md = report(m).markdown(null);
        assertTrue(md.contains("| KVM_CHECK_EXTENSION | 400 ± ") && md.contains("| failed |"), md);
        assertTrue(md.contains("`CheckExtension.panavirt`: round 1: boom"), md);
    }

    @Test
    void commandLine() {
        Settings q = Settings.parse();
        assertEquals("quick", q.mode());
        Settings f = Settings.parse("--out", "/tmp/x", "--full");
        assertEquals("full", f.mode());
        assertEquals(10, f.forks());
        assertEquals(Path.of("/tmp/x"), f.out());
        Settings c = Settings.parse("--full", "--forks", "2", "--include", "Run");
        assertEquals("custom", c.mode());
        assertEquals(2, c.forks());
        assertEquals(3, c.iterations());
        assertEquals(List.of("Run"), c.include());
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("--forks", "0"));
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("--bogus"));
        assertTrue(f.describe().startsWith("10 forks × 3 iterations × 1 s"), f.describe());
    }

    @Test
    void everyOperationHasEveryPath() throws Exception {
        List<Bench> all = dev.panavirt.bench.BenchMainAccess.discover(List.of());
        Map<String, List<String>> byOp = all.stream().filter(b -> !b.model()).collect(Collectors.groupingBy(
                Bench::operation, LinkedHashMap::new, Collectors.mapping(Bench::method, Collectors.toList())));
        assertEquals(List.of("KVM_CHECK_EXTENSION", "KVM_GET_REGS", "KVM_SET_REGS", "KVM_RUN (PIO exit)",
                "KVM_RUN (MMIO exit)", "KVM_GET_DIRTY_LOG (1 GiB)", "irqfd signal", "eventfd write", "open + close"),
                List.copyOf(byOp.keySet()));
        // Every operation has the six paths every API can express; the critical downcall only where it is safe
        // (an ioctl that never sleeps) and jnr-posix only where its API reaches (no pointer arguments, no mmap).
        List<Via> optional = List.of(Via.FFM_CRITICAL, Via.JNR_POSIX);
        Map<String, List<Via>> extra = Map.of("KVM_CHECK_EXTENSION", List.of(Via.FFM_CRITICAL, Via.JNR_POSIX),
                "irqfd signal", List.of(Via.JNR_POSIX), "eventfd write", List.of(Via.JNR_POSIX),
                "open + close", List.of(Via.JNR_POSIX));
        byOp.forEach((op, methods) -> assertEquals(java.util.Arrays.stream(Via.values())
                .filter(v -> !optional.contains(v) || extra.getOrDefault(op, List.of()).contains(v))
                .map(Via::method).toList(), methods, op));
    }
}
