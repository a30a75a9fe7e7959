package org.milab.stats;

/**
 * Expected-token statistics on one row of centred logits, as the reference computes them (section 1.5):
 * float32 logits cast to double, max-shifted softmax, rank = 1 + #{v : L[v] > L[t]} (ties favour t).
 */
public final class Scores {
    private Scores() {}

    public static double logit(float[] logits, int t) {
        return logits[t];
    }

    public static double probability(float[] logits, int t) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : logits) sum += Math.exp((double) l - max);
        return Math.exp((double) logits[t] - max) / sum;
    }

    public static int rank(float[] logits, int t) {
        int above = 0;
        for (float l : logits) if (l > logits[t]) above++;
        return 1 + above;
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
