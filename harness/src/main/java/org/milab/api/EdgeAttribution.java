package org.milab.api;

import org.milab.atp.EdgeFaithfulness;
import org.milab.atp.EdgeGraph;
import org.milab.stats.Bootstrap;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Edge attribution patching of every edge of the model's graph, named as MIB's circuit track names them: nodes
 * {@code input}, {@code a{l}.h{h}} (a head), {@code m{l}} (an MLP), {@code logits}; an edge {@code upstream->downstream}
 * from a node's output into a later node's input, a head's input split by query, key and value
 * ({@code a0.h1->a1.h2<k>}). EAP: per pair, {@code (clean_u - corrupt_u) . d metric / d in_v} at the clean run; EAP-IG:
 * the same gradient averaged over {@code igSteps} points between the corrupt and the clean input embeddings (NaN when
 * the task asked for no steps). The metric is {@code logit(answer) - logit(wrong)} at the last position. Means over
 * pairs come with percentile-bootstrap intervals over pairs ({@link #RESAMPLES} resamples, seed 0, 95%), as
 * {@code make circuit} computes them. Scores rank edges for exact patching; they are estimates, not measurements.
 *
 * @param edges         one score per edge, in the graph's order (by downstream node: per layer the heads' q, k, v
 *                      inputs, the MLP, then the logits)
 * @param cleanMetric   per pair, the clean run's metric
 * @param corruptMetric per pair, the corrupt run's metric
 * @param igSteps       EAP-IG steps (0: none)
 */
public record EdgeAttribution(List<EdgeScore> edges, double[] cleanMetric, double[] corruptMetric, int igSteps) {
    /** Bootstrap resamples of every interval. */
    public static final int RESAMPLES = 1000;

    /** Which estimate ranks edges. */
    public enum Method {
        /** Edge attribution patching: the gradient at the clean run. */
        EAP,
        /** EAP with integrated gradients over the input embeddings. */
        EAP_IG
    }

    /**
     * One edge's scores.
     *
     * @param index           its position in the graph's edge order
     * @param name            {@code upstream->downstream}, e.g. {@code a0.h1->a1.h2<k>}
     * @param upstream        the node whose output it carries: input, a{l}.h{h} or m{l}
     * @param downstream      the input it feeds: a{l}.h{h}&lt;q|k|v&gt;, m{l} or logits
     * @param downstreamLayer the downstream node's block (n_layers for logits)
     * @param eap             mean EAP over pairs
     * @param eapLow          its bootstrap interval's low end
     * @param eapHigh         its bootstrap interval's high end
     * @param eapIg           mean EAP-IG over pairs (NaN without steps)
     * @param eapIgLow        its interval's low end (NaN without steps)
     * @param eapIgHigh       its interval's high end (NaN without steps)
     * @param eapPerPair      per pair, the EAP score
     * @param eapIgPerPair    per pair, the EAP-IG score (empty without steps)
     */
    public record EdgeScore(int index, String name, String upstream, String downstream, int downstreamLayer,
                            double eap, double eapLow, double eapHigh, double eapIg, double eapIgLow, double eapIgHigh,
                            double[] eapPerPair, double[] eapIgPerPair) {
        /**
         * @param method EAP or EAP-IG
         * @return the mean score by that method
         */
        public double score(Method method) {
            return method == Method.EAP ? eap : eapIg;
        }
    }

    /**
     * @param name an edge name such as {@code a0.h1->a1.h2<k>}
     * @return its scores
     */
    public EdgeScore edge(String name) {
        return edges.stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "No edge '" + name + "'; edges look like input->a0.h1<q>, a0.h1->a1.h2<k>, a1.h2->logits, m0->logits."));
    }

    /**
     * The ranking circuits are built from: by |mean score| descending, ties by graph order.
     *
     * @param k      how many edges
     * @param method EAP or EAP-IG (EAP-IG needs a task with steps)
     * @return the top {@code k} edges
     */
    public List<EdgeScore> top(int k, Method method) {
        if (method == Method.EAP_IG && igSteps == 0)
            throw new IllegalArgumentException("EAP-IG was not computed: the task asked for 0 integrated-gradient steps");
        return edges.stream().sorted(Comparator.comparingDouble((EdgeScore e) -> -Math.abs(e.score(method)))
                .thenComparingInt(EdgeScore::index)).limit(k).toList();
    }

    /**
     * The circuit of the top {@code k} edges by |mean score|, ties by graph order: the ranking {@code make circuit} and
     * {@link HookedModel#faithfulnessSweep} build circuits from (means summed pair by pair, as the circuit stage sums them).
     *
     * @param k      how many edges (0 to all)
     * @param method EAP or EAP-IG (EAP-IG needs a task with steps)
     * @return those edges in rank order, with every edge's mean score by that method
     */
    public Circuit circuit(int k, Method method) {
        if (k < 0 || k > edges.size()) throw new IllegalArgumentException("k must be in 0.." + edges.size() + ", got " + k);
        int[] order = order(method);
        double[] mean = means(method);
        List<String> in = new ArrayList<>(k);
        for (int j = 0; j < k; j++) in.add(edges.get(order[j]).name());
        java.util.Map<String, Double> scores = new java.util.LinkedHashMap<>();
        for (EdgeScore e : edges) scores.put(e.name(), mean[e.index()]);
        return new Circuit(in, scores);
    }

    /**
     * The circuit of every edge whose |mean score| is at least {@code threshold} (a score threshold, as MIB's
     * threshold-based circuits).
     *
     * @param threshold the least |mean score| an edge needs
     * @param method    EAP or EAP-IG
     * @return those edges in rank order, with every edge's mean score
     */
    public Circuit circuitAbove(double threshold, Method method) {
        double[] mean = means(method);
        int k = 0;
        for (double m : mean) if (Math.abs(m) >= threshold) k++;
        return circuit(k, method);
    }

    /** Edge indices by |mean score| descending, ties by index (the circuit stage's ranking). */
    int[] order(Method method) {
        return EdgeFaithfulness.order(means(method));
    }

    /** Per edge, the mean score over pairs, summed pair by pair as the circuit stage sums it. */
    private double[] means(Method method) {
        if (method == Method.EAP_IG && igSteps == 0)
            throw new IllegalArgumentException("EAP-IG was not computed: the task asked for 0 integrated-gradient steps");
        double[][] perPair = new double[cleanMetric.length][edges.size()];
        for (EdgeScore e : edges) {
            double[] x = method == Method.EAP ? e.eapPerPair() : e.eapIgPerPair();
            for (int i = 0; i < x.length; i++) perPair[i][e.index()] = x[i];
        }
        return EdgeFaithfulness.columnMeans(perPair);
    }

    /** Per edge, means and bootstrap intervals of per-pair scores {@code eap} and {@code ig} (null: no steps). */
    static EdgeAttribution of(EdgeGraph graph, double[][] eap, double[][] ig, double[] clean, double[] corrupt, int igSteps) {
        Bootstrap boot = new Bootstrap(RESAMPLES, 0, Bootstrap.DEFAULT_LEVEL);
        List<EdgeScore> out = new ArrayList<>(graph.size());
        for (EdgeGraph.Edge e : graph.edges()) {
            double[] a = column(eap, e.index()), b = ig == null ? new double[0] : column(ig, e.index());
            Bootstrap.Interval x = boot.mean(a), y = ig == null ? Bootstrap.Interval.EMPTY : boot.mean(b);
            out.add(new EdgeScore(e.index(), e.name(), e.upstreamName(), e.downstream(), e.downstreamLayer(),
                    x.estimate(), x.low(), x.high(), y.estimate(), y.low(), y.high(), a, b));
        }
        return new EdgeAttribution(List.copyOf(out), clean, corrupt, igSteps);
    }

    private static double[] column(double[][] x, int e) {
        double[] c = new double[x.length];
        for (int i = 0; i < x.length; i++) c[i] = x[i][e];
        return c;
    }
}
