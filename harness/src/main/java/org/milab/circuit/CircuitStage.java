package org.milab.circuit;

import org.milab.atp.EdgeFaithfulness;
import org.milab.atp.MibCircuit;
import org.milab.stage.StageContext;
import org.milab.util.Json;
import org.milab.stats.Bootstrap;
import org.milab.tables.RecordSchema;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Writes a {@link CircuitDiscovery.Result} into {@code <run>/circuit/}: {@code edges.arrow} (per edge, aggregated),
 * {@code edge_scores.arrow} (per example and edge), {@code faithfulness.arrow} (per method and circuit size),
 * {@code faithfulness_examples.arrow} (per method, size and example), {@code circuit.json} (the smallest EAP-IG
 * circuit keeping the threshold, in MIB's graph JSON format), {@code circuit_summary.json} and {@code task.jsonl}.
 * Every column's description is in the glossary ({@code columns.txt}, sections [edges], [edge_scores], [faithfulness],
 * [faithfulness_examples]), so COLUMNS.md lists them.
 */
public final class CircuitStage {
    public static final String DIR = "circuit";
    static final String RANKING = "eap_ig";

    private CircuitStage() {}

    /**
     * Discovery for {@code task} and its tables. Every finished chunk of edge-graph rows is kept
     * ({@link org.milab.stage.StepChunks}, keyed by the step's fingerprint: task, settings, model, code), so a
     * killed step resumes from its last chunk; the chunks are deleted once the tables are written.
     */
    public static void run(StageContext ctx, CircuitTask task, CircuitConfig cfg) {
        org.milab.stage.StepChunks kept = new org.milab.stage.StepChunks(ctx, "circuit", "");
        List<TokenPair> pairs = task.tokenize(ctx.model());
        try (EdgeRunner runner = new EdgeRunner(ctx.model(), pairs, cfg.batchRows())) {
            // ENGINE=spark: the exact sweeps' rows run on the cluster (attribution and the base passes stay here)
            RemoteEdgePasses passes = ctx.model().engine() instanceof RemoteEdgePasses.Provider p
                    ? p.edgePasses(ctx.model(), pairs, cfg.batchRows()) : null;
            write(ctx, CircuitDiscovery.run(new CircuitRows(runner, kept, cfg.batchRows(), passes), task, cfg));
        }
        kept.clear("chunks of edge-graph rows");
    }

    public static void write(StageContext ctx, CircuitDiscovery.Result r) {
        ctx.writeText(DIR, null, "task.jsonl", r.task().toJsonl());
        ctx.writeJson(DIR, null, "circuit_config.json", r.config().toMap());
        ctx.write(DIR, null, edges(r));
        ctx.write(DIR, null, edgeScores(r));
        ctx.write(DIR, null, faithfulness(r));
        ctx.write(DIR, null, faithfulnessExamples(r));
        ctx.writeText(DIR, null, "circuit.json", mibJson(r, circuit(r)) + "\n");
        ctx.writeJson(DIR, null, "circuit_summary.json", summary(r));
        ctx.recordTiming("circuit", r.seconds());
        r.phaseSeconds().forEach((phase, sec) -> ctx.recordTiming("circuit/" + phase, sec));
        ctx.summarize(markdown(r));
    }

    /**
     * The edges of the smallest EAP-IG circuit that keeps the threshold (all edges if none does), pruned as MIB
     * prunes ({@link MibCircuit#prune}: dangling edges carry the same value inside and outside the circuit).
     */
    public static Set<Integer> circuit(CircuitDiscovery.Result r) {
        CircuitDiscovery.MethodResult m = r.method(RANKING);
        int k = m.smallest() == null ? r.edges().size() : m.smallest().size();
        Set<Integer> out = new HashSet<>();
        for (int j = 0; j < k; j++) out.add(m.order()[j]);
        return prune(out, r.edges());
    }

    static Set<Integer> prune(Set<Integer> circuit, CircuitEdges all) {
        return MibCircuit.prune(circuit, all);
    }

