package org.milab.engine;

import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.model.ModelConfig;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * How head-level (hook_z) patch rows with cached captures are recomputed: a strategy chosen per patch request
 * ({@link Engine#patch(org.milab.graph.PatchSite, java.util.List, String, java.util.Map, RecomputePath)}), never
 * engine state. Every path gives the same answers (RecomputePathsTest checks each against the plain-Java
 * reference); they differ in FLOPs and memory.
 */
public enum RecomputePath {
    /** Every row runs its whole prompt through every block (patch_z); captures are not read. */
    WHOLE,
    /** Every row runs every block from its first patched position on, over per-row cached K/V (patch_z_suffix). */
    SUFFIX,
    /**
     * Every row runs only blocks >= its first patched layer, whole, from its first patched position on, starting
     * from the cached hook_resid_pre and attending to shared per-prompt K/V caches (patch_z_resume_from_L). The
     * reference protocol's path ({@link #REFERENCE}): its recorded bytes were made with it.
     */
    RESUME,
    /**
     * Every row runs only what its patches can change (patch_z_resume_from_L, {@link ResumeRow}): in its first
     * patched block only the patched positions (from the cached hook_z; W_O and MLP), then the blocks between at
     * positions from its first patched position on, attending to shared per-prompt K/V caches, and in the last
     * block the keys and values of those positions and the final position's query, attention, W_O and MLP
     * (patch_z_minimal_from_L). Its floats differ from {@link #RESUME}'s within the engine's tolerance.
     */
    MINIMAL;

    /** What stages use unless they compare paths. */
    public static final RecomputePath DEFAULT = MINIMAL;
    /**
     * The reference protocol's path: a bit-exact replica must not change its floats, and its recorded bytes
     * (ReferenceRunBytesTest) were made with this path.
     */
    public static final RecomputePath REFERENCE = RESUME;

    /** Whether rows of this path read cached activations at all. */
    public boolean readsCaches() {
        return this != WHOLE;
    }

    /** Whether rows run one graph per start layer over shared per-prompt caches. */
    public boolean resumes() {
        return this == RESUME || this == MINIMAL;
    }

    /** The per-start-layer graph of a resuming path. */
    public GraphVariant resumeVariant() {
        if (!resumes()) throw new IllegalStateException(this + " runs no per-start-layer graph");
        return this == MINIMAL ? GraphVariant.PATCH_Z_MINIMAL : GraphVariant.PATCH_Z_RESUME;
    }

    /** Where a row starts on a resuming path: {@link #MINIMAL} drops the patches the metric cannot see. */
    public ResumeRow resumeRow(PatchRow row, int nLayer) {
        return this == MINIMAL ? ResumeRow.of(row, nLayer) : ResumeRow.allPatches(row, nLayer);
    }

    /**
     * The hooks a prompt's capture must hold for this path when its rows patch no block before
     * {@code firstPatchedLayer} ({@code config.nLayer()} for a prompt with unpatched rows only): the minimal
     * path reads only the caches of blocks its rows start at or pass (hook_resid_pre, hook_k, hook_v, and hook_z
     * of the blocks a row can start at before the last); the suffix path reads every block's keys and values;
     * the whole path reads none.
     */
    public Set<String> cacheHooks(ModelConfig config, int firstPatchedLayer) {
        Set<String> h = new LinkedHashSet<>();
        if (this == WHOLE) return h;
        int from = resumes() ? Math.min(firstPatchedLayer, config.nLayer() - 1) : 0;
        for (int l = from; l < config.nLayer(); l++) {
            h.add(HookNames.hookK(l));
            h.add(HookNames.hookV(l));
            if (resumes()) h.add(HookNames.hookResidPre(l));
            if (this == MINIMAL && l < config.nLayer() - 1) h.add(HookNames.hookZ(l));
        }
        return h;
    }
}
