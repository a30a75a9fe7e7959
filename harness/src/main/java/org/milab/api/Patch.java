package org.milab.api;

import java.util.Arrays;
import java.util.Objects;

/**
 * One override of a hook, as data: which hook (a TransformerLens name such as {@code blocks.1.attn.hook_z}),
 * its layer (-1 for hook_embed, hook_pos_embed, ln_final.hook_scale and ln_final.hook_normalized), which head (-1 =
 * every head, or a hook without heads), which positions (null = every position of the run; the query positions for
 * hook_attn_scores and hook_pattern), and the value written there (finite; -inf is allowed for hook_attn_scores, whose
 * masked keys are -inf).
 *
 * @param hook      the TransformerLens hook name
 * @param layer     the block the hook belongs to (must agree with the name), or -1
 * @param head      the head, or -1 for all heads / a hook without heads
 * @param positions the positions, or null for all
 * @param value     what is written
 */
public record Patch(String hook, int layer, int head, int[] positions, PatchValue value) {
    /**
     * Checks the layer agrees with the name and the head is -1 or more.
     *
     * @param hook      the TransformerLens hook name
     * @param layer     the block of the hook, or -1
     * @param head      the head, or -1
     * @param positions the positions, or null for all
     * @param value     what is written
     */
    public Patch {
        Objects.requireNonNull(hook, "hook");
        Objects.requireNonNull(value, "value");
        if (layer != HookLayout.layerOf(hook))
            throw new IllegalArgumentException("patch of " + hook + " says layer " + layer + "; the name says " + HookLayout.layerOf(hook));
        if (head < -1) throw new IllegalArgumentException("head must be >= 0, or -1 for all heads; got " + head);
        positions = positions == null ? null : positions.clone();
    }

    /**
     * @param hook      the TransformerLens hook name; the layer is read from it
     * @param head      the head, or -1 for all heads / a hook without heads
     * @param positions the positions, or null for all
     * @param value     what is written
     * @return the patch
     */
    public static Patch of(String hook, int head, int[] positions, PatchValue value) {
        return new Patch(hook, HookLayout.layerOf(hook), head, positions, value);
    }

    /**
     * @param hook  the TransformerLens hook name
     * @param value what is written at every position (and head)
     * @return the patch
     */
    public static Patch all(String hook, PatchValue value) {
        return of(hook, -1, null, value);
    }

    /**
     * @param layer    the block
     * @param head     the head
     * @param position the position, or -1 for all
     * @param value    what is written into {@code blocks.{layer}.attn.hook_z}
     * @return a head-output (hook_z) patch
     */
    public static Patch head(int layer, int head, int position, PatchValue value) {
        return of("blocks." + layer + ".attn.hook_z", head, position < 0 ? null : new int[]{position}, value);
    }

    /** @return a copy of the positions, or null for all */
    @Override
    public int[] positions() {
        return positions == null ? null : positions.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Patch p && hook.equals(p.hook) && layer == p.layer && head == p.head
                && Arrays.equals(positions, p.positions) && value.equals(p.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(hook, layer, head, Arrays.hashCode(positions), value);
    }

    @Override
    public String toString() {
        return "Patch[" + hook + (head >= 0 ? " head " + head : "") + " positions "
                + (positions == null ? "all" : Arrays.toString(positions)) + " <- " + value.getClass().getSimpleName() + "]";
    }
}
