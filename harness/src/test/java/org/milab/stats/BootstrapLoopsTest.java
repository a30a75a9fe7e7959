package org.milab.stats;

import org.junit.jupiter.api.Test;
import org.milab.stats.Bootstrap.Interval;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Bootstrap#mean} and {@link Bootstrap#ratioOfMeans} run their own loops (no index array, no lambda) for
 * speed; they must give the bits the general {@link Bootstrap#statistic} gives with the same statistic written as a
 * function of the resampled indices (the way both were computed before), on ordinary data and on the edge cases:
 * one unit, zero denominators (dropped resamples), a zero estimate's denominator, NaN data.
 */
class BootstrapLoopsTest {
    private static Interval meanByIndices(Bootstrap b, double[] x) {
        return b.statistic(x.length, idx -> {
            double s = 0;
            for (int i : idx) s += x[i];
            return s / idx.length;
        });
    }

    private static Interval ratioByIndices(Bootstrap b, double[] num, double[] den) {
        return b.statistic(num.length, idx -> {
            double a = 0, d = 0;
            for (int i : idx) {
                a += num[i];
                d += den[i];
            }
            return d == 0 ? Double.NaN : a / d;
        });
    }

    @Test
    void specialisedLoopsGiveTheGeneralStatisticsBits() {
        SplittableRandom data = new SplittableRandom(42);
        int cases = 0;
        for (int n : new int[]{1, 2, 3, 7, 20, 33, 240}) {
            for (int rep = 0; rep < 6; rep++) {
                double[] x = new double[n], g = new double[n];
                for (int i = 0; i < n; i++) {
                    x[i] = data.nextGaussian() * 3 + 0.5;
                    // a third of the cases have many zero denominators: resamples with sum 0 are dropped
                    g[i] = rep % 3 == 0 ? (data.nextInt(3) == 0 ? 1 : 0) : data.nextDouble() + 0.1;
                }
                if (rep == 5 && n > 2) x[n / 2] = Double.NaN;
                Bootstrap b = new Bootstrap(rep % 2 == 0 ? 1000 : 2000, data.nextLong(), rep % 2 == 0 ? 0.95 : 0.99);
                assertThat(b.mean(x)).isEqualTo(meanByIndices(b, x));
                assertThat(b.ratioOfMeans(x, g)).isEqualTo(ratioByIndices(b, x, g));
                cases++;
            }
        }
        double[] zeros = new double[5];
        Bootstrap b = new Bootstrap(1000, 3, 0.95);
        assertThat(b.ratioOfMeans(new double[]{1, 2, 3, 4, 5}, zeros)).isEqualTo(ratioByIndices(b, new double[]{1, 2, 3, 4, 5}, zeros));
        assertThat(b.ratioOfMeans(new double[]{1, 2, 3, 4, 5}, zeros).defined()).isFalse();
        assertThat(b.mean(new double[0])).isEqualTo(Interval.EMPTY);
        assertThat(b.ratioOfMeans(new double[0], new double[0])).isEqualTo(Interval.EMPTY);
        assertThat(cases).isEqualTo(42);
    }
}
