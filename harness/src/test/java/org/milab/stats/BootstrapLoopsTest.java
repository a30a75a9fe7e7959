package org.milab.stats;

import org.junit.jupiter.api.Test;
import org.milab.stats.Bootstrap.Interval;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Bootstrap#mean} and {@link Bootstrap#ratioOfMeans} run their own loops (no index array, no lambda) and every
 * interval reads its quantiles by selection, not a sort, for speed. They must give the bits of the plain bootstrap
 * written here (the way the class computed them before: every resample's indices, the statistic of them, a sort,
 * numpy's type-7 quantiles), on ordinary data and on the edge cases: one unit, ties, zero denominators (dropped
 * resamples), undefined intervals, NaN data, signed zeros and infinities.
 */
class BootstrapLoopsTest {
    /** The reference: the bootstrap as the class computed it before (an index array per resample, then a sort). */
    private static Interval reference(Bootstrap b, int n, ToDoubleFunction<int[]> stat) {
        if (n == 0) return Interval.EMPTY;
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        double estimate = stat.applyAsDouble(all);
        SplittableRandom rnd = new SplittableRandom(b.seed());
        double[] draws = new double[b.resamples()];
        int kept = 0;
        int[] idx = new int[n];
        for (int r = 0; r < b.resamples(); r++) {
            for (int i = 0; i < n; i++) idx[i] = rnd.nextInt(n);
            double v = stat.applyAsDouble(idx);
            if (!Double.isNaN(v)) draws[kept++] = v;
        }
        if (Double.isNaN(estimate) || kept * 2 < b.resamples()) return new Interval(estimate, Double.NaN, Double.NaN);
        double[] sorted = Arrays.copyOf(draws, kept);
        Arrays.sort(sorted);
        double alpha = (1 - b.level()) / 2;
        return new Interval(estimate, Bootstrap.quantile(sorted, alpha), Bootstrap.quantile(sorted, 1 - alpha));
    }

    private static double mean(double[] x, int[] idx) {
        double s = 0;
        for (int i : idx) s += x[i];
        return s / idx.length;
    }

    private static double ratio(double[] num, double[] den, int[] idx) {
        double a = 0, d = 0;
        for (int i : idx) {
            a += num[i];
            d += den[i];
        }
        return d == 0 ? Double.NaN : a / d;
    }

    @Test
    void loopsAndSelectionGiveThePlainBootstrapsBits() {
        SplittableRandom data = new SplittableRandom(42);
        int cases = 0, undefined = 0;
        for (int n : new int[]{1, 2, 3, 7, 20, 33, 240}) {
            for (int rep = 0; rep < 8; rep++) {
                double[] x = new double[n], g = new double[n];
                for (int i = 0; i < n; i++) {
                    // rep 1: 0/1 data (many tied resample means, as the copy scores); rep 6: signed zeros
                    x[i] = rep == 1 ? data.nextInt(2) : rep == 6 ? (data.nextBoolean() ? 0.0 : -0.0) : data.nextGaussian() * 3 + 0.5;
                    // reps 0 and 3: many zero denominators, so resamples are dropped (or most, when n is small)
                    g[i] = rep % 3 == 0 ? (data.nextInt(3) == 0 ? 1 : 0) : data.nextDouble() + 0.1;
                }
                if (rep == 5 && n > 2) x[n / 2] = Double.NaN;
                if (rep == 7) x[0] = Double.POSITIVE_INFINITY;
                Bootstrap b = new Bootstrap(rep % 2 == 0 ? 1000 : 2000, data.nextLong(), rep % 2 == 0 ? 0.95 : 0.99);
                Interval m = b.mean(x), r = b.ratioOfMeans(x, g);
                assertThat(m).isEqualTo(reference(b, n, idx -> mean(x, idx)));
                assertThat(r).isEqualTo(reference(b, n, idx -> ratio(x, g, idx)));
                assertThat(b.statistic(n, idx -> mean(x, idx))).isEqualTo(m);
                if (!Double.isNaN(r.estimate()) && Double.isNaN(r.low())) undefined++;
                cases++;
            }
        }
        Bootstrap b = new Bootstrap(1000, 3, 0.95);
        double[] zeros = new double[5], five = {1, 2, 3, 4, 5};
        assertThat(b.ratioOfMeans(five, zeros)).isEqualTo(reference(b, 5, idx -> ratio(five, zeros, idx)));
        assertThat(b.ratioOfMeans(five, zeros).defined()).isFalse();
        assertThat(b.mean(new double[0])).isEqualTo(Interval.EMPTY);
        assertThat(b.ratioOfMeans(new double[0], new double[0])).isEqualTo(Interval.EMPTY);
        assertThat(cases).isEqualTo(56);
        assertThat(undefined).as("some cases drop more than half of their resamples").isPositive();
    }

    @Test
    void selectedQuantilesAreTheSortedOnes() {
        SplittableRandom data = new SplittableRandom(5);
        double[] qs = {0, 0.005, 0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975, 0.995, 1};
        for (int n : new int[]{1, 2, 3, 4, 10, 999, 1000, 2000}) {
            for (int rep = 0; rep < 5; rep++) {
                double[] v = new double[n];
                for (int i = 0; i < n; i++)
                    v[i] = switch (rep) {
                        case 0 -> data.nextGaussian();
                        case 1 -> data.nextInt(4) / 4.0 - 0.5;                   // heavy ties
                        case 2 -> data.nextBoolean() ? 0.0 : -0.0;               // only signed zeros
                        case 3 -> data.nextInt(5) == 0 ? Double.NEGATIVE_INFINITY : data.nextInt(5) == 0
                                ? Double.POSITIVE_INFINITY : data.nextGaussian();
                        default -> 7.25;                                          // one value
                    };
                double[] sorted = v.clone();
                Arrays.sort(sorted);
                long[] keys = new long[n];
                for (int i = 0; i < n; i++) keys[i] = Bootstrap.orderKey(v[i]);
                for (double q : qs) {
                    double expected = Bootstrap.quantile(sorted, q), actual = Bootstrap.quantile(keys, q);
                    assertThat(Double.doubleToRawLongBits(actual)).as("n %d rep %d q %s: %s vs %s", n, rep, q, actual, expected)
                            .isEqualTo(Double.doubleToRawLongBits(expected));
                }
            }
        }
    }
}
