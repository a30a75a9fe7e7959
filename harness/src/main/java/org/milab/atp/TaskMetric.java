package org.milab.atp;

import org.milab.util.UserError;

import java.util.Arrays;

/**
 * What a task measures at the final position, from the (centred) logits of a run: the logit difference
 * {@code L[answer] - L[contrast]} (default), the answer's log-probability, or the KL divergence from the clean
 * run's next-token distribution (0 for the clean run itself). Shared by the circuit stage (its task files' {@code metric})
 * and the Java API's faithfulness calls.
 */
public enum TaskMetric {
    LOGIT_DIFF("logit_diff"), LOG_PROB("log_prob"), KL("kl");

    private final String id;

    TaskMetric(String id) {
        this.id = id;
    }

    /** @return the name task files and tables use: logit_diff, log_prob or kl */
    public String id() {
        return id;
    }

    /**
     * @param s logit_diff, log_prob or kl
     * @return that metric
     * @throws UserError for any other name
     */
    public static TaskMetric parse(String s) {
        return Arrays.stream(values()).filter(m -> m.id.equals(s)).findFirst().orElseThrow(() -> new UserError(
                "Unknown metric '" + s + "'.", "Use one of logit_diff (default), log_prob, kl."));
    }

    /**
     * @param logits   a run's final-position logits
     * @param clean    the clean run's (used by KL only)
     * @param answer   the answer token
     * @param contrast the contrast token (used by the logit difference only)
     * @return the metric of that run
     */
    public double of(float[] logits, float[] clean, int answer, int contrast) {
        return switch (this) {
            case LOGIT_DIFF -> (double) logits[answer] - logits[contrast];
            case LOG_PROB -> logits[answer] - logSumExp(logits);
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
