package org.milab.attribution;

import org.milab.atp.PromptPair;
import org.milab.engine.TokenIds;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Repeated random-token prompt pairs, the usual induction probe, for any vocabulary: clean
 * {@code BOS + r + r}, corrupt {@code BOS + s + r} with the same length, where {@code r} and {@code s} are
 * {@code n} distinct random tokens each and share none. At the final position (the second copy's last
 * token) an induction circuit predicts {@code r[0]}, the token that followed the earlier occurrence of
 * {@code r[n-1]}; the corrupt prompt has no earlier occurrence. Metric: {@code L[r[0]] - L[s[0]]}.
 */
public final class RepeatedTokenPairs {
    private RepeatedTokenPairs() {}

    /**
     * @param excluded token ids never drawn (BOS and other special tokens)
     */
    public static List<PromptPair> generate(int pairs, int n, long seed, int vocabSize, int bos, Set<Integer> excluded,
                                            int maxPositions) {
        if (pairs < 1) throw new UserError("The number of prompt pairs must be >= 1 (got " + pairs + ").", "Pass --pairs 1 or more.");
        if (n < 2) throw new UserError("The repeated sequence must have >= 2 tokens (got " + n + ").", "Pass --length 2 or more.");
        if (2 * n + 1 > maxPositions)
            throw new UserError("Prompts of 2 x " + n + " + 1 tokens exceed the model's " + maxPositions + " positions.",
                    "Pass a --length of at most " + (maxPositions - 1) / 2 + ".");
        Set<Integer> banned = new LinkedHashSet<>(excluded);
        banned.add(bos);
        if (vocabSize - banned.size() < 2 * n)
            throw new UserError("The vocabulary has fewer than 2 x " + n + " ordinary tokens.", "Pass a smaller --length.");
        SplittableRandom rng = new SplittableRandom(seed);
        List<PromptPair> out = new ArrayList<>(pairs);
        for (int p = 0; p < pairs; p++) {
            Set<Integer> drawn = new LinkedHashSet<>();
            while (drawn.size() < 2 * n) {
                int t = rng.nextInt(vocabSize);
                if (!banned.contains(t)) drawn.add(t);
            }
            int[] tokens = drawn.stream().mapToInt(Integer::intValue).toArray();
            int[] clean = new int[2 * n + 1], corrupt = new int[2 * n + 1];
            clean[0] = corrupt[0] = bos;
            for (int i = 0; i < n; i++) {
                clean[1 + i] = clean[1 + n + i] = corrupt[1 + n + i] = tokens[i];
                corrupt[1 + i] = tokens[n + i];
            }
            out.add(new PromptPair(p, new TokenIds(clean), new TokenIds(corrupt), tokens[0], tokens[n]));
        }
        return out;
    }
}
