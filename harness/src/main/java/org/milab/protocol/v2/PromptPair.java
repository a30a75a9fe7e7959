package org.milab.protocol.v2;

import java.util.ArrayList;
import java.util.List;

/**
 * One clean/corrupt pair with its control and its resample donor (token ids, BOS at position 0).
 *
 * <ul>
 *   <li>clean = BOS + r + r[0:k], r = n distinct pool tokens; the final token r[k-1] occurred once before,
 *       followed by the answer r[k];</li>
 *   <li>corrupt = BOS + r' + r[0:k], r' a derangement of r in which no bigram of r survives: same length,
 *       same positions, same token counts, but the earlier occurrence of the final token is now followed
 *       by {@code wrong} (what induction predicts there);</li>
 *   <li>control = the corrupt prompt scored for the clean answer against {@code controlAlt}: both occur once
 *       there (as the answer does in the clean prompt) and neither follows an earlier occurrence of the final
 *       token, so induction cannot produce either;</li>
 *   <li>donor = BOS + r2 + r2[0:k] with r2 drawn independently: same length, for resample ablation.</li>
 * </ul>
 * Metric: LD = L[answer] - L[wrong] at the final position (control: L[answer] - L[controlAlt]).
 */
public record PromptPair(String id, String family, int seed, int index, int n, int k, int[] clean, int[] corrupt,
                         int[] donor, int answer, int wrong, int controlAlt) {
    public PromptPair {
        clean = clean.clone();
        corrupt = corrupt.clone();
        donor = donor.clone();
    }

    @Override
    public int[] clean() {
        return clean.clone();
    }

    @Override
    public int[] corrupt() {
        return corrupt.clone();
    }

    @Override
    public int[] donor() {
        return donor.clone();
    }

    /** The control prompt: the corrupt prompt (scored for answer vs controlAlt). */
    public int[] control() {
        return corrupt();
    }

    public int length() {
        return clean.length;
    }

    public int finalPosition() {
        return clean.length - 1;
    }

    /** The tokens that follow an earlier occurrence of the final token: what induction can predict there. */
    public static List<Integer> licensed(int[] prompt) {
        int last = prompt[prompt.length - 1];
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < prompt.length - 1; i++) if (prompt[i] == last) out.add(prompt[i + 1]);
        return out;
    }

    /** How often {@code token} occurs in {@code prompt}. */
    public static int count(int[] prompt, int token) {
        int c = 0;
        for (int t : prompt) if (t == token) c++;
        return c;
    }
}
