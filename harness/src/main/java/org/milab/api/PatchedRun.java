package org.milab.api;

import java.util.List;

/**
 * One row of a batched {@link HookedModel#runWithPatches(List, String...)} call: a prompt and the patches
 * applied to it (none = the clean run).
 *
 * @param tokens  the prompt's token ids (BOS first, as {@link HookedModel#toTokens(String)} gives)
 * @param patches the overrides of this run
 */
public record PatchedRun(int[] tokens, List<Patch> patches) {
    /**
     * Copies the tokens and patches.
     *
     * @param tokens  the prompt's token ids
     * @param patches the overrides of this run
     */
    public PatchedRun {
        if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("a run needs at least one token");
        tokens = tokens.clone();
        patches = List.copyOf(patches);
    }

    /**
     * @param tokens  the prompt's token ids
     * @param patches the overrides
     * @return the run
     */
    public static PatchedRun of(int[] tokens, Patch... patches) {
        return new PatchedRun(tokens, List.of(patches));
    }

    /** @return a copy of the token ids */
    @Override
    public int[] tokens() {
        return tokens.clone();
    }
}
