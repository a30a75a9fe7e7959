package org.milab.atp;

import org.milab.engine.TokenIds;

/**
 * A clean/corrupt prompt pair of equal length (positions align, so an activation difference at a position
 * is defined), scored by {@code L[trueToken] - L[wrongToken]} at the final position.
 */
public record PromptPair(int index, TokenIds clean, TokenIds corrupt, int trueToken, int wrongToken) {
    public PromptPair {
        if (clean.length() != corrupt.length())
            throw new IllegalArgumentException("pair " + index + ": clean has " + clean.length()
                    + " tokens but corrupt has " + corrupt.length() + "; attribution needs aligned positions");
    }

    public int length() {
        return clean.length();
    }

    public int[] metricTokens() {
        return new int[]{trueToken, wrongToken};
    }
}
