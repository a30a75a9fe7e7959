package org.milab.stats;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.IntStream;

/** How well one scoring ranks items like another: Spearman's rho and top-k recall. */
public final class RankAgreement {
    private RankAgreement() {}

    /** Spearman's rank correlation: Pearson's r of the ranks, ties given their average rank; NaN if either is constant. */
    public static double spearman(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
        return pearson(ranks(a), ranks(b));
    }

    /**
     * The fraction of the {@code k} items largest in |truth| that are also among the {@code k} largest in
     * |estimate| (ties broken by index, so the answer never depends on sort stability).
     */
    public static double topKRecall(double[] estimate, double[] truth, int k) {
        if (estimate.length != truth.length) throw new IllegalArgumentException("lengths differ");
        int kk = Math.min(k, truth.length);
        if (kk == 0) return Double.NaN;
        Set<Integer> est = new HashSet<>(Arrays.asList(top(estimate, kk))), tru = Set.of(top(truth, kk));
        return tru.stream().filter(est::contains).count() / (double) kk;
    }

    /** Indices of the {@code k} largest |x|, largest first. */
    public static Integer[] top(double[] x, int k) {
        return IntStream.range(0, x.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -Math.abs(x[i])).thenComparingInt(i -> i))
                .limit(k).toArray(Integer[]::new);
    }

    /** 1-based ranks, ties averaged (ties found on exact equality). */
    public static double[] ranks(double[] x) {
        Integer[] order = IntStream.range(0, x.length).boxed().sorted(Comparator.comparingDouble(i -> x[i])).toArray(Integer[]::new);
        double[] r = new double[x.length];
        for (int i = 0; i < order.length; ) {
            int j = i;
            while (j + 1 < order.length && x[order[j + 1]] == x[order[i]]) j++;
            double avg = (i + j) / 2.0 + 1;
            for (int m = i; m <= j; m++) r[order[m]] = avg;
            i = j + 1;
        }
        return r;
    }

    private static double pearson(double[] a, double[] b) {
        int n = a.length;
        double ma = 0, mb = 0;
        for (int i = 0; i < n; i++) {
            ma += a[i];
            mb += b[i];
        }
        ma /= n;
        mb /= n;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return saa == 0 || sbb == 0 ? Double.NaN : sab / Math.sqrt(saa * sbb);
    }
}
