package org.milab.engine;

import org.milab.graph.PatchSite;
import org.milab.model.ModelConfig;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What stages hand their forward passes to: clean captures and batched patched passes. {@link InterventionEngine}
 * runs them in this JVM; another implementation (the spark module's) may run the patch rows elsewhere, but
 * must return each row's metric logits in row order as the local engine does.
 */
public interface Engine {
    ModelConfig config();

    /** Clean forward passes of each distinct prompt, once, keeping only {@code hooks}. */
    Map<TokenIds, Capture> capture(Collection<TokenIds> prompts, Set<String> hooks, String label);

    /** Runs every row with its overrides at {@code site}; returns each row's metric logits, in row order. */
    default float[][] patch(PatchSite site, List<PatchRow> rows, String label) {
        return patch(site, rows, label, null);
    }

    /**
     * As {@link #patch(PatchSite, List, String)}; {@code kv} holds each row's prompt captured with
     * {@link #suffixHooks()}, which lets hook_z rows recompute only their suffix ({@link RecomputePath#DEFAULT}).
     */
    default float[][] patch(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv) {
        return patch(site, rows, label, kv, RecomputePath.DEFAULT);
    }

    /**
     * As {@link #patch(PatchSite, List, String, Map)} with the recompute strategy of this request: {@code kv}
     * must hold each row's prompt captured with {@code path.cacheHooks(...)} (rows of captures without the
     * minimal path's hook_resid_pre take the suffix path). Every path returns the same logits.
     */
    float[][] patch(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv, RecomputePath path);

    /** The hooks a capture must hold for the default cached path of {@link #patch(PatchSite, List, String, Map)}. */
    default Set<String> suffixHooks() {
        return suffixHooks(0);
    }

    /**
     * The hooks a prompt's capture must hold for the default path when its rows patch no block before
     * {@code firstPatchedLayer} ({@code config().nLayer()}: unpatched rows only).
     */
    default Set<String> suffixHooks(int firstPatchedLayer) {
        return RecomputePath.DEFAULT.cacheHooks(config(), firstPatchedLayer);
    }

    /** Counters for run manifests and benchmarks: ORT calls, rows and padded tokens processed. */
    Map<String, Long> counters();

    /** What the run manifest records about the engine (its name, and for a cluster its master and partitions). */
    default Map<String, Object> describe() {
        return Map.of("engine", "local");
    }
}