    static TableBuilder edges(CircuitDiscovery.Result r) {
        CircuitDiscovery.MethodResult eap = r.method("eap"), ig = r.method(RANKING);
        int[] rankIg = ranks(ig.order());
        Map<Integer, Integer> slot = new LinkedHashMap<>();
        for (int k = 0; k < r.exactEdges().length; k++) slot.put(r.exactEdges()[k], k);
        Measured m = Measured.of(r);
        Set<Integer> circuit = circuit(r);
        List<EdgeRow> rows = new ArrayList<>(r.edges().size());
        for (CircuitEdges.Edge e : r.edges().edges()) {
            int i = e.index();
            Integer k = slot.get(i);
            // the exact columns only for the exactly measured edges; null elsewhere
            Bootstrap.Interval ex = k == null ? null : m.exactCi()[k];
            rows.add(new EdgeRow(e.name(), e.upstreamName(), e.downstream(), e.downstreamLayer(),
                    eap.mean()[i], eap.ci()[i].low(), eap.ci()[i].high(), ig.mean()[i], ig.ci()[i].low(), ig.ci()[i].high(), rankIg[i],
                    ex == null ? null : ex.estimate(), ex == null ? null : ex.low(), ex == null ? null : ex.high(),
                    k == null ? null : (long) m.rankExact()[k], k == null ? null : (long) m.rankIgAmong()[k],
                    ex == null ? null : Math.signum(ex.estimate()) == Math.signum(ig.mean()[i]), circuit.contains(i),
                    k == null ? null : m.agreement()[k]));
        }
        return RecordSchema.of(EdgeRow.class).builder("edges", rows, "edge");
    }

    /** A row of {@code edges}: one edge aggregated; the exact-effect columns are null for an edge not measured exactly. */
    record EdgeRow(String edge, String upstream, String downstream, long downstreamLayer, double eapMean, double eapLow,
                   double eapHigh, double eapIgMean, double eapIgLow, double eapIgHigh, long rankEapIg, Double exactEffectMean,
                   Double exactEffectLow, Double exactEffectHigh, Long rankExact, Long rankEapIgAmongExact, Boolean signAgrees,
                   boolean inCircuit, String agreement) {}

    /**
     * The exactly measured edges (in {@code r.exactEdges()} order): the bootstrap CI of each one's exact single-edge
     * effect, its rank by |exact effect| and by |EAP-IG| among them, and where the two disagree ({@link #agreement}).
     */
    record Measured(Bootstrap.Interval[] exactCi, int[] rankExact, int[] rankIgAmong, String[] agreement) {
        static Measured of(CircuitDiscovery.Result r) {
            int n = r.exactEdges().length;
            double[] ig = r.method(RANKING).mean(), exactMean = new double[n], igAmong = new double[n];
            Bootstrap boot = new Bootstrap(r.config().resamples(), r.config().bootstrapSeed(), Bootstrap.DEFAULT_LEVEL);
            Bootstrap.Interval[] ci = new Bootstrap.Interval[n];
            for (int k = 0; k < n; k++) {
                int kk = k;
                for (double[] row : r.exact()) exactMean[k] += row[k] / r.exact().length;
                igAmong[k] = ig[r.exactEdges()[k]];
                ci[k] = boot.mean(java.util.Arrays.stream(r.exact()).mapToDouble(x -> x[kk]).toArray());
            }
            int[] rankIgAmong = ranks(CircuitDiscovery.order(igAmong));
            return new Measured(ci, ranks(CircuitDiscovery.order(exactMean)), rankIgAmong, CircuitStage.agreement(ci, rankIgAmong, igAmong));
        }

        /** How many measured edges have each {@link #AGREEMENT} value. */
        Map<String, Integer> counts() {
            Map<String, Integer> out = new LinkedHashMap<>();
            for (String a : AGREEMENT) out.put(a, 0);
            for (String a : agreement) out.merge(a, 1, Integer::sum);
            return out;
        }
    }

    /** Where EAP-IG and exact patching disagree about a measured edge; see {@link #agreement(Bootstrap.Interval[], int[], double[])}. */
    public static final List<String> AGREEMENT = List.of("agree", "missed_by_attribution", "overrated_by_attribution", "sign_differs");

