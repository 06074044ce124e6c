package dev.panavirt.bench.report;

import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.util.ListStatistics;

/** Everything measured for one benchmark, over all its forks: iteration scores and allocation. */
public final class Sample {
    /** Confidence level of the error bars, as JMH prints them. */
    public static final double CONFIDENCE = 0.999;

    private final Bench bench;
    private final List<Double> scores = new ArrayList<>();
    private final List<Double> alloc = new ArrayList<>();
    private final List<Double> forkMeans = new ArrayList<>();
    private String unit = "";
    private final List<String> failures = new ArrayList<>();

    public Sample(Bench bench) {
        this.bench = bench;
    }

    public Bench bench() {
        return bench;
    }

    /** Adds one fork's iterations. */
    public void addFork(List<Double> iterationScores, List<Double> iterationAlloc, String scoreUnit) {
        scores.addAll(iterationScores);
        alloc.addAll(iterationAlloc);
        forkMeans.add(iterationScores.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN));
        unit = scoreUnit;
    }

    /** Records a fork that failed. */
    public void addFailure(String why) {
        failures.add(why);
    }

    public boolean hasData() {
        return !scores.isEmpty();
    }

    public List<String> failures() {
        return failures;
    }

    public String unit() {
        return unit;
    }

    public int n() {
        return scores.size();
    }

    public List<Double> scores() {
        return scores;
    }

    public List<Double> forkMeans() {
        return forkMeans;
    }

    public List<Double> allocations() {
        return alloc;
    }

    private ListStatistics stats() {
        ListStatistics s = new ListStatistics();
        scores.forEach(s::addValue);
        return s;
    }

    /** Mean over every measured iteration of every fork. */
    public double mean() {
        return stats().getMean();
    }

    /** Half-width of the {@link #CONFIDENCE} interval of the mean (Student's t), as JMH computes it; NaN for n < 2. */
    public double error() {
        return n() < 2 ? Double.NaN : stats().getMeanErrorAt(CONFIDENCE);
    }

    /** Mean bytes allocated per operation (JMH's gc.alloc.rate.norm); NaN when not profiled. */
    public double allocPerOp() {
        return alloc.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }
}
