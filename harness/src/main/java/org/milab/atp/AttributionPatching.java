package org.milab.atp;

import org.milab.engine.TokenIds;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Attribution patching (AtP; Nanda 2023, Kramar et al. 2024): the first-order estimate of what patching a
 * node would do, {@code (a_clean - a_corrupt) . dm/da}, for every node at every position, from one gradient
 * pass (forward + backward) of the clean and one of the corrupt prompt.
 * <ul>
 *   <li>denoising (clean into corrupt): {@code (a_clean - a_corrupt) . dm/da} at the corrupt run, estimating
 *       {@code m(corrupt, a <- a_clean) - m(corrupt)};</li>
 *   <li>noising (corrupt into clean): {@code (a_corrupt - a_clean) . dm/da} at the clean run, estimating
 *       {@code m(clean, a <- a_corrupt) - m(clean)} (negative for a node the clean behaviour needs).</li>
 * </ul>
 * A ranking, not a measurement: it is exact only where the model is linear in the node between the two runs.
 * It fails where attention saturates (a softmax at ~0/1 has ~0 gradient however large the patch's effect)
 * and where effects cancel; exact patching of the top nodes is the verified answer. AtP* ({@link QkFix}) repairs the
 * saturation failure on each node's direct path into later heads' queries and keys.
 */
public final class AttributionPatching {
    private AttributionPatching() {}

    /**
     * One pair's scores: {@code denoising[node][position]}, {@code noising[node][position]}, {@code integrated} (null
     * without IG steps), {@code star} (AtP* denoising; null unless asked for), and the metric of the two unpatched
     * runs (from the same gradient graph).
     */
    public record PairScores(PromptPair pair, double cleanMetric, double corruptMetric, double[][] denoising,
                             double[][] noising, double[][] integrated, double[][] star) {}

    /**
     * @param igSteps     integrated-gradient steps per pair (0 = plain AtP only)
     * @param seconds     wall time of the whole run (AtP*'s arithmetic included)
     * @param starSeconds wall time of AtP*'s QK fix alone (0 when not computed)
     */
    public record Result(List<AttributionNode> nodes, List<PairScores> pairs, int igSteps, double seconds, double starSeconds) {
        public boolean hasStar() {
            return !pairs.isEmpty() && pairs.get(0).star() != null;
        }
    }

    /**
     * AtP in both directions and, with {@code igSteps > 0}, AtP with integrated gradients (EAP-IG style,
     * Hanna et al. 2024, arXiv 2403.17806): {@code (a_clean - a_corrupt) . mean_j dm/da} with the gradient
     * averaged over runs whose token embeddings move from the corrupt to the clean prompt's,
     * {@code (1 - w_j) E[corrupt] + w_j E[clean]} at the midpoints {@code w_j = (j - 1/2) / igSteps}. Averaging
     * over the path sees the softmax transitions that a gradient at either end misses when attention saturates.
     */
    public static Result run(LabModel model, List<PromptPair> pairs, int batchRows, int igSteps) {
        return run(model, pairs, batchRows, igSteps, false);
    }

    /**
     * As {@link #run(LabModel, List, int, int)}, and with {@code star} AtP* (denoising): AtP plus {@link QkFix}'s
     * exact-softmax correction, from the same two gradient passes and the exported weights.
     */
    public static Result run(LabModel model, List<PromptPair> pairs, int batchRows, int igSteps, boolean star) {
        ModelConfig c = model.config();
        List<AttributionNode> nodes = AttributionNode.all(c);
        Set<String> hooks = new LinkedHashSet<>();
        nodes.forEach(n -> hooks.add(n.hook()));
        long t0 = System.nanoTime();
        long starNanos = 0;
        QkFix fix = star ? qkFix(model) : null;
        List<PairScores> out = new ArrayList<>(pairs.size());
        // pairs in chunks: clean and corrupt rows of a chunk in one call each side, then scored and dropped
        for (int start = 0; start < pairs.size(); start += batchRows) {
            List<PromptPair> chunk = pairs.subList(start, Math.min(pairs.size(), start + batchRows));
            List<GradientPass.Row> clean = GradientPass.run(model, chunk.stream()
                    .map(p -> GradientPass.Input.plain(p.clean(), p.metricTokens())).toList(), hooks, batchRows);
            List<GradientPass.Row> corrupt = GradientPass.run(model, chunk.stream()
                    .map(p -> GradientPass.Input.plain(p.corrupt(), p.metricTokens())).toList(), hooks, batchRows);
            List<Map<String, double[]>> path = pathGradients(model, chunk, hooks, batchRows, igSteps);
            for (int i = 0; i < chunk.size(); i++) {
                PairScores s = score(c, nodes, chunk.get(i), clean.get(i), corrupt.get(i), path == null ? null : path.get(i));
                if (fix != null) {
                    long s0 = System.nanoTime();
                    s = withStar(s, fix.correction(nodes, corrupt.get(i), clean.get(i)));
                    starNanos += System.nanoTime() - s0;
                }
                out.add(s);
            }
        }
        return new Result(nodes, out, igSteps, (System.nanoTime() - t0) / 1e9, starNanos / 1e9);
    }

    private static QkFix qkFix(LabModel model) {
        try (org.milab.lab.ExportedWeights w = org.milab.lab.ExportedWeights.open(model.layout().graphDir(), model.config())) {
            return new QkFix(w);
        }
    }

    /** AtP* (denoising) = AtP denoising + the QK fix's correction, per node and position. */
    static PairScores withStar(PairScores s, double[][] correction) {
        double[][] star = new double[correction.length][];
        for (int n = 0; n < star.length; n++) {
            star[n] = s.denoising()[n].clone();
            for (int t = 0; t < star[n].length; t++) star[n][t] += correction[n][t];
        }
        return new PairScores(s.pair(), s.cleanMetric(), s.corruptMetric(), s.denoising(), s.noising(), s.integrated(), star);
    }

    /** Per pair and hook, the gradient averaged over the integrated-gradient path; null when igSteps is 0. */
    private static List<Map<String, double[]>> pathGradients(LabModel model, List<PromptPair> chunk, Set<String> hooks,
                                                             int batchRows, int igSteps) {
        if (igSteps == 0) return null;
        List<Map<String, double[]>> sums = new ArrayList<>();
        chunk.forEach(p -> sums.add(new HashMap<>()));
        for (int j = 0; j < igSteps; j++) {
            float w = (float) ((j + 0.5) / igSteps);
            List<GradientPass.Row> rows = GradientPass.run(model, chunk.stream()
                    .map(p -> new GradientPass.Input(p.corrupt(), p.metricTokens(), p.clean(), w)).toList(), hooks, batchRows);
            for (int i = 0; i < chunk.size(); i++)
                for (String h : hooks) {
                    float[] g = rows.get(i).gradients().get(h);
                    double[] acc = sums.get(i).computeIfAbsent(h, k -> new double[g.length]);
                    for (int e = 0; e < g.length; e++) acc[e] += g[e] / (double) igSteps;
                }
        }
        return sums;
    }

    public static PairScores score(ModelConfig c, List<AttributionNode> nodes, PromptPair pair, GradientPass.Row clean,
                            GradientPass.Row corrupt, Map<String, double[]> pathGradient) {
        int T = pair.length(), stride = AttributionNode.stride(c);
        double[][] den = new double[nodes.size()][T], noi = new double[nodes.size()][T];
        double[][] ig = pathGradient == null ? null : new double[nodes.size()][T];
        for (int n = 0; n < nodes.size(); n++) {
            AttributionNode node = nodes.get(n);
            float[] aClean = clean.activations().get(node.hook()), aCorrupt = corrupt.activations().get(node.hook());
            float[] gClean = clean.gradients().get(node.hook()), gCorrupt = corrupt.gradients().get(node.hook());
            double[] gPath = pathGradient == null ? null : pathGradient.get(node.hook());
            int off = node.offset(c), w = node.width(c);
            for (int t = 0; t < T; t++) {
                double d = 0, s = 0, q = 0;
                for (int i = t * stride + off, e = i + w; i < e; i++) {
                    double diff = (double) aClean[i] - aCorrupt[i];
                    d += diff * gCorrupt[i];
                    s -= diff * gClean[i];
                    if (gPath != null) q += diff * gPath[i];
                }
                den[n][t] = d;
                noi[n][t] = s;
                if (ig != null) ig[n][t] = q;
            }
        }
        return new PairScores(pair, clean.metric(), corrupt.metric(), den, noi, ig, null);
    }

    /** The prompts of {@code pairs}, clean then corrupt, for callers that capture them. */
    public static List<TokenIds> prompts(List<PromptPair> pairs) {
        List<TokenIds> out = new ArrayList<>();
        pairs.forEach(p -> {
            out.add(p.clean());
            out.add(p.corrupt());
        });
        return out;
    }
}
