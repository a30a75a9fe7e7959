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
        int n = x.length;
        if (n == 0) return Interval.EMPTY;
        double s0 = 0;
        for (int i = 0; i < n; i++) s0 += x[i];
        // the draws and the sums of statistic(n, mean), in the same order, without its index array and lambda call
        // (1.7x on the v2 roles' bootstraps; BootstrapLoopsTest compares the bits)
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] draws = new double[resamples];
        int kept = 0;
        for (int b = 0; b < resamples; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += x[rnd.nextInt(n)];
            double v = s / n;
            if (!Double.isNaN(v)) draws[kept++] = v;
        }
        return interval(s0 / n, draws, kept);
    }

    /**
     * Interval of {@code mean(num) / mean(den)}, resampling the units jointly (a normalized effect: patched
     * minus corrupt over clean minus corrupt, per prompt). Resamples whose denominator mean is 0 give NaN
     * and are dropped; if more than half are dropped the interval is undefined.
     */
    public Interval ratioOfMeans(double[] num, double[] den) {
        if (num.length != den.length) throw new IllegalArgumentException("num and den differ in length");
        int n = num.length;
        if (n == 0) return Interval.EMPTY;
        double a0 = 0, b0 = 0;
        for (int i = 0; i < n; i++) {
            a0 += num[i];
            b0 += den[i];
        }
        // statistic(n, ratio of the sums), its loop written out as in mean
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] draws = new double[resamples];
        int kept = 0;
        for (int b = 0; b < resamples; b++) {
            double a = 0, d = 0;
            for (int i = 0; i < n; i++) {
                int j = rnd.nextInt(n);
                a += num[j];
                d += den[j];
            }
            double v = d == 0 ? Double.NaN : a / d;
            if (!Double.isNaN(v)) draws[kept++] = v;
        }
        return interval(b0 == 0 ? Double.NaN : a0 / b0, draws, kept);
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
        return interval(estimate, draws, kept);
    }

    /** The percentile interval of the first {@code kept} resampled values (undefined when more than half were NaN). */
    private Interval interval(double estimate, double[] draws, int kept) {
        if (Double.isNaN(estimate) || kept * 2 < resamples) return new Interval(estimate, Double.NaN, Double.NaN);
        double alpha = (1 - level) / 2;
        // two quantiles need four order statistics, not a sort (a sort of the draws was a third of the v2 verdicts'
        // statistics); BootstrapLoopsTest compares with quantile(sorted, q)
        long[] keys = new long[kept];
        for (int i = 0; i < kept; i++) keys[i] = orderKey(draws[i]);
        return new Interval(estimate, quantile(keys, alpha), quantile(keys, 1 - alpha));
    }

    /**
     * {@link #quantile(double[], double)} of the values whose {@link #orderKey}s are {@code keys} (any order; reordered
     * here): the same order statistics, so the same bits.
     */
    static double quantile(long[] keys, double q) {
        double h = (keys.length - 1) * q;
        int lo = (int) Math.floor(h);
        int hi = Math.min(lo + 1, keys.length - 1);
        double a = value(select(keys, lo)), b = hi == lo ? a : value(minimum(keys, lo + 1));
        return a + (h - lo) * (b - a);
    }

    /**
     * A long whose signed order is {@link Arrays#sort(double[])}'s order of doubles (-0.0 before 0.0), and back
     * ({@link #value}): the transform is its own inverse.
     */
    static long orderKey(double v) {
        long bits = Double.doubleToRawLongBits(v);
        return bits ^ ((bits >> 63) & Long.MAX_VALUE);
    }

    private static double value(long key) {
        return Double.longBitsToDouble(key ^ ((key >> 63) & Long.MAX_VALUE));
    }

    /** The k-th smallest key (0-based); leaves every key before k <= it and every key after k >= it. */
    private static long select(long[] a, int k) {
        int left = 0, right = a.length - 1;
        while (right > left) {
            long pivot = medianOfThree(a[left], a[(left + right) >>> 1], a[right]);
            int i = left, j = right;
            while (i <= j) { // Hoare's partition: both scans stop on keys equal to the pivot, so ties split evenly
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) {
                    long t = a[i];
                    a[i++] = a[j];
                    a[j--] = t;
                }
            }
            if (k <= j) right = j;
            else if (k >= i) left = i;
            else break; // j < k < i: a[k] equals the pivot, in place
        }
        return a[k];
    }

    private static long medianOfThree(long x, long y, long z) {
        return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    }

    private static long minimum(long[] a, int from) {
        long m = a[from];
        for (int i = from + 1; i < a.length; i++) m = Math.min(m, a[i]);
        return m;
    }

    /** Linear interpolation between order statistics (numpy's default, "type 7"). */
    static double quantile(double[] sorted, double q) {
        double h = (sorted.length - 1) * q;
        int lo = (int) Math.floor(h);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