    /**
     * Per exactly measured edge, whether attribution and exact patching tell the same story. An edge matters exactly
     * when its single-edge effect's CI excludes zero (beyond the decision tolerance); say K edges do. Attribution's
     * picks are the K measured edges it ranks highest by |EAP-IG|. Then: {@code sign_differs} (it matters, and EAP-IG
     * has the other sign), {@code missed_by_attribution} (it matters, attribution does not pick it),
     * {@code overrated_by_attribution} (attribution picks it, its exact effect is indistinguishable from zero), else
     * {@code agree}.
     */
    static String[] agreement(Bootstrap.Interval[] exactCi, int[] rankIgAmong, double[] igAmong) {
        int n = exactCi.length, matter = 0;
        boolean[] significant = new boolean[n];
        for (int k = 0; k < n; k++) {
            significant[k] = org.milab.stats.Decisions.positive(exactCi[k].low()) || org.milab.stats.Decisions.negative(exactCi[k].high());
            if (significant[k]) matter++;
        }
        String[] out = new String[n];
        for (int k = 0; k < n; k++) {
            boolean picked = rankIgAmong[k] <= matter;
            if (significant[k] && Math.signum(igAmong[k]) != Math.signum(exactCi[k].estimate())) out[k] = AGREEMENT.get(3);
            else if (significant[k] && !picked) out[k] = AGREEMENT.get(1);
            else if (!significant[k] && picked) out[k] = AGREEMENT.get(2);
            else out[k] = AGREEMENT.get(0);
        }
        return out;
    }

    static TableBuilder edgeScores(CircuitDiscovery.Result r) {
        Map<Integer, Integer> slot = new LinkedHashMap<>();
        for (int k = 0; k < r.exactEdges().length; k++) slot.put(r.exactEdges()[k], k);
        double[][] eap = r.method("eap").perExample(), ig = r.method(RANKING).perExample();
        List<EdgeScoreRow> rows = new ArrayList<>();
        for (int i = 0; i < r.pairs().size(); i++)
            for (CircuitEdges.Edge e : r.edges().edges()) {
                Integer k = slot.get(e.index());
                rows.add(new EdgeScoreRow(i, e.name(), eap[i][e.index()], ig[i][e.index()], k == null ? null : r.exact()[i][k]));
            }
        return RecordSchema.of(EdgeScoreRow.class).builder("edge_scores", rows, "example", "edge");
    }

    static TableBuilder faithfulness(CircuitDiscovery.Result r) {
        double clean = mean(r.full()), corrupt = mean(r.empty());
        List<FaithfulnessRow> rows = new ArrayList<>();
        for (CircuitDiscovery.MethodResult m : r.methods())
            for (EdgeFaithfulness.SizePoint p : points(m))
                rows.add(new FaithfulnessRow(m.method(), p.size(), r.edges().size(), p.fraction(), p.faithfulness().estimate(),
                        p.faithfulness().low(), p.faithfulness().high(), mean(p.metric()), clean, corrupt,
                        org.milab.stats.Decisions.atLeast(p.faithfulness().estimate(), r.config().threshold()),
                        m.curve().contains(p), r.task().metric().id()));
        return RecordSchema.of(FaithfulnessRow.class).builder("faithfulness", rows, "method", "size");
    }

    static TableBuilder faithfulnessExamples(CircuitDiscovery.Result r) {
        List<FaithfulnessExampleRow> rows = new ArrayList<>();
        for (CircuitDiscovery.MethodResult m : r.methods())
            for (EdgeFaithfulness.SizePoint p : points(m))
                for (int i = 0; i < p.metric().length; i++)
                    rows.add(new FaithfulnessExampleRow(m.method(), p.size(), i, p.metric()[i], r.full()[i], r.empty()[i]));
        return RecordSchema.of(FaithfulnessExampleRow.class).builder("faithfulness_examples", rows, "method", "size", "example");
    }

    /** A row of {@code edge_scores}: one example's score of one edge by each method. */
    record EdgeScoreRow(long example, String edge, double eap, double eapIg, Double exactEffect) {}

    /** A row of {@code faithfulness}: one method's circuit of one size, its faithfulness with CI. */
    record FaithfulnessRow(String method, long size, long edgesTotal, double fraction, double faithfulness, double faithfulnessLow,
                           double faithfulnessHigh, double metricMean, double cleanMetricMean, double corruptMetricMean,
                           boolean meetsThreshold, boolean onGrid, String metric) {}

