package org.milab.protocol.v2;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Ranking quality against a planted ground truth (the InterpBench convention): the AUROC of each per-head evidence
 * score for "the head is in the true circuit". Grading only: called after every decision, by the same layer that
 * writes precision/recall; nothing here feeds a verdict.
 */
final class Ranking {
    private Ranking() {}

    /** The per-head evidence scores ranked, each with its AUROC (null when the truth has only one class). */
    static Map<String, Object> against(Verdicts.Result pooled, PlantedTruth truth) {
        Map<String, ToDoubleFunction<Verdicts.HeadVerdict>> scores = new LinkedHashMap<>();
        scores.put("max_abs_effect_or_path", v -> strongest(pooled, v));
        scores.put("neg_log10_min_adjusted_p", v -> -Math.log10(Math.max(v.pAdjusted(), 1e-300)));
        scores.put("max_attention_excess", v -> Math.max(v.role().induction().estimate(),
                Math.max(v.role().previous().estimate(), v.role().duplicate().estimate())));
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, ToDoubleFunction<Verdicts.HeadVerdict>> e : scores.entrySet()) {
            List<Double> pos = new ArrayList<>(), neg = new ArrayList<>();
            for (Verdicts.HeadVerdict v : pooled.heads()) {
                double s = e.getValue().applyAsDouble(v);
                if (Boolean.TRUE.equals(truth.inCircuit().get(v.head()))) pos.add(s);
                else neg.add(s);
            }
            out.put(e.getKey(), auroc(pos, neg));
        }
        return out;
    }

    /** The head's largest |normalized effect| over its causal tests and its paths as a sender (NaN counts as 0). */
    static double strongest(Verdicts.Result pooled, Verdicts.HeadVerdict v) {
        double best = 0;
        for (Verdicts.Effect e : v.effects().values()) best = Math.max(best, abs(e.normalized().estimate()));
        for (Verdicts.Composition c : pooled.compositions())
            if (c.sender().equals(v.head())) best = Math.max(best, abs(c.effect().normalized().estimate()));
        return best;
    }

    private static double abs(double x) {
        return Double.isNaN(x) ? 0 : Math.abs(x);
    }

    /** P(score of a random positive > score of a random negative), ties counted 1/2; null without both classes. */
    static Double auroc(List<Double> pos, List<Double> neg) {
        if (pos.isEmpty() || neg.isEmpty()) return null;
        double wins = 0;
        for (double p : pos)
            for (double n : neg) wins += p > n ? 1 : p == n ? 0.5 : 0;
        return wins / ((double) pos.size() * neg.size());
    }
}
