package org.milab.graph;

import java.util.Arrays;
import java.util.Optional;

/**
 * The exported graphs. ONNX Runtime executes every node of a graph whatever outputs are fetched, so each
 * variant carries only the computation its users need: patch variants end in the metric logits (a few dot
 * products) rather than a vocabulary-wide unembedding; full logits come from {@link #UNEMBED} on demand.
 */
public enum GraphVariant {
    /** input_ids -> final-position logits plus every hook the lab reads. */
    CAPTURE("capture", null),
    /** Per-row overrides of {@code hook_z} at any (layer, position, head); metric logits out. */
    PATCH_Z("patch_z", PatchSite.HOOK_Z),
    /**
     * {@link #PATCH_Z} that recomputes only each row's suffix: positions before the first patched position
     * are unchanged at every layer, so they enter as the corrupt run's cached keys and values
     * ({@code hook_k}/{@code hook_v}) and only the suffix tokens run through the blocks.
     */
    PATCH_Z_SUFFIX("patch_z_suffix", PatchSite.HOOK_Z),
    /**
     * Per-row overrides of {@code hook_k} at any (layer, position, head); metric logits out. Path patching
     * into one head's keys only (K-composition tests) feeds the keys that head would have computed.
     */
    PATCH_K("patch_k", PatchSite.HOOK_K),
    /**
     * {@link #PATCH_Z} recomputing the least that a patch can change: one graph per start layer S
     * ({@code patch_z_resume_from_S.onnx}) runs only blocks >= S, and each row only from its first patched
     * position on, reading the unpatched run's hook_resid_pre of block S and hook_k/hook_v from per-prompt
     * caches that all rows of a prompt share.
     */
    PATCH_Z_RESUME("patch_z_resume", PatchSite.HOOK_Z),
    /**
     * {@link #PATCH_Z_RESUME} without the work its patches cannot change (one graph per start layer S,
     * {@code patch_z_minimal_from_S.onnx}): block S runs only the patched positions, from the unpatched run's
     * cached hook_z (W_O and MLP), and the last block computes keys and values of the suffix and the query,
     * attention, W_O and MLP of each row's final position only. See {@link Gpt2GraphBuilder#buildMinimal}.
     */
    PATCH_Z_MINIMAL("patch_z_minimal", PatchSite.HOOK_Z),
    /** Per-row overrides of {@code hook_attn_out} (whole layer, not head-specific). */
    PATCH_ATTN_OUT("patch_attn_out", PatchSite.ATTN_OUT),
    /** Per-row overrides of {@code hook_resid_post}. */
    PATCH_RESID_POST("patch_resid_post", PatchSite.RESID_POST),
    /** ln_f + unembedding of given residual vectors (logit lens, full logits of patched runs). */
    UNEMBED("unembed", null),
    /**
     * The metric true_vs_control_logit_diff and its gradient with respect to every hook_resid_pre, hook_z,
     * hook_attn_out and hook_mlp_out (reverse mode written as ordinary ONNX ops; attribution patching).
     */
    GRAD("grad", null),
    /**
     * The residual stream as a sum of node outputs, every node-to-node edge a mask input: 1 carries this run's
     * upstream output, 0 the corrupt run's (exact edge patching, many circuits per call; {@link EdgeNames}).
     */
    EDGE_MASK("edge_mask", null),
    /** {@link #EDGE_MASK} plus the reverse pass: per-edge EAP scores (clean - corrupt) . d metric / d input. */
    EDGE_GRAD("edge_grad", null),
    /**
     * Every TransformerLens hook ({@link HookedGraphBuilder#HOOK_KINDS}) at every position is an output AND a
     * per-(row, position[, head]) override input; logits at every position. The general-purpose graph of the
     * Java API (org.milab.api): slower than the fixed-site variants, which the protocols keep using.
     */
    HOOKED("hooked", null);

    private final String fileStem;
    private final PatchSite site;

    GraphVariant(String fileStem, PatchSite site) {
        this.fileStem = fileStem;
        this.site = site;
    }

    public String id() {
        return fileStem;
    }

    public String fileName() {
        return fileStem + ".onnx";
    }

    public boolean suffixOnly() {
        return this == PATCH_Z_SUFFIX;
    }

    /** True for variants exported as one graph per start layer ({@link #fileName(int)}). */
    public boolean perStartLayer() {
        return this == PATCH_Z_RESUME || this == PATCH_Z_MINIMAL;
    }

    /** The graph file of a per-start-layer variant. */
    public String fileName(int startLayer) {
        if (!perStartLayer()) throw new IllegalArgumentException(fileStem + " has one graph for all layers");
        return fileStem + "_from_" + startLayer + ".onnx";
    }

    public Optional<PatchSite> patchSite() {
        return Optional.ofNullable(site);
    }

    public static GraphVariant byId(String id) {
        return Arrays.stream(values()).filter(v -> v.fileStem.equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("Unknown graph variant '" + id + "'; known: "
                        + Arrays.toString(Arrays.stream(values()).map(GraphVariant::id).toArray())));
    }
}
