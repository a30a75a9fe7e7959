package org.milab.attribution;

import org.milab.util.UserError;

import org.milab.tables.RecordSchema;

import java.util.Map;

/**
 * What {@code make attribute} runs.
 *
 * @param pairs          prompt pairs scored by AtP
 * @param length         tokens in the repeated sequence (prompts are 2 x length + 1 tokens)
 * @param seed           seed of the prompt generator
 * @param verifyPairs    pairs (the first ones) also patched exactly for verification; 0 = no verification
 * @param topK           k of the reported top-k recall (also 2 and 5 are always reported where they fit)
 * @param resamples      bootstrap resamples for every interval
 * @param bootstrapSeed  seed of the bootstrap
 * @param batchRows      rows per gradient-graph call
 * @param igSteps        integrated-gradient steps of the AtP-IG estimate (0 = plain AtP only)
 * @param atpStar        whether AtP*'s QK fix is computed (Java arithmetic per pair, no extra pass; its cost grows
 *                       with layers x heads x positions^2 x d_model, minutes at GPT-2 small's shape)
 */
public record AttributionConfig(int pairs, int length, long seed, int verifyPairs, int topK, int resamples,
                                long bootstrapSeed, int batchRows, int igSteps, boolean atpStar) {
    public AttributionConfig {
        if (verifyPairs < 0 || verifyPairs > pairs)
            throw new UserError("--verify-pairs must be between 0 and --pairs (" + pairs + "), got " + verifyPairs + ".",
                    "Pass a --verify-pairs no larger than --pairs.");
        if (topK < 1) throw new UserError("--top-k must be >= 1.", "Pass a positive --top-k.");
        if (resamples < 1) throw new UserError("--resamples must be >= 1.", "Pass a positive --resamples.");
        if (igSteps < 0) throw new UserError("--ig-steps must be >= 0.", "Pass 0 (plain AtP only) or a positive count.");
        if (batchRows < 1) throw new UserError("--batch-rows must be >= 1.", "Pass a positive --batch-rows.");
    }

    public static AttributionConfig defaults() {
        return new AttributionConfig(32, 10, 0, 8, 10, 2000, 0, 32, 10, true);
    }

    /** attribution_config.json: what the run used, with the prompt recipe spelled out. */
    record Written(String prompts, int pairs, int length, long promptSeed, int verifyPairs, int topK, int bootstrapResamples,
                   long bootstrapSeed, int batchRows, int igSteps, boolean atpStar) {}

    public Map<String, Object> toMap() {
        return RecordSchema.treeMap(new Written("repeated random tokens: clean BOS + r + r, corrupt BOS + s + r, metric L[r0] - L[s0]",
                pairs, length, seed, verifyPairs, topK, resamples, bootstrapSeed, batchRows, igSteps, atpStar));
    }
}
