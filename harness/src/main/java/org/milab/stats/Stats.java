package org.milab.stats;

import java.util.Arrays;
import java.util.Collection;
import java.util.Objects;

/** pandas-like reductions: nulls are skipped; an empty input gives NaN. */
public final class Stats {
    private Stats() {}

    public static double mean(Collection<? extends Number> xs) {
        double s = 0;
        int n = 0;
        for (Number x : xs) {
            if (x == null || Double.isNaN(x.doubleValue())) continue;
            s += x.doubleValue();
            n++;
        }
        return n == 0 ? Double.NaN : s / n;
    }

    public static double median(Collection<? extends Number> xs) {
        double[] v = xs.stream().filter(Objects::nonNull).mapToDouble(Number::doubleValue)
                .filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (v.length == 0) return Double.NaN;
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }

    /** Max ignoring NaN; NaN when nothing is left (the reference ignores NaN families). */
    public static double maxIgnoringNaN(double... xs) {
        return Arrays.stream(xs).filter(d -> !Double.isNaN(d)).max().orElse(Double.NaN);
    }

    /** Null for NaN, so tables store "missing" as null the way the reference's CSVs leave cells empty. */
    public static Double orNull(double v) {
        return Double.isNaN(v) ? null : v;
    }

    /** How often each value occurs, in key order (for status-count summaries). */
    public static java.util.Map<String, Long> counts(java.util.List<String> values) {
        return new java.util.TreeMap<>(values.stream().collect(
                java.util.stream.Collectors.groupingBy(java.util.function.Function.identity(), java.util.stream.Collectors.counting())));
    }
}
