package org.milab.graph;

/**
 * TransformerLens hook names: the shared vocabulary of graphs, manifests and tables.
 * Patch inputs are named after the hook they override, with a {@code .patch_mask}/{@code .patch_value} suffix.
 */
public final class HookNames {
    private HookNames() {}

    public static final String INPUT_IDS = "input_ids";
    public static final String FINAL_INDEX = "final_index";
    public static final String METRIC_TOKEN_IDS = "metric_token_ids";
    /** Final-position logits, centred over the vocabulary (TransformerLens' centred unembedding). */
    public static final String LOGITS_FINAL = "logits_final";
    /** Logits of {@link #METRIC_TOKEN_IDS}, centred like {@link #LOGITS_FINAL}. */
    public static final String METRIC_LOGITS = "metric_logits";
    /** The residual stream at each row's final position, after the last block and before ln_f. */
    public static final String RESID_FINAL = "resid_final";
    /** The same after ln_f (TransformerLens {@code ln_final.hook_normalized} in the raw frame). */
    public static final String LN_FINAL = "ln_final.hook_normalized";
    /** Input of the unembed variant: residual vectors before ln_f. */
    public static final String UNEMBED_RESID = "resid";
    public static final String UNEMBED_LOGITS = "logits";

    /** Suffix variant: absolute position of each suffix token. */
    public static final String POSITION_IDS = "position_ids";
    /** Suffix variant: 1 for a real cached prefix position, 0 for padding. */
    public static final String PAST_MASK = "past_mask";

    /** Resume variant: which cached prompt each row reads. */
    public static final String PROMPT_INDEX = "prompt_index";
    /** Resume variant: flat index (prompt * cache width + position) of each suffix position's cached residual. */
    public static final String RESID_INDEX = "resid_index";

    /**
     * Resume variant from block S < last: flat index (row * suffix width + suffix position) of each suffix
     * position patched in block S, the only positions block S recomputes ({@code hook_z} of block S is then fed
     * per cell, [cell, head(, d_head)]).
     */
    public static final String START_CELL_INDEX = "start_cell_index";

    /** Resume variant input: per-prompt cache of a layer's hook_z [prompt, position, head, d_head]. */
    public static String cacheZ(int layer) { return hookZ(layer) + ".cache"; }
    /** Resume variant input: per-prompt cache of a layer's hook_resid_pre [prompt, position, d_model]. */
    public static String cacheResidPre(int layer) { return hookResidPre(layer) + ".cache"; }
    /** Resume variant input: per-prompt cache of a layer's hook_k, laid out [prompt, head, d_head, position]. */
    public static String cacheKey(int layer) { return hookK(layer) + ".cache"; }
    /** Resume variant input: per-prompt cache of a layer's hook_v, laid out [prompt, head, position, d_head]. */
    public static String cacheValue(int layer) { return hookV(layer) + ".cache"; }

    public static String hookK(int layer) { return "blocks." + layer + ".attn.hook_k"; }
    public static String hookV(int layer) { return "blocks." + layer + ".attn.hook_v"; }
    /** Suffix variant input: the cached prefix keys of a layer, laid out like hook_k. */
    public static String pastKey(int layer) { return "blocks." + layer + ".attn.past_key"; }
    public static String pastValue(int layer) { return "blocks." + layer + ".attn.past_value"; }

    public static String hookZ(int layer) { return "blocks." + layer + ".attn.hook_z"; }
    public static String hookPattern(int layer) { return "blocks." + layer + ".attn.hook_pattern"; }
    public static String hookAttnOut(int layer) { return "blocks." + layer + ".hook_attn_out"; }
    public static String hookResidPre(int layer) { return "blocks." + layer + ".hook_resid_pre"; }
    public static String hookResidPost(int layer) { return "blocks." + layer + ".hook_resid_post"; }
    public static String hookMlpOut(int layer) { return "blocks." + layer + ".hook_mlp_out"; }

    // The hooks below are exposed (and overridable) only by the hooked variant, at every position.
    /** Token embedding W_E[ids], [batch, pos, d_model]. */
    public static final String HOOK_EMBED = "hook_embed";
    /** Position embedding W_pos[pos], broadcast to [batch, pos, d_model]. */
    public static final String HOOK_POS_EMBED = "hook_pos_embed";
    /** Hooked variant: centred logits at every position [batch, pos, d_vocab]. */
    public static final String LOGITS = "logits";
    public static String hookQ(int layer) { return "blocks." + layer + ".attn.hook_q"; }
    public static String hookResidMid(int layer) { return "blocks." + layer + ".hook_resid_mid"; }
    public static String hookMlpPre(int layer) { return "blocks." + layer + ".mlp.hook_pre"; }
    public static String hookMlpPost(int layer) { return "blocks." + layer + ".mlp.hook_post"; }
    /** Attention scores q.k / sqrt(d_head) after the causal mask (-inf above the diagonal), [batch, head, query_pos, key_pos]. */
    public static String hookAttnScores(int layer) { return "blocks." + layer + ".attn.hook_attn_scores"; }
    /** Each head's output projected by its W_O slice (no b_O), [batch, pos, head, d_model]. */
    public static String hookResult(int layer) { return "blocks." + layer + ".attn.hook_result"; }
    /** A LayerNorm's hooks: {@code ln} is {@code blocks.{l}.ln1}, {@code blocks.{l}.ln2} or {@code ln_final}. */
    public static String lnScale(String ln) { return ln + ".hook_scale"; }
    public static String lnNormalized(String ln) { return ln + ".hook_normalized"; }
    /** ln_final's scale sqrt(var + eps) per position, [batch, pos, 1]. */
    public static final String LN_FINAL_SCALE = "ln_final.hook_scale";

    /** Grad variant: L[true] - L[wrong] at each row's final position (metric_token_ids columns 0 and 1). */
    public static final String LOGIT_DIFF = "true_vs_control_logit_diff";
    /** Grad variant: per row, ids whose token embeddings are mixed in with weight {@link #MIX_WEIGHT}. */
    public static final String MIX_IDS = "embed_mix_ids";
    public static final String MIX_WEIGHT = "embed_mix_weight";
    /** Grad variant: the derivative of {@link #LOGIT_DIFF} with respect to a hook, shaped like the hook. */
    public static String grad(String hook) { return hook + ".grad"; }

    public static String patchMask(String hook) { return hook + ".patch_mask"; }
    public static String patchValue(String hook) { return hook + ".patch_value"; }
}
