package org.milab.stats;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

/**
 * Seeded percentile bootstrap over prompts (or any exchangeable units). Resampling is single-threaded and
 * driven by one {@link SplittableRandom} stream, so an interval depends only on the data, the seed, the
 * number of resamples and the level: never on thread count or batch composition.
 *
 * @param resamples number of bootstrap resamples (the protocols use >= 1000)
 * @param seed      seed of the resampling stream
 * @param level     coverage of the interval, e.g. 0.95
 */
public record Bootstrap(int resamples, long seed, double level) {
    public static final int DEFAULT_RESAMPLES = 2000;
    public static final double DEFAULT_LEVEL = 0.95;

    public Bootstrap {
        if (resamples < 1) throw new IllegalArgumentException("resamples must be >= 1, got " + resamples);
        if (!(level > 0 && level < 1)) throw new IllegalArgumentException("level must be in (0, 1), got " + level);
    }

    /** A point estimate with its interval; NaN everywhere when there were no data. */
    public record Interval(double estimate, double low, double high) {
        public static final Interval EMPTY = new Interval(Double.NaN, Double.NaN, Double.NaN);

        public boolean defined() {
            return !Double.isNaN(estimate);
        }

        /** True when the whole interval lies strictly above {@code x}. */
        public boolean above(double x) {
            return defined() && low > x;
        }

        /** True when the whole interval lies strictly below {@code x}. */
        public boolean below(double x) {
            return defined() && high < x;
        }

        public boolean contains(double x) {
            return defined() && low <= x && x <= high;
        }
    }

    /** Interval of the mean of {@code x}. */
    public Interval mean(double[] x) {
        return statistic(x.length, idx -> {
            double s = 0;
            for (int i : idx) s += x[i];
            return s / idx.length;
        });
    }

    /**
     * Interval of {@code mean(num) / mean(den)}, resampling the units jointly (a normalized effect: patched
     * minus corrupt over clean minus corrupt, per prompt). Resamples whose denominator mean is 0 give NaN
     * and are dropped; if more than half are dropped the interval is undefined.
     */
    public Interval ratioOfMeans(double[] num, double[] den) {
        if (num.length != den.length) throw new IllegalArgumentException("num and den differ in length");
        return statistic(num.length, idx -> {
            double a = 0, b = 0;
            for (int i : idx) {
                a += num[i];
                b += den[i];
            }
            return b == 0 ? Double.NaN : a / b;
        });
    }

    /**
     * Interval of any statistic of {@code n} units: {@code stat} receives the indices of a sample (the
     * identity sample for the estimate, then each resample with replacement).
     */
    public Interval statistic(int n, ToDoubleFunction<int[]> stat) {
        if (n == 0) return Interval.EMPTY;
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        double estimate = stat.applyAsDouble(all);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] draws = new double[resamples];
        int kept = 0;
        int[] idx = new int[n];
        for (int b = 0; b < resamples; b++) {
            for (int i = 0; i < n; i++) idx[i] = rnd.nextInt(n);
            double v = stat.applyAsDouble(idx);
            if (!Double.isNaN(v)) draws[kept++] = v;
        }
        if (Double.isNaN(estimate) || kept * 2 < resamples) return new Interval(estimate, Double.NaN, Double.NaN);
        double[] sorted = Arrays.copyOf(draws, kept);
        Arrays.sort(sorted);
        double alpha = (1 - level) / 2;
        return new Interval(estimate, quantile(sorted, alpha), quantile(sorted, 1 - alpha));
    }

    /** Linear interpolation between order statistics (numpy's default, "type 7"). */
    static double quantile(double[] sorted, double q) {
        double h = (sorted.length - 1) * q;
        int lo = (int) Math.floor(h);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
