package org.milab.graph;

/**
 * A hook that a graph variant lets the caller overwrite, per batch row, per position (and per head for
 * {@code hook_z}): {@code h' = h * (1 - mask) + mask * value}. A mask of exactly 0 or 1 reproduces
 * {@code h} or {@code value} bit for bit, so clean rows stay clean.
 */
public enum PatchSite {
    HOOK_Z("single_head_z", true),
    /** Per-head attention keys ({@code hook_k}, raw frame with b_K): what path patching into keys overrides. */
    HOOK_K("single_head_k", true),
    ATTN_OUT("full_attn_out_layer", false),
    RESID_POST("full_resid_post_layer", false);

    private final String scope;
    private final boolean headSpecific;

    PatchSite(String scope, boolean headSpecific) {
        this.scope = scope;
        this.headSpecific = headSpecific;
    }

    /** The reference's {@code actual_patch_scope} value. */
    public String actualPatchScope() {
        return scope;
    }

    public boolean headSpecific() {
        return headSpecific;
    }

    public String hook(int layer) {
        return switch (this) {
            case HOOK_Z -> HookNames.hookZ(layer);
            case HOOK_K -> HookNames.hookK(layer);
            case ATTN_OUT -> HookNames.hookAttnOut(layer);
            case RESID_POST -> HookNames.hookResidPost(layer);
        };
    }
}
