package org.milab.atp;

import org.milab.stats.Bootstrap;
import org.milab.stats.Decisions;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.function.IntFunction;
import java.util.stream.IntStream;

/**
 * The core of exact circuit faithfulness, shared by the circuit stage and the Java API. A circuit is an edge mask
 * (1 inside, 0 outside, {@link EdgeGraph} order) run through the edge-masked graph: every edge outside the circuit
 * carries the corrupt run's upstream output, every edge inside the clean run's. Faithfulness of circuit C is
 * {@code (m(C) - m(corrupt)) / (m(clean) - m(corrupt))} as a ratio of means over examples, with a bootstrap CI over
 * examples. A sweep measures the top-k circuits of a ranking for every k of a declared size grid, the area measures CPR
 * (under faithfulness over the fraction of edges kept) and CMD (under |1 - faithfulness|), and the smallest size that
 * keeps a threshold, refined between the grid sizes around it. Nothing here knows which component plays which role.
 */
public final class EdgeFaithfulness {
    private EdgeFaithfulness() {}

    /** At most this many sizes are measured between two grid sizes when refining the smallest circuit. */
    public static final int MAX_REFINED = 64;

    /** A task's metric of one example's run from its final logits ({@code clean}: that example's clean run's). */
    @FunctionalInterface
    public interface ExampleMetric {
        double of(float[] logits, float[] clean, int example);
    }

    /** The metric of row {@code index} from its final logits. */
    @FunctionalInterface
    public interface MetricOf {
        double of(int index, float[] logits);
    }

    /**
     * The metric of each of {@code count} exactly patched rows; {@code phase} names them (the circuit stage keeps
     * finished chunks by it, so a killed run resumes).
     */
    @FunctionalInterface
    public interface RowMetrics {
        double[] metrics(String phase, int count, IntFunction<EdgePasses.Row> row, MetricOf metric);
    }

    /** Rows run straight through {@code passes} (in calls of its batch size from the first row), nothing kept. */
    public static RowMetrics direct(EdgePasses passes) {
        return (phase, count, row, metric) -> {
            List<EdgePasses.Row> rows = new ArrayList<>(count);
            for (int r = 0; r < count; r++) rows.add(row.apply(r));
            float[][] logits = passes.logits(rows);
            double[] out = new double[count];
            for (int r = 0; r < count; r++) out[r] = metric.of(r, logits[r]);
            return out;
        };
    }

    /**
     * Per example, the clean run's final logits and the metric of the clean run (every mask 1: {@code full}) and of
     * the corrupt run (every mask 0: {@code empty}), the two ends faithfulness is measured between.
     */
    public record Baseline(float[][] clean, double[] full, double[] empty) {}

