package org.milab.api;

import java.util.List;

/**
 * What {@link HookedModel#attribute(AttributionTask)} (per node) and {@link HookedModel#attributeEdges(AttributionTask)}
 * (per edge) score: clean/corrupt prompt pairs of equal length and the
 * metric {@code logit(answer) - logit(wrong)} at the last position, optionally with integrated gradients.
 *
 * @param pairs   the prompt pairs
 * @param igSteps integrated-gradient steps (0 = plain AtP; AtP-IG averages the gradient over this many
 *                points between the corrupt and the clean token embeddings)
 * @param atpStar whether {@link HookedModel#attribute(AttributionTask)} computes AtP* (the QK fix: Java arithmetic
 *                that costs seconds per pair at GPT-2 small's shape; off leaves AtP and AtP-IG unchanged and AtP* NaN,
 *                as {@code make attribute ARGS='--atp-star off'} does); edge attribution ignores it
 */
public record AttributionTask(List<Pair> pairs, int igSteps, boolean atpStar) {
    /**
     * Checks there is a pair and the steps are not negative.
     *
     * @param pairs   the prompt pairs
     * @param igSteps integrated-gradient steps (0 = plain AtP)
     * @param atpStar whether to compute AtP*
     */
    public AttributionTask {
        pairs = List.copyOf(pairs);
        if (pairs.isEmpty()) throw new IllegalArgumentException("an attribution task needs at least one prompt pair");
        if (igSteps < 0) throw new IllegalArgumentException("igSteps must be >= 0, got " + igSteps);
    }

    /**
     * A task with AtP* on.
     *
     * @param pairs   the prompt pairs
     * @param igSteps integrated-gradient steps (0 = plain AtP)
     */
    public AttributionTask(List<Pair> pairs, int igSteps) {
        this(pairs, igSteps, true);
    }

    /**
     * @param on whether to compute AtP*
     * @return this task with AtP* on or off
     */
    public AttributionTask withAtpStar(boolean on) {
        return new AttributionTask(pairs, igSteps, on);
    }

    /**
     * One clean/corrupt pair; positions align, so both prompts have the same number of tokens.
     *
     * @param clean   the clean prompt's tokens (BOS first)
     * @param corrupt the corrupt prompt's tokens, as many
     * @param answer  the token the metric rewards
     * @param wrong   the token it subtracts
     */
    public record Pair(int[] clean, int[] corrupt, int answer, int wrong) {
        /**
         * Checks the two prompts align.
         *
         * @param clean   the clean prompt's tokens
         * @param corrupt the corrupt prompt's tokens
         * @param answer  the rewarded token
         * @param wrong   the subtracted token
         */
        public Pair {
            if (clean.length != corrupt.length)
                throw new IllegalArgumentException("clean has " + clean.length + " tokens but corrupt has " + corrupt.length
                        + "; attribution compares activations position by position, so they must align");
            clean = clean.clone();
            corrupt = corrupt.clone();
        }
    }
}
