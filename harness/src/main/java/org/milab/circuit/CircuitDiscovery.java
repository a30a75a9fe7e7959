package org.milab.circuit;

import org.milab.atp.EdgeAttributionPatching;
import org.milab.atp.EdgeFaithfulness;
import org.milab.atp.EdgeFaithfulness.SizePoint;
import org.milab.stats.Bootstrap;
import org.milab.stats.RankAgreement;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Edge attribution, circuits and their exact faithfulness for one task:
 * <ol>
 *   <li>({@link EdgeAttributionPatching}, shared with the Java API) EAP: per example and edge, {@code (clean_u - corrupt_u) . d(L[answer] - L[contrast]) / d in_v} at the clean run
 *       (the edge-gradient graph at all masks 1). EAP-IG: the same gradient averaged over {@code igSteps} runs whose
 *       {@code input} node feeds every edge {@code alpha E[clean] + (1 - alpha) E[corrupt]} (MIB's EAP-IG-inputs).</li>
 *   <li>({@link EdgeFaithfulness}, shared with the Java API) Circuits: the top-k edges by |mean score| for every k of a declared grid (1, then a ratio of sqrt 2, up to
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

    /**
     * Per method, its scores and curve ({@link EdgeFaithfulness.Sweep}'s fields).
     *
     * @param refined  sizes between the last grid size below the threshold and the first one above it, each
     *                 measured exactly, so {@code smallest} is the smallest top-k circuit of this ranking that keeps
     *                 the threshold, not just the smallest grid size
     */
    public record MethodResult(String method, double[][] perExample, double[] mean, Bootstrap.Interval[] ci, int[] order,
                               List<SizePoint> curve, List<SizePoint> refined, Bootstrap.Interval cpr, Bootstrap.Interval cmd,
                               SizePoint smallest, Bootstrap.Interval spearman) {}

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

        EdgeFaithfulness.ExampleMetric em = (logits, clean, i) -> metric.of(logits, clean, pairs.get(i));
        EdgeFaithfulness.Baseline base = EdgeFaithfulness.baseline(runner, em);
        float[][] clean = base.clean();
        double[] full = base.full(), empty = base.empty();

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
            EdgeFaithfulness.Sweep sw = EdgeFaithfulness.sweep(rowsOf, method, E, order, sizes, base, em, boot, cfg.threshold());
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
            methods.add(new MethodResult(method, per, mean, ci, order, sw.curve(), sw.refined(), sw.cpr(), sw.cmd(), sw.smallest(), rho));
        }
        return new Result(task, pairs, edges, cfg, full, empty, methods, exactEdges, exact, (System.nanoTime() - t0) / 1e9,
                phasesWith(phases, "sweep", sweep));
    }

    /** CPR or CMD over the fraction of edges, examples idx ({@link EdgeFaithfulness#area}). */
    static double area(double[][] curveMetric, List<Integer> sizes, int E, double[] full, double[] empty, int[] idx, boolean cmd) {
        return EdgeFaithfulness.area(curveMetric, sizes, E, full, empty, idx, cmd);
    }

    private static java.util.Map<String, Double> phasesWith(java.util.Map<String, Double> phases, String key, double seconds) {
        phases.put(key, seconds);
        return java.util.Collections.unmodifiableMap(phases);
    }

    /** The declared size grid ({@link EdgeFaithfulness#sizeGrid}). */
    public static List<Integer> sizeGrid(int edges) {
        return EdgeFaithfulness.sizeGrid(edges);
    }

    /** Edge indices by |score| descending, ties by index ({@link EdgeFaithfulness#order}). */
    static int[] order(double[] score) {
        return EdgeFaithfulness.order(score);
    }

    static double[] columnMeans(double[][] x) {
        return EdgeFaithfulness.columnMeans(x);
    }

    private static double[] column(double[][] x, int e) {
        double[] c = new double[x.length];
        for (int i = 0; i < x.length; i++) c[i] = x[i][e];
        return c;
    }
}