    /** A row of {@code faithfulness_examples}: one example's metric under one method's circuit of one size. */
    record FaithfulnessExampleRow(String method, long size, long example, double metric, double cleanMetric, double corruptMetric) {}

    /** MIB's graph JSON ({@link MibCircuit#json}): cfg, nodes {name: {in_graph}}, edges {name: {score, in_graph}} (score: mean EAP-IG). */
    static String mibJson(CircuitDiscovery.Result r, Set<Integer> circuit) {
        return MibCircuit.json(r.edges(), r.method(RANKING).mean(), circuit);
    }

    static Map<String, Object> summary(CircuitDiscovery.Result r) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("task", r.task().name());
        s.put("metric", r.task().metric().id());
        s.put("examples", r.pairs().size());
        s.put("edges", r.edges().size());
        s.put("exactly_measured_edges", r.exactEdges().length);
        s.put("clean_metric_mean", mean(r.full()));
        s.put("corrupt_metric_mean", mean(r.empty()));
        s.put("threshold", r.config().threshold());
        // per measured edge, edges.arrow's agreement column: where EAP-IG and exact single-edge patching part
        s.put("eap_ig_vs_exact_agreement", Measured.of(r).counts());
        for (CircuitDiscovery.MethodResult m : r.methods()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("cpr", interval(m.cpr()));
            x.put("cmd", interval(m.cmd()));
            x.put("smallest_size_meeting_threshold", m.smallest() == null ? null : m.smallest().size());
            x.put("smallest_faithfulness", m.smallest() == null ? null : interval(m.smallest().faithfulness()));
            x.put("spearman_with_exact", interval(m.spearman()));
            s.put(m.method(), x);
        }
        s.put("seconds", r.seconds());
        s.put("phase_seconds", r.phaseSeconds());
        return s;
    }

    /** {estimate, low, high}: the interval record's own components. */
    private static Map<String, Object> interval(Bootstrap.Interval i) {
        return RecordSchema.treeMap(i);
    }

    static String markdown(CircuitDiscovery.Result r) {
        StringBuilder b = new StringBuilder("## Circuit (" + r.task().name() + ", " + r.task().metric().id() + ", "
                + r.pairs().size() + " examples, " + r.edges().size() + " edges)\n\n");
        for (CircuitDiscovery.MethodResult m : r.methods())
            b.append(String.format(Locale.ROOT, "- %s: CPR %.3f [%.3f, %.3f], CMD %.3f [%.3f, %.3f], smallest circuit with "
                            + "faithfulness >= %.2f: %s; Spearman with exact single-edge effects %.3f [%.3f, %.3f]%n",
                    m.method(), m.cpr().estimate(), m.cpr().low(), m.cpr().high(), m.cmd().estimate(), m.cmd().low(), m.cmd().high(),
                    r.config().threshold(), m.smallest() == null ? "none" : String.format(Locale.ROOT, "%d edges (faithfulness %.3f [%.3f, %.3f])",
                            m.smallest().size(), m.smallest().faithfulness().estimate(), m.smallest().faithfulness().low(),
                            m.smallest().faithfulness().high()),
                    m.spearman().estimate(), m.spearman().low(), m.spearman().high()));
        if (r.exactEdges().length > 0) {
            java.util.StringJoiner counts = new java.util.StringJoiner(", ");
            Measured.of(r).counts().forEach((k, n) -> counts.add(n + " " + k.replace('_', ' ')));
            b.append("- EAP-IG against the exact single-edge effects of the ").append(r.exactEdges().length)
                    .append(" measured edges (edges.arrow, column agreement): ").append(counts).append('\n');
        }
        return b.toString();
    }

    /** Grid and refined sizes in size order. */
    private static List<EdgeFaithfulness.SizePoint> points(CircuitDiscovery.MethodResult m) {
        List<EdgeFaithfulness.SizePoint> all = new java.util.ArrayList<>(m.curve());
        all.addAll(m.refined());
        all.sort(java.util.Comparator.comparingInt(EdgeFaithfulness.SizePoint::size));
        return all;
    }

    private static int[] ranks(int[] order) {
        int[] rank = new int[order.length];
        for (int j = 0; j < order.length; j++) rank[order[j]] = j + 1;
        return rank;
    }

    private static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }
}
