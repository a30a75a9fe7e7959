package org.milab.stats;

import org.apache.commons.math3.distribution.TDistribution;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Tests and multiple-testing corrections for per-prompt effects. p-values come from the Student t
 * distribution, not from bootstrap counts, so they can be small enough to survive a correction over every
 * head of GPT-2 small (0.05 / 144 is below what 1000 resamples can resolve).
 */
public final class Hypothesis {
    private Hypothesis() {}

    /**
     * One-sided one-sample t-test of "mean(x) > mu". With zero spread the answer is exact: 0 when every
     * value exceeds mu, else 1. Fewer than two values cannot support the claim: 1.
     */
    public static double tGreater(double[] x, double mu) {
        int n = x.length;
        if (n < 2) return 1;
        double mean = 0;
        for (double v : x) mean += v;
        mean /= n;
        double ss = 0;
        for (double v : x) ss += (v - mean) * (v - mean);
        double sd = Math.sqrt(ss / (n - 1));
        if (sd == 0) return mean > mu ? 0 : 1;
        double t = (mean - mu) / (sd / Math.sqrt(n));
        return new TDistribution(null, n - 1).cumulativeProbability(-t);
    }

    /** Holm's step-down adjusted p-values (family-wise error), in the input order. */
    public static double[] holm(double[] p) {
        int m = p.length;
        Integer[] order = sortedOrder(p);
        double[] adj = new double[m];
        double running = 0;
        for (int i = 0; i < m; i++) {
            running = Math.max(running, Math.min(1, (m - i) * p[order[i]]));
            adj[order[i]] = running;
        }
        return adj;
    }

    /** Benjamini-Hochberg adjusted p-values (false-discovery rate), in the input order. */
    public static double[] benjaminiHochberg(double[] p) {
        int m = p.length;
        Integer[] order = sortedOrder(p);
        double[] adj = new double[m];
        double running = 1;
        for (int i = m - 1; i >= 0; i--) {
            running = Math.min(running, Math.min(1, p[order[i]] * m / (i + 1)));
            adj[order[i]] = running;
        }
        return adj;
    }

    private static Integer[] sortedOrder(double[] p) {
        for (double v : p)
            if (!(v >= 0 && v <= 1)) throw new IllegalArgumentException("p-values must lie in [0, 1]: " + Arrays.toString(p));
        return IntStream.range(0, p.length).boxed().sorted(Comparator.comparingDouble(i -> p[i])).toArray(Integer[]::new);
    }
}
