package org.milab.api;

import java.util.List;

/**
 * What one {@link HookedModel#runWithPatches(List, String...)} call returns: per run the logits at every
 * position, and the activations of the hooks it was asked to cache (after the patches).
 */
public final class PatchResults {
    private final List<Tensor> logits;
    private final ActivationCache cache;

    PatchResults(List<Tensor> logits, ActivationCache cache) {
        this.logits = List.copyOf(logits);
        this.cache = cache;
    }

    /** @return the number of runs */
    public int size() {
        return logits.size();
    }

    /**
     * @param run a run of the call
     * @return its logits [pos, d_vocab], centred over the vocabulary (TransformerLens' center_unembed frame)
     */
    public Tensor logits(int run) {
        return logits.get(run);
    }

    /**
     * @param run a run of the call
     * @return its logits at the last position
     */
    public float[] lastLogits(int run) {
        Tensor t = logits.get(run);
        return t.row(t.shape()[0] - 1);
    }

    /**
     * @param run    a run of the call
     * @param token  a token id
     * @param versus another token id
     * @return logit(token) - logit(versus) at the run's last position
     */
    public double logitDiff(int run, int token, int versus) {
        float[] l = lastLogits(run);
        return (double) l[token] - l[versus];
    }

    /**
     * @return the cached activations of every run (a cache with one prompt per run)
     * @throws IllegalStateException when the call named no hooks to cache
     */
    public ActivationCache cache() {
        if (cache == null)
            throw new IllegalStateException("This call cached nothing: name hooks in runWithPatches(runs, names...).");
        return cache;
    }
}