    /** One pass over every example at all masks 1 and at all masks 0 (rows interleaved per example). */
    public static Baseline baseline(EdgePasses passes, ExampleMetric metric) {
        int n = passes.examples().size();
        List<EdgePasses.Row> base = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            base.add(new EdgePasses.Row(i, passes.uniformMask(1f)));
            base.add(new EdgePasses.Row(i, passes.uniformMask(0f)));
        }
        float[][] logits = passes.logits(base);
        float[][] clean = new float[n][];
        double[] full = new double[n], empty = new double[n];
        for (int i = 0; i < n; i++) {
            clean[i] = logits[2 * i];
            full[i] = metric.of(logits[2 * i], clean[i], i);
            empty[i] = metric.of(logits[2 * i + 1], clean[i], i);
        }
        return new Baseline(clean, full, empty);
    }

    /** One circuit size: its faithfulness (CI over examples) and the raw metric per example. */
    public record SizePoint(int size, double fraction, Bootstrap.Interval faithfulness, double[] metric) {}

    /**
     * A ranking's faithfulness sweep.
     *
     * @param curve    one point per size of the grid
     * @param refined  sizes between the last grid size below the threshold and the first one above it, each measured
     *                 exactly, so {@code smallest} is the smallest top-k circuit of this ranking that keeps the threshold,
     *                 not just the smallest grid size
     * @param smallest that circuit's point, or null when no size keeps the threshold
     */
    public record Sweep(List<SizePoint> curve, List<SizePoint> refined, Bootstrap.Interval cpr, Bootstrap.Interval cmd,
                        SizePoint smallest) {}

    /**
     * The exact faithfulness of the top-k circuits of {@code order} for every k of {@code sizes}, CPR and CMD with
     * bootstrap CIs, and the smallest top-k circuit whose faithfulness estimate is at least {@code threshold}
     * (decision tolerance {@link Decisions}).
     *
     * @param phase the rows' name prefix ({@code <phase>.curve}, {@code <phase>.refined})
     * @param edges the number of edges of the graph (the fraction's denominator)
     */
    public static Sweep sweep(RowMetrics rows, String phase, int edges, int[] order, List<Integer> sizes, Baseline base,
                              ExampleMetric metric, Bootstrap boot, double threshold) {
        int n = base.full().length;
        List<SizePoint> curve = curve(rows, phase + ".curve", edges, sizes, k -> circuitMask(edges, order, k), base, metric, boot);
        double[][] curveMetric = curve.stream().map(SizePoint::metric).toArray(double[][]::new);
        Bootstrap.Interval cpr = boot.statistic(n, idx -> area(curveMetric, sizes, edges, base.full(), base.empty(), idx, false));
        Bootstrap.Interval cmd = boot.statistic(n, idx -> area(curveMetric, sizes, edges, base.full(), base.empty(), idx, true));
        SizePoint smallest = curve.stream().filter(p -> Decisions.atLeast(p.faithfulness().estimate(), threshold)).findFirst().orElse(null);
        List<SizePoint> refined = List.of();
        if (smallest != null) {
            int at = sizes.indexOf(smallest.size()), from = at == 0 ? 1 : sizes.get(at - 1) + 1;
            List<Integer> between = new ArrayList<>();
            for (int k = from; k < smallest.size() && between.size() < MAX_REFINED; k++) between.add(k);
            refined = curve(rows, phase + ".refined", edges, between, k -> circuitMask(edges, order, k), base, metric, boot);
            smallest = refined.stream().filter(p -> Decisions.atLeast(p.faithfulness().estimate(), threshold)).findFirst().orElse(smallest);
        }
        return new Sweep(curve, refined, cpr, cmd, smallest);
    }

    /**
     * The exact faithfulness of the circuit {@code maskOfSize.apply(k)} for every k of {@code sizes}: one row per size
     * and example (the mask of a size is made once and shared by its examples).
     */
    public static List<SizePoint> curve(RowMetrics rows, String phase, int edges, List<Integer> sizes, IntFunction<float[]> maskOfSize,
                                        Baseline base, ExampleMetric metric, Bootstrap boot) {
        int n = base.full().length;
        float[][] masks = new float[1][];
        int[] maskSize = {-1};
        double[] metrics = rows.metrics(phase, sizes.size() * n, r -> {
            int k = sizes.get(r / n);
            if (maskSize[0] != k) { // rows come in order: one mask per size, shared by its examples
                masks[0] = maskOfSize.apply(k);
                maskSize[0] = k;
            }
            return new EdgePasses.Row(r % n, masks[0]);
        }, (r, logits) -> metric.of(logits, base.clean()[r % n], r % n));
        List<SizePoint> out = new ArrayList<>();
        double[] den = new double[n];
        for (int i = 0; i < n; i++) den[i] = base.full()[i] - base.empty()[i];
        for (int s = 0; s < sizes.size(); s++) {
            double[] mk = new double[n], num = new double[n];
            for (int i = 0; i < n; i++) {
                mk[i] = metrics[s * n + i];
                num[i] = mk[i] - base.empty()[i];
            }
            out.add(new SizePoint(sizes.get(s), sizes.get(s) / (double) edges, boot.ratioOfMeans(num, den), mk));
        }
        return out;
    }

    /** The mask of the circuit made of the first {@code k} edges of {@code order}: 1 inside, 0 outside. */
    public static float[] circuitMask(int edges, int[] order, int k) {
        float[] m = new float[edges];
        for (int j = 0; j < k; j++) m[order[j]] = 1f;
        return m;
    }

    /** CPR (area under faithfulness) or CMD (area under |1 - faithfulness|) over the fraction of edges, examples idx. */
    public static double area(double[][] curveMetric, List<Integer> sizes, int edges, double[] full, double[] empty, int[] idx, boolean cmd) {
        double den = 0;
        for (int i : idx) den += full[i] - empty[i];
        if (den == 0) return Double.NaN;
        double prevX = 0, prevY = cmd ? 1 : 0, area = 0;
        for (int s = 0; s < sizes.size(); s++) {
            double num = 0;
            for (int i : idx) num += curveMetric[s][i] - empty[i];
            double f = num / den, y = cmd ? Math.abs(1 - f) : f, x = sizes.get(s) / (double) edges;
            area += (x - prevX) * (y + prevY) / 2;
            prevX = x;
            prevY = y;
        }
        return area;
    }

    /** The declared size grid (MIB-like): 1, then sizes growing by a factor sqrt(2) (rounded, distinct), and every edge. */
    public static List<Integer> sizeGrid(int edges) {
        TreeSet<Integer> s = new TreeSet<>();
        for (double k = 1; k < edges; k *= Math.sqrt(2)) s.add((int) Math.round(k));
        s.add(edges);
        return List.copyOf(s);
    }

    /** Edge indices by |score| descending, ties by index (deterministic). */
    public static int[] order(double[] score) {
        return IntStream.range(0, score.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(e -> -Math.abs(score[e])).thenComparingInt(e -> e))
                .mapToInt(Integer::intValue).toArray();
    }

    /** Per column, the mean over rows (each term divided by the row count, summed in row order). */
    public static double[] columnMeans(double[][] x) {
        double[] m = new double[x[0].length];
        for (double[] row : x) for (int e = 0; e < m.length; e++) m[e] += row[e] / x.length;
        return m;
    }
}
