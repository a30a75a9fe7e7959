package org.milab.circuit;

import org.milab.atp.EdgeAttributionPatching;
import org.milab.stats.Bootstrap;
import org.milab.stats.Decisions;
import org.milab.stats.RankAgreement;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * Edge attribution, circuits and their exact faithfulness for one task:
 * <ol>
 *   <li>({@link EdgeAttributionPatching}, shared with the Java API) EAP: per example and edge, {@code (clean_u - corrupt_u) . d(L[answer] - L[contrast]) / d in_v} at the clean run
 *       (the edge-gradient graph at all masks 1). EAP-IG: the same gradient averaged over {@code igSteps} runs whose
 *       {@code input} node feeds every edge {@code alpha E[clean] + (1 - alpha) E[corrupt]} (MIB's EAP-IG-inputs).</li>
 *   <li>Circuits: the top-k edges by |mean score| for every k of a declared grid (1, then a ratio of sqrt 2, up to
 *       all edges). Faithfulness of a circuit, exactly: {@code (m(C) - m(empty)) / (m(full) - m(empty))} as a ratio of
 *       means over examples, where m(C) is the metric with every edge outside C carrying the corrupt run's upstream
 *       output; m(full) is the clean run and m(empty) the corrupt run.</li>
 *   <li>CPR = area under faithfulness over the fraction of edges kept, CMD = area under |1 - faithfulness|
 *       (trapezoids over the grid, with faithfulness 0 at no edges and 1 at all), bootstrap CIs over examples.</li>
 *   <li>Exact single-edge effects {@code m(full) - m(full without e)} and Spearman(attribution, exact) with CI.</li>
 * </ol>
 * Nothing here knows which component plays which role.
 */
public final class CircuitDiscovery {
    private CircuitDiscovery() {}

    public static final List<String> METHODS = List.of("eap", "eap_ig");
    /** At most this many sizes are measured between two grid sizes when refining the smallest circuit. */
    static final int MAX_REFINED = 64;

    /** Per method, its scores and curve. */
    /**
     * @param refined  sizes between the last grid size below the threshold and the first one above it, each
     *                 measured exactly, so {@code smallest} is the smallest top-k circuit of this ranking that keeps
     *                 the threshold, not just the smallest grid size
     */
    public record MethodResult(String method, double[][] perExample, double[] mean, Bootstrap.Interval[] ci, int[] order,
                               List<SizePoint> curve, List<SizePoint> refined, Bootstrap.Interval cpr, Bootstrap.Interval cmd,
                               SizePoint smallest, Bootstrap.Interval spearman) {}

    /** One circuit size: its faithfulness and raw metric per example. */
    public record SizePoint(int size, double fraction, Bootstrap.Interval faithfulness, double[] metric) {}

    /**
     * @param phaseSeconds wall seconds of each phase: {@code eap}, {@code eap_ig} (attribution), {@code exact} (single-edge
     *                     patches), {@code sweep} (every faithfulness curve and its refinement, both methods)
     */
    public record Result(CircuitTask task, List<TokenPair> pairs, CircuitEdges edges, CircuitConfig config, double[] full,
                         double[] empty, List<MethodResult> methods, int[] exactEdges, double[][] exact, double seconds,
                         java.util.Map<String, Double> phaseSeconds) {
        public MethodResult method(String id) {
            return methods.stream().filter(m -> m.method().equals(id)).findFirst().orElseThrow();
        }
    }

    public static Result run(EdgeRunner runner, CircuitTask task, CircuitConfig cfg) {
        return run(new CircuitRows(runner, null, cfg.batchRows()), task, cfg);
    }

    /** As {@link #run(EdgeRunner, CircuitTask, CircuitConfig)}, with the rows made (and kept) by {@code rowsOf}. */
    public static Result run(CircuitRows rowsOf, CircuitTask task, CircuitConfig cfg) {
        long t0 = System.nanoTime();
        EdgeRunner runner = rowsOf.runner();
        List<TokenPair> pairs = runner.pairs();
        CircuitEdges edges = runner.edges();
        int n = pairs.size(), E = edges.size();
        CircuitMetric metric = task.metric();
        Bootstrap boot = new Bootstrap(cfg.resamples(), cfg.bootstrapSeed(), Bootstrap.DEFAULT_LEVEL);

        List<EdgeRunner.Row> base = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            base.add(new EdgeRunner.Row(i, runner.uniformMask(1f)));
            base.add(new EdgeRunner.Row(i, runner.uniformMask(0f)));
        }
        float[][] baseLogits = runner.logits(base);
        float[][] clean = new float[n][];
        double[] full = new double[n], empty = new double[n];
        for (int i = 0; i < n; i++) {
            clean[i] = baseLogits[2 * i];
            full[i] = metric.of(baseLogits[2 * i], clean[i], pairs.get(i));
            empty[i] = metric.of(baseLogits[2 * i + 1], clean[i], pairs.get(i));
        }

        java.util.Map<String, Double> phases = new java.util.LinkedHashMap<>();
        long tp = System.nanoTime();
        double[][] eap = EdgeAttributionPatching.perExample(rowsOf, "eap", n, List.of(1f), edges);
        phases.put("eap", (System.nanoTime() - tp) / 1e9);
        tp = System.nanoTime();
        double[][] ig = EdgeAttributionPatching.perExample(rowsOf, "eap_ig", n, EdgeAttributionPatching.alphas(cfg.igSteps()), edges);
        phases.put("eap_ig", (System.nanoTime() - tp) / 1e9);
        tp = System.nanoTime();

        // exact single-edge effects: every edge if the limit allows, else the top edges by |EAP-IG|
        int[] igOrder = order(columnMeans(ig));
        int[] exactEdges = E <= cfg.exactEdgeLimit() ? IntStream.range(0, E).toArray()
                : Arrays.copyOf(igOrder, cfg.exactEdgeLimit());
        double[][] exact = new double[n][exactEdges.length];
        int X = exactEdges.length;
        double[] single = rowsOf.metrics("exact", n * X, r -> {
            float[] m = runner.uniformMask(1f);
            m[exactEdges[r % X]] = 0f;
            return new EdgeRunner.Row(r / X, m);
        }, (r, logits) -> metric.of(logits, clean[r / X], pairs.get(r / X)));
        for (int i = 0; i < n; i++)
            for (int k = 0; k < X; k++) exact[i][k] = full[i] - single[i * X + k];
        phases.put("exact", (System.nanoTime() - tp) / 1e9);
        double sweep = 0;

        List<Integer> sizes = sizeGrid(E);
        List<MethodResult> methods = new ArrayList<>();
        for (String method : METHODS) {
            double[][] per = method.equals("eap") ? eap : ig;
            double[] mean = columnMeans(per);
            Bootstrap.Interval[] ci = new Bootstrap.Interval[E];
            for (int e = 0; e < E; e++) ci[e] = boot.mean(column(per, e));
            int[] order = order(mean);
            long ts = System.nanoTime();
            List<SizePoint> curve = curve(rowsOf, method + ".curve", order, sizes, n, clean, full, empty, metric, pairs, boot);
            double[][] curveMetric = curve.stream().map(SizePoint::metric).toArray(double[][]::new);
            Bootstrap.Interval cpr = boot.statistic(n, idx -> area(curveMetric, sizes, E, full, empty, idx, false));
            Bootstrap.Interval cmd = boot.statistic(n, idx -> area(curveMetric, sizes, E, full, empty, idx, true));
            SizePoint smallest = curve.stream().filter(p -> Decisions.atLeast(p.faithfulness().estimate(), cfg.threshold()))
                    .findFirst().orElse(null);
            List<SizePoint> refined = List.of();
            if (smallest != null) {
                int at = sizes.indexOf(smallest.size()), from = at == 0 ? 1 : sizes.get(at - 1) + 1;
                List<Integer> between = new ArrayList<>();
                for (int k = from; k < smallest.size() && between.size() < MAX_REFINED; k++) between.add(k);
                refined = curve(rowsOf, method + ".refined", order, between, n, clean, full, empty, metric, pairs, boot);
                smallest = refined.stream().filter(p -> Decisions.atLeast(p.faithfulness().estimate(), cfg.threshold()))
                        .findFirst().orElse(smallest);
            }
            sweep += (System.nanoTime() - ts) / 1e9;
            // fewer than 3 measured edges (--exact-edges 0, 1 or 2) leave no ranking to compare
            Bootstrap.Interval rho = exactEdges.length < 3 ? Bootstrap.Interval.EMPTY : boot.statistic(n, idx -> {
                double[] a = new double[exactEdges.length], b = new double[exactEdges.length];
                for (int k = 0; k < exactEdges.length; k++) {
                    for (int i : idx) {
                        a[k] += per[i][exactEdges[k]];
                        b[k] += exact[i][k];
                    }
                }
                return RankAgreement.spearman(a, b);
            });
            methods.add(new MethodResult(method, per, mean, ci, order, curve, refined, cpr, cmd, smallest, rho));
        }
        return new Result(task, pairs, edges, cfg, full, empty, methods, exactEdges, exact, (System.nanoTime() - t0) / 1e9,
                phasesWith(phases, "sweep", sweep));
    }

    /**
     * The exact faithfulness of the top-k circuit of {@code order} for every k of {@code sizes}: one row per size and
     * example (the circuit mask of a size is the same for every example).
     */
    private static List<SizePoint> curve(CircuitRows rowsOf, String phase, int[] order, List<Integer> sizes, int n,
                                         float[][] clean, double[] full, double[] empty, CircuitMetric metric,
                                         List<TokenPair> pairs, Bootstrap boot) {
        float[][] masks = new float[1][];
        int[] maskSize = {-1};
        double[] metrics = rowsOf.metrics(phase, sizes.size() * n, r -> {
            int k = sizes.get(r / n);
            if (maskSize[0] != k) { // rows come in order: one mask per size, shared by its examples
                masks[0] = circuitMask(rowsOf.runner(), order, k);
                maskSize[0] = k;
            }
            return new EdgeRunner.Row(r % n, masks[0]);
        }, (r, logits) -> metric.of(logits, clean[r % n], pairs.get(r % n)));
        List<SizePoint> out = new ArrayList<>();
        double[] den = new double[n];
        for (int i = 0; i < n; i++) den[i] = full[i] - empty[i];
        for (int s = 0; s < sizes.size(); s++) {
            double[] mk = new double[n], num = new double[n];
            for (int i = 0; i < n; i++) {
                mk[i] = metrics[s * n + i];
                num[i] = mk[i] - empty[i];
            }
            out.add(new SizePoint(sizes.get(s), sizes.get(s) / (double) rowsOf.runner().edges().size(), boot.ratioOfMeans(num, den), mk));
        }
        return out;
    }

    /** The mask of the circuit made of the first {@code k} edges of {@code order}: 1 inside, 0 outside. */
    public static float[] circuitMask(EdgeRunner runner, int[] order, int k) {
        float[] m = runner.uniformMask(0f);
        for (int j = 0; j < k; j++) m[order[j]] = 1f;
        return m;
    }

    /** CPR (area under faithfulness) or CMD (area under |1 - faithfulness|) over the fraction of edges, examples idx. */
    static double area(double[][] curveMetric, List<Integer> sizes, int E, double[] full, double[] empty, int[] idx, boolean cmd) {
        double den = 0;
        for (int i : idx) den += full[i] - empty[i];
        if (den == 0) return Double.NaN;
        double prevX = 0, prevY = cmd ? 1 : 0, area = 0;
        for (int s = 0; s < sizes.size(); s++) {
            double num = 0;
            for (int i : idx) num += curveMetric[s][i] - empty[i];
            double f = num / den, y = cmd ? Math.abs(1 - f) : f, x = sizes.get(s) / (double) E;
            area += (x - prevX) * (y + prevY) / 2;
            prevX = x;
            prevY = y;
        }
        return area;
    }

    private static java.util.Map<String, Double> phasesWith(java.util.Map<String, Double> phases, String key, double seconds) {
        phases.put(key, seconds);
        return java.util.Collections.unmodifiableMap(phases);
    }

    /** The declared size grid: 1, then sizes growing by a factor sqrt(2) (rounded, distinct), and every edge. */
    public static List<Integer> sizeGrid(int edges) {
        TreeSet<Integer> s = new TreeSet<>();
        for (double k = 1; k < edges; k *= Math.sqrt(2)) s.add((int) Math.round(k));
        s.add(edges);
        return List.copyOf(s);
    }

    /** Edge indices by |score| descending, ties by index (deterministic). */
    static int[] order(double[] score) {
        return IntStream.range(0, score.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(e -> -Math.abs(score[e])).thenComparingInt(e -> e))
                .mapToInt(Integer::intValue).toArray();
    }

    static double[] columnMeans(double[][] x) {
        double[] m = new double[x[0].length];
        for (double[] row : x) for (int e = 0; e < m.length; e++) m[e] += row[e] / x.length;
        return m;
    }

    private static double[] column(double[][] x, int e) {
        double[] c = new double[x.length];
        for (int i = 0; i < x.length; i++) c[i] = x[i][e];
        return c;
    }
}
