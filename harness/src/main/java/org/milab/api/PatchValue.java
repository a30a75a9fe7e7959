package org.milab.api;

/**
 * What a {@link Patch} writes into its hook, per position (and head): zero, another run's activation, the mean
 * of a cache, or the result of a function of the activation the run computed.
 */
public sealed interface PatchValue {
    /** Zero ablation in the graph's raw frame (for hook_z that is not TransformerLens' zero: see docs/api.md). */
    record Zero() implements PatchValue {}

    /**
     * The activation another run cached at the same hook, position and head (activation patching).
     *
     * @param cache a cache holding the patched hook
     * @param row   which of the cache's prompts to read
     */
    record FromCache(ActivationCache cache, int row) implements PatchValue {}

    /**
     * The mean over a cache's prompts at the same hook, position and head (mean ablation); prompts shorter
     * than the position do not count.
     *
     * @param cache a cache holding the patched hook
     */
    record MeanOf(ActivationCache cache) implements PatchValue {}

    /**
     * A user function of the activation: it sees the value this run computed (after every earlier patch)
     * and returns the replacement, e.g. {@code (run, pos, head, a) -> scaled(a, 2f)}.
     *
     * @param function the replacement rule
     */
    record Function(HookFunction function) implements PatchValue {}

    /** A fixed vector (the length of the hook's last axis) at every patched position and head. */
    record Constant(float[] values) implements PatchValue {}

    /** @return zero ablation */
    static PatchValue zero() {
        return new Zero();
    }

    /**
     * @param cache a cache holding the hook
     * @param row   the cache's prompt to read
     * @return activation patching from that prompt
     */
    static PatchValue from(ActivationCache cache, int row) {
        return new FromCache(cache, row);
    }

    /**
     * @param cache a cache holding the hook
     * @return mean ablation over the cache's prompts
     */
    static PatchValue mean(ActivationCache cache) {
        return new MeanOf(cache);
    }

    /**
     * @param function the replacement rule
     * @return a function patch
     */
    static PatchValue of(HookFunction function) {
        return new Function(function);
    }

    /** The replacement rule of a {@link Function} patch. */
    @FunctionalInterface
    interface HookFunction {
        /**
         * @param run        the index of the run in the call
         * @param position   the position (the query position for hook_pattern)
         * @param head       the head, or -1 for a hook without heads
         * @param activation the values along the hook's last axis (a copy the function may change)
         * @return the replacement, of the same length
         */
        float[] apply(int run, int position, int head, float[] activation);
    }
}
