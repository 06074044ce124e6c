package dev.panavirt.bench.report;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Statistics that a burst of load from another tenant cannot drag around: the median of the iterations,
 * its distribution-free confidence interval, and a bootstrap interval for the ratio of two medians.
 *
 * <p>Interference on a shared machine only ever adds time, and it comes in bursts that hit whole
 * iterations or forks; the mean follows the bursts, the median follows the typical iteration.
 */
public final class Robust {
    private Robust() {}

    /** Confidence level of the median intervals and ratio intervals. */
    public static final double LEVEL = 0.95;
    /** Bootstrap resamples per ratio. */
    static final int RESAMPLES = 4000;

    /** An estimate with a confidence interval. */
    public record Estimate(double value, double low, double high) {
        /** The larger distance from the estimate to an end of the interval. */
        public double halfWidth() {
            return Math.max(value - low, high - value);
        }
    }

    /** The median of {@code xs}. */
    public static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /**
     * The median with its order-statistic confidence interval: [x(k), x(n+1-k)] for the largest k whose
     * coverage is at least {@link #LEVEL} (for n = 30: x(10)..x(21)); [min, max] when n is too small.
     */
    public static Estimate median(List<Double> values) {
        double[] s = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = s.length;
        if (n == 0) {
            return new Estimate(Double.NaN, Double.NaN, Double.NaN);
        }
        int k = 1;
        while (k + 1 <= n / 2 && 1 - 2 * binomialCdf(n, k + 1) >= LEVEL) {
            k++;
        }
        return new Estimate(median(s), s[k - 1], s[n - k]);
    }

    /** P(X &lt;= k - 1) for X ~ Binomial(n, 1/2). */
    static double binomialCdf(int n, int k) {
        double p = 0;
        double c = 1; // C(n, 0)
        for (int i = 0; i < k; i++) {
            p += c;
            c = c * (n - i) / (i + 1);
        }
        return p / Math.pow(2, n);
    }

    /**
     * The ratio of the medians of {@code a} and {@code b}, with a percentile-bootstrap {@link #LEVEL}
     * interval (each side resampled independently; seeded, so a report is reproducible from its data).
     */
    public static Estimate ratioOfMedians(List<Double> a, List<Double> b, long seed) {
        double[] xa = a.stream().mapToDouble(Double::doubleValue).toArray();
        double[] xb = b.stream().mapToDouble(Double::doubleValue).toArray();
        if (xa.length == 0 || xb.length == 0) {
            return new Estimate(Double.NaN, Double.NaN, Double.NaN);
        }
        double point = median(xa) / median(xb);
        Random rnd = new Random(seed);
        double[] ra = new double[xa.length];
        double[] rb = new double[xb.length];
        double[] ratios = new double[RESAMPLES];
        for (int r = 0; r < RESAMPLES; r++) {
            for (int i = 0; i < ra.length; i++) {
                ra[i] = xa[rnd.nextInt(xa.length)];
            }
            for (int i = 0; i < rb.length; i++) {
                rb[i] = xb[rnd.nextInt(xb.length)];
            }
            ratios[r] = median(ra) / median(rb);
        }
        Arrays.sort(ratios);
        double tail = (1 - LEVEL) / 2;
        int lo = (int) Math.floor(tail * RESAMPLES);
        int hi = (int) Math.ceil((1 - tail) * RESAMPLES) - 1;
        return new Estimate(point, Math.min(point, ratios[lo]), Math.max(point, ratios[hi]));
    }
}
