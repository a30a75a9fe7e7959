package org.milab.circuit;

import org.milab.util.UserError;

import java.util.Arrays;

/**
 * What a task measures at the final position, from the (centred) logits of a run: the logit difference
 * {@code L[answer] - L[contrast]} (default), the answer's log-probability, or the KL divergence from the clean
 * run's next-token distribution (0 for the clean run itself).
 */
public enum CircuitMetric {
    LOGIT_DIFF("logit_diff"), LOG_PROB("log_prob"), KL("kl");

    private final String id;

    CircuitMetric(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static CircuitMetric parse(String s) {
        return Arrays.stream(values()).filter(m -> m.id.equals(s)).findFirst().orElseThrow(() -> new UserError(
                "Unknown metric '" + s + "'.", "Use one of logit_diff (default), log_prob, kl."));
    }

    /** The metric of a run with final logits {@code logits}; {@code clean} is the clean run's (used by KL only). */
    public double of(float[] logits, float[] clean, TokenPair p) {
        return switch (this) {
            case LOGIT_DIFF -> (double) logits[p.answer()] - logits[p.contrast()];
            case LOG_PROB -> logits[p.answer()] - logSumExp(logits);
            case KL -> {
                double lc = logSumExp(clean), lp = logSumExp(logits), kl = 0;
                for (int v = 0; v < logits.length; v++) {
                    double a = clean[v] - lc;
                    kl += Math.exp(a) * (a - (logits[v] - lp));
                }
                yield kl;
            }
        };
    }

    private static double logSumExp(float[] x) {
        double max = Double.NEGATIVE_INFINITY, s = 0;
        for (float v : x) max = Math.max(max, v);
        for (float v : x) s += Math.exp(v - max);
        return max + Math.log(s);
    }
}
