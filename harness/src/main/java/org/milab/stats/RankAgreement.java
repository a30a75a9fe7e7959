package org.milab.stats;

import org.apache.commons.math3.stat.correlation.PearsonsCorrelation;
import org.apache.commons.math3.stat.ranking.NaNStrategy;
import org.apache.commons.math3.stat.ranking.NaturalRanking;
import org.apache.commons.math3.stat.ranking.TiesStrategy;

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

    /** 1-based ranks, ties averaged (ties found on exact equality); a NaN is an error, not a rank. */
    public static double[] ranks(double[] x) {
        return RANKING.rank(x);
    }

    private static final NaturalRanking RANKING = new NaturalRanking(NaNStrategy.FAILED, TiesStrategy.AVERAGE);

    /** Pearson's r; NaN when either side is constant (there is no order to agree with). */
    private static double pearson(double[] a, double[] b) {
        if (Arrays.stream(a).distinct().count() < 2 || Arrays.stream(b).distinct().count() < 2) return Double.NaN;
        return new PearsonsCorrelation().correlation(a, b);
    }
}
